import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deblur_cli.errors import ModelError, UsageError
from deblur_cli.run_options import window_options
from deblur_cli.windows import (
    LAST_WINDOWS,
    WindowOptions,
    blend_weights,
    plan_windows,
    ramp,
    restartable_at,
    stitch_windows,
)

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@st.composite
def plans(draw, max_frames=40, max_window=10):
    window = draw(st.integers(1, max_window))
    overlap = draw(st.integers(0, window - 1))
    return draw(st.integers(0, max_frames)), window, overlap


@st.composite
def batched_plans(draw, max_frames=40, max_window=10):
    return (*draw(plans(max_frames, max_window)), draw(st.integers(1, 4)))


def numbered(n, size=(2, 3)):
    """n frames (3, H, W) whose every value is the frame's index, so a restorer can tell which it got."""
    return [torch.full((3, *size), float(i)) for i in range(n)]


class Recorder:
    """A frame source that counts how far it has been pulled."""

    def __init__(self, frames):
        self.frames, self.pulled = frames, 0

    def __iter__(self):
        for frame in self.frames:
            self.pulled += 1
            yield frame


def test_plan_windows_golden():
    assert plan_windows(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    # One frame over: the last full window and the rest split into two windows of 3.
    assert plan_windows(11, 4, 1) == [(0, 4), (3, 7), (6, 9), (8, 11)]
    assert plan_windows(12, 4, 0) == [(0, 4), (4, 8), (8, 12)]
    assert plan_windows(20, 10, 2) == [(0, 10), (8, 15), (13, 20)]  # 24 frames restored, not 30
    assert plan_windows(12, 10, 2) == [(0, 7), (5, 12)]
    assert plan_windows(21, 8, 2) == [(0, 8), (6, 14), (12, 17), (15, 21)]
    assert plan_windows(3, 4, 1) == [(0, 3)]
    assert plan_windows(4, 4, 3) == [(0, 4)]
    assert plan_windows(0, 4, 1) == []


@SETTINGS
@given(plans())
def test_plan_windows_cover_with_fewest_frames(plan):
    n, window, overlap = plan
    spans = plan_windows(n, window, overlap)
    covered = sorted({f for start, stop in spans for f in range(start, stop)})
    assert covered == list(range(n))
    if n <= window:
        assert spans == ([(0, n)] if n else [])
        return
    # Windows overlap by exactly `overlap`, so no frame is restored more often than that asks, and
    # there are as few as windows of at most `window` frames allow: (n - overlap) / stride, rounded up.
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert a0 < b0 and a1 - b0 == overlap
    assert len(spans) == -(-(n - overlap) // (window - overlap))
    lengths = [stop - start for start, stop in spans]
    # Full windows, except the last two, which split the rest about evenly.
    assert all(length == window for length in lengths[:-2])
    assert all((window + overlap) // 2 <= length <= window for length in lengths[-2:])
    assert 0 <= lengths[-1] - lengths[-2] <= 1 or lengths[-2] == window


@SETTINGS
@given(batched_plans())
def test_identity_round_trip_streams_every_frame_once(plan):
    n, window, overlap, batch = plan
    frames = [torch.rand(3, 2, 3, generator=torch.Generator().manual_seed(i)) for i in range(n)]
    source = Recorder(frames)
    out = []
    for frame in stitch_windows(source, lambda x, _: x, window=window, overlap=overlap, batch=batch):
        out.append(frame)
        # Bounded memory: never more than the windows of one call and a stride read beyond what
        # has been handed out (2 * window - overlap for one window per call).
        assert source.pulled - len(out) < window + batch * (window - overlap)
    assert len(out) == n
    for got, want in zip(out, frames):
        # Not bit-exact in overlaps: sum(w_i * x) / sum(w_i) rounds in float32.
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


@SETTINGS
@given(batched_plans())
def test_restorer_sees_the_planned_windows(plan):
    n, window, overlap, batch = plan
    seen, calls, told = [], [], []

    def restore(x, starts):
        calls.append(len(x))
        seen.extend(tuple(int(v) for v in w[:, 0, 0, 0]) for w in x)
        told.extend(starts)
        return x

    out = list(stitch_windows(iter(numbered(n)), restore, window=window, overlap=overlap, batch=batch))
    spans = plan_windows(n, window, overlap)
    assert seen == [tuple(range(start, stop)) for start, stop in spans]
    assert told == [start for start, _ in spans]  # where each window starts
    assert [round(f[0, 0, 0].item()) for f in out] == list(range(n))  # in order, each once
    # Calls are as full as equal lengths allow: the full windows in calls of `batch`, then the rest.
    lengths = [stop - start for start, stop in spans]
    expected, i = [], 0
    while i < len(lengths):
        same = 1
        while same < batch and i + same < len(lengths) and lengths[i + same] == lengths[i]:
            same += 1
        expected.append(same)
        i += same
    assert calls == expected


@SETTINGS
@given(batched_plans(max_frames=30))
def test_batching_does_not_change_the_output(plan):
    n, window, overlap, batch = plan
    frames = [torch.rand(3, 2, 3, generator=torch.Generator().manual_seed(i)) for i in range(n)]

    def restore(x, _):  # depends on each window's frames, their order and their number, not on the call
        return x.cumsum(dim=1) / torch.arange(1, x.shape[1] + 1).view(1, -1, 1, 1, 1) + x.shape[1]

    one = list(stitch_windows(iter(frames), restore, window=window, overlap=overlap))
    many = list(stitch_windows(iter(frames), restore, window=window, overlap=overlap, batch=batch))
    assert len(one) == len(many) == n
    for a, b in zip(one, many):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


class WindowNumbers:
    """A restorer that writes each window's number (1, 2, ...) into its frames."""

    def __init__(self):
        self.windows = 0

    def __call__(self, x, _starts=None):
        out = torch.empty_like(x)
        for b in range(len(x)):
            self.windows += 1
            out[b] = self.windows
        return out


def stitched_constants(n, window, overlap, value=float):
    """The stitched output of a restorer that ignores its input and returns value(k) for window k."""
    calls = []

    def restore(x, _):
        calls.append(x)
        return torch.full_like(x, value(len(calls) - 1))

    out = stitch_windows(iter(numbered(n)), restore, window=window, overlap=overlap)
    return torch.tensor([f[0, 0, 0].item() for f in out])


@SETTINGS
@given(plans(max_frames=60))
def test_blend_weights_are_positive_and_sum_to_one(plan):
    n, window, overlap = plan
    values = stitched_constants(n, window, overlap)
    spans = plan_windows(n, window, overlap)
    for f, value in enumerate(values.tolist()):
        ids = [k for k, (start, stop) in enumerate(spans) if start <= f < stop]
        # A weighted mean of the covering windows' numbers: with weights summing to one it lies in
        # their range, and strictly inside when several windows cover the frame (every weight > 0).
        if len(ids) == 1:
            assert value == ids[0]
        else:
            assert min(ids) < value < max(ids)


def flicker(k):
    return float(k % 2)  # every window one away from its neighbours: the worst seam


@SETTINGS
@given(plans(max_frames=60))
def test_windows_fade_into_each_other(plan):
    n, window, overlap = plan
    values = stitched_constants(n, window, overlap, value=flicker)
    jumps = (values[1:] - values[:-1]).abs()
    if len(jumps) == 0:
        return
    # A raised cosine over L >= overlap frames moves by at most sin(pi / (2 (L + 1))) from one
    # frame to the next, where a cut jumps by 1; with 3+ windows on a frame the mean moves less.
    assert jumps.max() <= math.sin(math.pi / (2 * (overlap + 1))) + 1e-6


def test_a_cut_would_fail_the_smoothness_bound():
    values = stitched_constants(16, 8, 0, value=flicker)
    assert (values[1:] - values[:-1]).abs().max() == 1
    values = stitched_constants(16, 8, 1, value=flicker)
    assert (values[1:] - values[:-1]).abs().max() == 0.5  # one shared frame: half of each


def test_ramp_is_complementary_and_positive():
    for length in range(1, 9):
        r = ramp(length)
        assert (r > 0).all() and (r < 1).all()
        torch.testing.assert_close(r + r.flip(0), torch.ones(length), rtol=0, atol=1e-7)
    assert blend_weights(5, 0, 0).tolist() == [1.0] * 5


def test_blends_in_float32_and_keeps_the_input_dtype():
    frames = [torch.full((3, 2, 2), 0.5 + i / 64, dtype=torch.float16) for i in range(9)]
    dtypes = []

    def restore(x, _):
        dtypes.append(x.dtype)
        return x.to(torch.bfloat16)

    out = list(stitch_windows(iter(frames), restore, window=4, overlap=2))
    assert dtypes == [torch.float16] * len(dtypes)
    assert {f.dtype for f in out} == {torch.float16}
    for got, want in zip(out, frames):
        torch.testing.assert_close(got, want, rtol=0, atol=4e-3)  # bf16's rounding, not the blend's


def test_short_video_is_one_window_of_its_own_length():
    seen = []
    out = list(stitch_windows(iter(numbered(3)), lambda x, _: seen.append(x.shape[:2]) or x, window=8, overlap=2))
    assert seen == [(1, 3)] and len(out) == 3


def test_empty_stream_calls_nothing():
    assert list(stitch_windows(iter([]), lambda x, _: pytest.fail("called"), window=4, overlap=1)) == []


@pytest.mark.parametrize("window,overlap,batch", [(0, 0, 1), (4, -1, 1), (4, 4, 1), (4, 7, 1), (4, 1, 0)])
def test_bad_window_is_a_usage_error_before_reading(window, overlap, batch):
    with pytest.raises(UsageError) as info:
        stitch_windows(iter(numbered(5)), lambda x, _: x, window=window, overlap=overlap, batch=batch)  # not iterated
    assert info.value.hint and info.value.exit_code == 2


def test_windows_are_refused_in_one_wording_wherever_they_are_made():
    """Found in review (structure54 F12): WindowOptions took an overlap as long as its window, which stitch_windows,
    --overlap and load then refused, each in words of its own."""
    said = "^--overlap 4 must be smaller than --window 4$"
    with pytest.raises(UsageError, match=said):
        WindowOptions(window=4, overlap=4)
    with pytest.raises(UsageError, match=said):
        stitch_windows(iter([]), lambda x, _: x, window=4, overlap=4)
    with pytest.raises(UsageError, match=said):
        window_options("dstnet-s", 4, 4, "auto", None)
    with pytest.raises(UsageError, match="^--last-window must be split or shift, got 'wrap'$"):
        WindowOptions(last="wrap")


def test_a_restorer_returning_another_shape_is_a_model_error():
    with pytest.raises(ModelError, match="shape"):
        list(stitch_windows(iter(numbered(5)), lambda x, _: x[:-1], window=4, overlap=1))


def _mixing(windows: torch.Tensor, _starts: list[int]) -> torch.Tensor:
    """(B, T, ...) -> each frame mixed with its window's mean: a window cut differently shows."""
    return (windows + windows.mean(dim=1, keepdim=True)) / 2


@given(batched_plans(max_frames=40, max_window=8))
@SETTINGS
def test_a_stream_restarted_where_restartable_at_says_gives_the_same_frames_from_there(plan):
    n, window, overlap, batch = plan
    frames = [torch.rand(3, 2, 2, generator=torch.Generator().manual_seed(i)) for i in range(n)]
    whole = list(stitch_windows(frames, _mixing, window=window, overlap=overlap, batch=batch))
    for frame in range(n):
        if restartable_at(frame, n, window, overlap, batch):
            again = list(
                stitch_windows(frames[frame - overlap :], _mixing, window=window, overlap=overlap, batch=batch)
            )
            assert len(again) - overlap == n - frame
            assert all(torch.equal(a, b) for a, b in zip(again[overlap:], whole[frame:]))


def test_restartable_at_only_where_a_full_window_starts_and_is_known():
    # window 4, overlap 1: full windows start at 0, 3, 6, ...; frame 4 follows the start 3
    assert [f for f in range(12) if restartable_at(f, 12, 4, 1)] == [4, 7]  # a start at 9 needs 13 frames
    assert restartable_at(10, 13, 4, 1) and not restartable_at(10, 12, 4, 1)
    assert [f for f in range(20) if restartable_at(f, 20, 4, 1, batch=2)] == [7, 13]
    # where it says no, restarting can differ: frame 5 restarted from 4 sees other windows
    frames = [torch.rand(3, 2, 2, generator=torch.Generator().manual_seed(i)) for i in range(12)]
    whole = list(stitch_windows(frames, _mixing, window=4, overlap=1))
    again = list(stitch_windows(frames[4:], _mixing, window=4, overlap=1))
    assert not torch.equal(again[1], whole[5])


def official_clips(n: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """The clips DSTNet's published test cuts a sequence of n frames into (from its description):
    clips at multiples of the stride while whole ones fit, then, where frames are left over, the
    last `window` frames (all of them for a short sequence)."""
    stride = window - overlap
    clips = [(i * stride, i * stride + window) for i in range((n - overlap) // stride)]
    if (n - overlap) % stride:
        clips.append((max(0, n - window), n))
    return clips


@SETTINGS
@given(plans(max_frames=60))
def test_shifted_last_window_is_the_published_test_plan(plan):
    n, window, overlap = plan
    if n <= overlap:  # the published test has no clip at all then: n frames, each shared with the next clip
        return
    assert plan_windows(n, window, overlap, last="shift") == official_clips(n, window, overlap)


@SETTINGS
@given(plans(max_frames=60), st.integers(1, 3))
def test_shifted_last_window_keeps_the_earlier_windows_results(plan, batch):
    """Without overlap, as the published test merges its clips: each frame from the first window
    that holds it. The restorer writes the window's number into its frames."""
    n, window, _ = plan
    windows = official_clips(n, window, 0) if n else []
    restore = WindowNumbers()
    got = [
        int(f[0, 0, 0])
        for f in stitch_windows(numbered(n), restore, window=window, overlap=0, batch=batch, last="shift")
    ]
    expected = [1 + next(k for k, (start, stop) in enumerate(windows) if start <= t < stop) for t in range(n)]
    assert got == expected and restore.windows == len(windows)


@SETTINGS
@given(plans(max_frames=40))
def test_shifted_last_window_round_trips_an_identity(plan):
    n, window, overlap = plan
    frames = numbered(n)
    out = list(stitch_windows(iter(frames), lambda x, _: x.clone(), window=window, overlap=overlap, last="shift"))
    assert len(out) == n and all(torch.allclose(a, b) for a, b in zip(out, frames))


def test_an_unknown_last_window_is_a_usage_error():
    with pytest.raises(UsageError, match="split or shift"):
        stitch_windows(iter([]), lambda x, _: x, window=3, overlap=1, last="wrap")


def stitched_with_cuts(n, window, overlap, cuts, batch=1, last="split"):
    """The stitched output of a restorer that writes the window's number (1, 2, ...) into its frames
    and says it split each window at the `cuts` inside it, as stream.py does at scene cuts."""
    numbers = WindowNumbers()

    def restore(x, _):
        return numbers(x), split_at(x, cuts)

    out = stitch_windows(numbered(n), restore, window=window, overlap=overlap, batch=batch, last=last)
    return [f[0, 0, 0].item() for f in out]


def split_at(x, cuts):
    """For each window of numbered frames (B, T, 3, H, W): the indices in it of the frames that are `cuts`."""
    return [[t for t, frame in enumerate(window) if t and int(frame[0, 0, 0]) in cuts] for window in x]


FADE = (1 + ramp(2)).tolist()  # frames 6 and 7 faded from window 1 into window 2 (raised cosine)


@pytest.mark.parametrize(
    "cut, shared",
    [
        (None, FADE),  # no cut: a fade
        (7, [1.0, 2.0]),  # a cut between the shared frames: each from the window that holds its scene
        (6, [2.0, 2.0]),  # at the later window's start: both shared frames from it
        (8, [1.0, 1.0]),  # just after the shared frames: both from the earlier window
        (3, FADE),  # a cut elsewhere changes no weight
        (10, FADE),
    ],
)
def test_windows_hand_over_at_a_scene_cut_in_the_frames_they_share(cut, shared):
    """Windows (0, 8) and (6, 14) share frames 6 and 7. Fading there would mix one window's
    restoration of a frame, made from a scene piece of one or two frames, into the other's, made
    with the frame's scene around it."""
    assert plan_windows(14, 8, 2) == [(0, 8), (6, 14)]
    got = stitched_with_cuts(14, 8, 2, [] if cut is None else [cut])
    assert got == pytest.approx([1.0] * 6 + shared + [2.0] * 6, abs=1e-6)


@SETTINGS
@given(batched_plans(max_frames=40), st.sampled_from(LAST_WINDOWS), st.data())
def test_frames_shared_across_a_cut_come_from_one_window(plan, last, data):
    n, window, overlap, batch = plan
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, n - 1)), max_size=4)))
    got = stitched_with_cuts(n, window, overlap, cuts, batch=batch, last=last)
    assert got == stitched_with_cuts(n, window, overlap, cuts, batch=1, last=last)  # batching changes nothing
    spans = plan_windows(n, window, overlap, last)
    for k, ((a_start, a_stop), (b_start, _)) in enumerate(zip(spans, spans[1:]), start=1):
        shared = range(a_stop - min(a_stop - b_start, overlap), a_stop)
        cut = min((c for c in cuts if shared.start <= c <= shared.stop), default=None)
        for t in shared:
            covering = [s for s in spans if s[0] <= t < s[1]]
            value = got[t]
            if len(covering) == 2:
                if cut is not None:
                    assert value == (k if t < cut else k + 1)
                else:
                    assert k <= value <= k + 1
            else:  # in three or more windows (window < 2 x overlap): a blend of the windows that hold it
                numbers = [spans.index(s) + 1 for s in covering]
                assert min(numbers) - 1e-6 <= value <= max(numbers) + 1e-6


@SETTINGS
@given(batched_plans(max_frames=40), st.sampled_from(LAST_WINDOWS), st.data())
def test_an_identity_round_trips_with_cuts(plan, last, data):
    """Whatever the handover does to the weights, they still sum to one for every frame."""
    n, window, overlap, batch = plan
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, n - 1)), max_size=4)))
    frames = numbered(n)
    out = list(
        stitch_windows(
            iter(frames),
            lambda x, _: (x.clone(), split_at(x, cuts)),
            window=window,
            overlap=overlap,
            batch=batch,
            last=last,
        )
    )
    assert len(out) == n and all(torch.allclose(a, b) for a, b in zip(out, frames))


def test_on_cut_hears_each_scene_start_once_in_order():
    """Windows (0, 8), (6, 14), (12, 20) of 20 frames: a cut at 7 lies in the first two, one at 13 in the last two."""
    told = []
    restore = lambda x, _: (x.clone(), split_at(x, [7, 13]))  # noqa: E731
    out = list(stitch_windows(iter(numbered(20)), restore, window=8, overlap=2, batch=2, on_cut=told.append))
    assert len(out) == 20 and told == [7, 13]
