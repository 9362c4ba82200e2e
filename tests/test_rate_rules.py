"""The rate rules as golden numbers, without files (health50 F9): how a stream's frames come (frame_timing.classify:
at one rate, with frames missing, or varying, and the grid an AVI keeps their times on), and the rate a stream was
made at (streams.nominal_rate)."""

from fractions import Fraction
from itertools import accumulate

import pytest

from deblur_cli.video_io.frame_timing import Holes, Steps, classify
from deblur_cli.video_io.streams import nominal_rate

MS = Fraction(1, 1000)
NTSC = [round(i * 1001 / 30) for i in range(300)]  # 29.97 fps on a millisecond clock: 33 and 34 ms

# times (in ticks), tick -> frames missing (Holes), varying (shortest and longest interval, s), grid (fps)
CLASSIFIED = {
    "steady": ([40 * i for i in range(50)], MS, None, None, None),
    "steady-rounded": (NTSC[:60], MS, None, None, None),
    # health50 F1: a steady rate with frames missing is not a varying one, and its grid is its own rate
    "holes": ([*range(0, 800, 40), *range(920, 1720, 40)], MS, Holes(3, 1, Fraction(4, 5)), None, Fraction(25)),
    "holes-rounded": (
        [t for i, t in enumerate(NTSC) if i not in (20, 21, 200)],
        MS,
        Holes(3, 2, Fraction(32701, 49000)),
        None,
        Fraction(30000, 1001),
    ),
    # a phone's 30 fps that drops to 15 in low light, on MP4's 1/90000 clock
    "phone": (
        [3000 * i for i in range(90)] + [270000 + 6000 * i for i in range(45)],
        Fraction(1, 90000),
        None,
        (1 / 30, 1 / 15),
        Fraction(30),
    ),
    # a screen recording's frames held now and then: too many to be frames lost
    "held": ([40 * i for i in range(60) if i % 5], MS, None, (0.04, 0.08), Fraction(25)),
    "no-grid": ([0, *accumulate([33, 50, 41] * 10)], MS, None, (0.033, 0.05), None),  # 50 ms is 1.5 of 33
    "grid-too-fine": ([0, *accumulate([5, 5, 10] * 20)], MS, None, (0.005, 0.01), None),  # 200 fps: above 120
    "one-frame": ([0], MS, None, None, None),
}  # fmt: skip


@pytest.mark.parametrize("times, tick, holes, varying, grid", CLASSIFIED.values(), ids=CLASSIFIED.keys())
def test_a_streams_timing_is_told_once_as_one_of_steady_with_holes_or_varying(times, tick, holes, varying, grid):
    steps = Steps(tick)
    for time in times:
        steps.add(time * tick)
    timing = classify(steps, all_read=True)
    told = (timing.varying.shortest, timing.varying.longest) if timing.varying else None
    assert (timing.holes, told, timing.grid) == (holes, pytest.approx(varying) if varying else None, grid)
    assert timing.holes is None or timing.varying is None


RATES = {
    # FFmpeg's average of a 23.976 MP4 on a 1/90000 clock: 24000/1001 less 0.0011 %
    "ntsc-film": (Fraction(2160000, 90091), None, Fraction(0), Fraction(24000, 1001)),
    # 29.97 fps on an iPhone's 1/600 clock over 30 frames: 601 ticks against 600.6, the tick shared out (slack)
    "short-clip": (Fraction(18000, 601), None, Fraction(1, 600) / 30, Fraction(30000, 1001)),
    "long-clip": (Fraction(18000, 601), None, Fraction(0), Fraction(18000, 601)),  # no tick to share: the average
    "own-base": (Fraction(119995, 10000), Fraction(12), Fraction(0), Fraction(12)),  # within 1/10000 of its base
    "no-standard": (Fraction(119995, 10000), None, Fraction(0), Fraction(119995, 10000)),
    "phone-average": (Fraction(4500, 167), None, Fraction(0), Fraction(4500, 167)),  # a variable rate's average
    "held-last-frame": (Fraction(43, 2), None, Fraction(0), Fraction(43, 2)),  # 150 frames at 30 fps and 2 s held
}


@pytest.mark.parametrize("average, base, slack, rate", RATES.values(), ids=RATES.keys())
def test_a_streams_rate_is_the_one_it_was_made_at_where_its_average_is_that_but_for_rounding(
    average, base, slack, rate
):
    assert nominal_rate(average, base, slack) == rate
