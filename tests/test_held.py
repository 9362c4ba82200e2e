"""Held frames: a frame equal to the one before it comes out as that one did, and a run is never continued
from inside a hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deblur_cli.pipeline as pipeline
from deblur_cli.frame_facts import FrameFacts
from deblur_cli.pipeline import deblur_video
from deblur_cli.stream import restore_stream
from deblur_cli.video_io import EncodeOptions
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import IdentityRestorer, MixingRestorer

WINDOWS = WindowOptions(window=4, overlap=1, tile=None)


class ByPlace(IdentityRestorer):
    """Brightens each frame by its place in its window: copies of a frame in other places come out unequal."""

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        super().__call__(frames)
        return (frames + 0.02 * torch.arange(len(frames)).view(-1, 1, 1, 1)).clamp(0, 1)


def restored(clip: list[torch.Tensor], restorer=None) -> list[torch.Tensor]:
    with torch.inference_mode():
        return list(restore_stream(iter(clip), restorer or ByPlace(), WINDOWS, tuple(clip[0].shape[-2:])))


def frames(order: list[int], size=(16, 16)) -> list[torch.Tensor]:
    pool = [torch.rand(3, *size, generator=torch.Generator().manual_seed(i)) * 0.8 for i in range(max(order) + 1)]
    return [pool[i].clone() for i in order]


def test_held_frames_come_out_as_the_frame_before_them():
    order = [0, 0, 1, 2, 2, 2, 2, 2, 3, 4, 4]
    out = restored(frames(order))
    assert len(out) == len(order)
    for k in range(1, len(order)):
        assert torch.equal(out[k], out[k - 1]) == (order[k] == order[k - 1]), k
    unheld = ByPlace()(torch.stack(frames(order)[:4]))  # the stand-in brightens the second copy of frame 0
    assert not torch.equal(unheld[0], unheld[1])


def test_a_held_copy_is_a_frame_of_its_own():
    out = restored(frames([0, 0, 0]))
    with torch.inference_mode():
        out[1].zero_()  # a caller changing one frame it was given changes no other
    assert not torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])


def test_grey_held_frames_stay_grey_and_held():
    grey = torch.rand(1, 16, 16).expand(3, -1, -1).contiguous()
    out = restored([grey, grey.clone(), torch.rand(3, 16, 16)])
    assert torch.equal(out[0], out[1]) and torch.equal(out[0][0], out[0][1])


def test_segments_end_before_held_frames_only_after_a_long_wait():
    """Found in review: footage on twos whose copies fell where the windows can restart (windows of 10 overlapping
    by 2 restart on even frames; frames 0, 1, 1, 2, 2, ...) had no restart point at all."""
    options, count = WindowOptions(window=10, overlap=2, tile=None), 5 * pipeline.SEGMENT_FRAMES

    def cuts(held) -> list[int]:
        planner = pipeline._Cuts(options, 1, first=0)
        return [i for i in range(count) if planner.before(i, i, count, held=held(i))]

    unheld = cuts(lambda i: False)
    assert all(i % 2 == 0 for i in unheld) and len(unheld) == 4  # about every SEGMENT_FRAMES
    assert cuts(lambda i: i % 2 == 1) == unheld  # the copies fall between the restart points
    on_twos = cuts(lambda i: i > 1 and i % 2 == 0)  # every frame a window can restart at is a copy
    gaps = [b - a for a, b in zip([0, *on_twos], on_twos)]
    assert len(on_twos) == 2 and all(0 <= gap - 2 * pipeline.SEGMENT_FRAMES < 8 for gap in gaps)


def test_a_slow_run_of_footage_on_twos_still_ends_a_segment_after_the_longest_wait(monkeypatch):
    """Found in review: the wait for a restart point that is no copy held back SEGMENT_MOST_SECONDS, so a slow run
    of footage on twos kept nothing for 240 frames (an hour of 4K on a CPU)."""
    options, count = WindowOptions(window=10, overlap=2, tile=None), 5 * pipeline.SEGMENT_FRAMES
    monkeypatch.setattr(pipeline, "SEGMENT_MOST_SECONDS", 0.0)  # every restart point is overdue
    planner = pipeline._Cuts(options, 1, first=0)
    on_twos = [i for i in range(count) if planner.before(i, i, count, held=i > 1 and i % 2 == 0)]
    assert on_twos[:3] == [10, 18, 26]  # each restart point, copies though they are


def test_an_interrupted_run_of_footage_on_twos_keeps_its_work_up_to_a_cut_after_a_long_wait(tmp_path, monkeypatch):
    """The behaviour of the test above through deblur_video: footage on twos whose copies fall where the windows can
    restart kept no work when stopped (no segment ended); it keeps the frames before a cut made once twice
    SEGMENT_FRAMES went by, the continued run goes on from there, and only the copy after the cut comes out
    otherwise (restored again, not as the frame before it came out)."""
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 6)
    order = [0] + [frame for frame in range(1, 25) for _ in (0, 1)]  # 0, 1, 1, 2, 2, ...: copies on even frames
    source = media.make_held(tmp_path / "twos.mkv", order, size=(32, 32))
    options = dict(windows=WindowOptions(window=10, overlap=2, tile=None), encode=EncodeOptions(codec="ffv1"))
    whole = media.read_frames(deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), **options).output)
    target = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, target, MixingRestorer(fail_after=4), **options)  # 26 frames restored
    result = deblur_video(source, target, MixingRestorer(), **options)
    assert 2 * 6 <= result.resumed < 2 * 6 + 8
    again = media.read_frames(target)
    assert len(again) == len(order)
    assert [k for k, (a, b) in enumerate(zip(again, whole)) if not np.array_equal(a, b)] == [result.resumed]


@pytest.mark.parametrize("after", [2, 3, 4, 5])
def test_a_run_continued_near_a_hold_writes_what_an_uninterrupted_run_writes(tmp_path, monkeypatch, after):
    """Frames 4 to 15 are one frame held: windows of 4 overlapping by 1 restore its copies unequally, so the
    output holds the first copy's. A segment ending inside the hold would leave a continued run unable to
    write that copy; none does (the hold is shorter than twice SEGMENT_FRAMES), and the continued run writes
    what the uninterrupted one wrote."""
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 7)
    order = [0, 1, 2, 3] + [4] * 12 + list(range(5, 15))
    source = media.make_held(tmp_path / "held.mkv", order)
    options = dict(windows=WINDOWS, encode=EncodeOptions(codec="ffv1"))
    whole = media.read_frames(deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), **options).output)
    assert all(np.array_equal(whole[k], whole[4]) for k in range(4, 16)) and not np.array_equal(whole[16], whole[4])
    target = tmp_path / f"out{after}.mkv"
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, target, MixingRestorer(fail_after=after), **options)
    result = deblur_video(source, target, MixingRestorer(), **options)
    assert result.resumed not in range(5, 16)  # not inside the hold (after 2 calls: nothing kept, rather)
    again = media.read_frames(target)
    assert len(again) == len(order) and all(np.array_equal(a, b) for a, b in zip(again, whole))


@pytest.mark.parametrize("batch", [1, 2])
def test_windows_inside_a_still_shot_are_not_restored(batch):
    """Frames 4 to 14 are frame 3 held: the windows (6, 10), (9, 13) and (12, 15) hold nothing but copies, so no model
    call restores them, and the frames come out as with every window restored."""
    order = [0, 1, 2] + [3] * 12 + [4, 5]
    restorer = ByPlace()
    options = WindowOptions(window=4, overlap=1, tile=None, batch=batch)
    with torch.inference_mode():
        out = list(restore_stream(iter(frames(order)), restorer, options, (16, 16)))
    assert len(restorer.calls) == 3  # of the windows (0, 4) (3, 7) (6, 10) (9, 13) (12, 15) (14, 17)
    assert all(torch.equal(out[k], out[3]) for k in range(3, 15)) and not torch.equal(out[15], out[3])
    assert torch.equal(torch.stack(out), torch.stack(restored(frames(order))))  # batch 1 the same


def test_flags_told_by_the_caller_are_taken_as_they_are():
    """`deblur run` tells whether each frame is held as it decodes it (for where its segments end): restore_stream
    takes those flags rather than comparing the frames a second time."""
    clip = frames([0, 0, 1, 1])
    facts = [FrameFacts(held=held, grey=False) for held in (False, False, False, True)]
    with torch.inference_mode():
        told = list(restore_stream(zip(clip, facts), ByPlace(), WINDOWS, (16, 16)))
    assert not torch.equal(told[1], told[0]) and torch.equal(told[3], told[2])
