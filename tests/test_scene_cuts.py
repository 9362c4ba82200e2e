"""Scene cuts: found where one scene ends and another begins, and never restored across by a model."""

from __future__ import annotations

import itertools
import json

import av
import numpy as np
import pytest
import torch

import deblur_cli.pipeline as pipeline
from deblur_cli.run_options import window_options
from deblur_cli.data.synth import synthesize_clip
from deblur_cli.pipeline import deblur_video
from deblur_cli.scene_cuts import cuts_in, kept_share
from deblur_cli.stream import restore_stream
from deblur_cli.video_io import EncodeOptions
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import MixingRestorer


SHOTS = [(0, 7), (1, 5), (2, 9), (3, 6)]  # (seed, frames) of each shot of an edited video: cuts at 7, 12, 21


def scene(seed: int, frames: int = 4, size: tuple[int, int] = (96, 64)) -> torch.Tensor:
    """A blurred camera-shake clip with moving objects, 96x64 unless said: fast motion for its size."""
    return synthesize_clip(seed, frames=frames, size=size)[0]


def test_no_cut_within_a_scene():
    for seed in range(12):
        assert cuts_in(scene(seed, frames=8)) == [], seed


def test_a_cut_where_two_scenes_join():
    clips = [scene(seed) for seed in range(6)]
    for i, first in enumerate(clips):
        for j, second in enumerate(clips):
            if i != j:
                assert cuts_in(torch.cat([first, second])) == [4], (i, j)
    assert cuts_in(torch.cat([clips[0][:1], clips[1], clips[2]])) == [1, 5]  # a one-frame shot is a scene too


def test_short_windows():
    one = scene(0)
    assert cuts_in(one[:1]) == [] and cuts_in(one[:0]) == []
    assert cuts_in(torch.stack([one[0], scene(1)[0]])) == [1]  # two frames: the thresholds alone decide
    assert cuts_in(one[:2]) == []


def test_flicker_and_a_flash_are_not_cuts():
    clip = scene(3, frames=8)
    flicker = (clip * torch.tensor([1.0, 1.04, 0.97, 1.03, 1.0, 0.96, 1.02, 1.0])[:, None, None, None]).clamp(0, 1)
    assert cuts_in(flicker) == []
    flash = clip.clone()
    flash[4] = 1.0  # one white frame: the scene goes on after it
    assert cuts_in(flash) == []


def _letterboxed(clip: torch.Tensor, share: float = 0.25) -> torch.Tensor:
    """The clip with black bars over `share` of its rows, as a 2.39:1 film in a 16:9 frame."""
    out = clip.clone()
    bar = round(share / 2 * clip.shape[-2])
    out[..., :bar, :] = 0
    out[..., clip.shape[-2] - bar :, :] = 0
    return out


@pytest.mark.parametrize("look", ["night", "letterboxed", "night, letterboxed"])
def test_cuts_between_dark_or_letterboxed_shots(look):
    """Two night shots fill the same few histogram bins and change few pixel values; black bars add
    rows that never change. Both are measured as the picture they hold, so the joins are found, and
    still no frame within a shot is taken for a cut. 16:9 frames of 128x72: the bars leave 54 rows."""

    def styled(clip: torch.Tensor) -> torch.Tensor:
        clip = clip * 0.25 if "night" in look else clip
        return _letterboxed(clip) if "letterboxed" in look else clip

    clips = [styled(scene(seed, size=(128, 72))) for seed in range(6)]
    for i, first in enumerate(clips):
        for j, second in enumerate(clips):
            if i != j:
                assert cuts_in(torch.cat([first, second])) == [4], (i, j)
    for seed in range(6):
        assert cuts_in(styled(scene(seed, frames=8, size=(128, 72)))) == [], seed


def test_a_cut_between_night_shots_is_found_beside_a_daylight_shot():
    """Each pair of frames is measured on its own levels: a window that also holds a daylight shot does
    not hide the cut between the two night shots after it (with the window's levels shared, none of these
    12 was found)."""
    shots = [scene(seed) for seed in range(4)]
    for first, second in itertools.permutations(range(4), 2):
        day = shots[next(k for k in range(4) if k not in (first, second))][:3]
        clip = torch.cat([day, shots[first] * 0.2, shots[second] * 0.2])
        assert cuts_in(clip) == [3, 7], (first, second)


def test_a_black_window_has_no_cut():
    black = torch.zeros(6, 3, 64, 96)
    assert cuts_in(black) == []
    noise = torch.Generator().manual_seed(0)
    dark_noise = (0.02 + 0.01 * torch.randn(6, 3, 64, 96, generator=noise)).clamp(0, 1)  # a lens cap, a dark room
    assert cuts_in(dark_noise) == []


def _restored(frames: torch.Tensor, restorer, scene_cuts: bool) -> torch.Tensor:
    windows = WindowOptions(window=8, overlap=2, tile=None, scene_cuts=scene_cuts)
    return torch.stack(list(restore_stream(iter(frames), restorer, windows, tuple(frames.shape[-2:]))))


def test_no_frame_is_restored_from_another_scene():
    """A model that mixes each window's frames: with the cut found, the first scene's frames come out
    the same whatever scene follows; restored whole (the control), the next scene shows in them."""
    first, second, other = scene(0, frames=5), scene(1, frames=7), scene(2, frames=7)
    with_second = _restored(torch.cat([first, second]), MixingRestorer(), scene_cuts=True)
    with_other = _restored(torch.cat([first, other]), MixingRestorer(), scene_cuts=True)
    torch.testing.assert_close(with_second[:5], with_other[:5], rtol=0, atol=1e-6)
    torch.testing.assert_close(with_second[:5], _restored(first, MixingRestorer(), scene_cuts=True), rtol=0, atol=1e-6)
    assert not torch.allclose(with_second[5:], with_other[5:])
    whole = _restored(torch.cat([first, second]), MixingRestorer(), scene_cuts=False)
    assert (whole[:5] - _restored(torch.cat([first, other]), MixingRestorer(), scene_cuts=False)[:5]).abs().max() > 0.01


def test_a_cut_in_the_frames_two_windows_share_hands_over_there():
    """Windows (0, 8) and (6, 14) share frames 6 and 7, and the cut is between them. Each comes from the
    window that restored it with its scene around it, not from the one-frame piece the other window
    split off: the first scene as if restored alone, frame 7 mixed with the mean of frames 7 to 13."""
    first, second = scene(0, frames=7), scene(1, frames=7)
    frames = torch.cat([first, second])
    assert cuts_in(frames[:8]) == [7] and cuts_in(frames[6:]) == [1]
    restored = _restored(frames, MixingRestorer(), scene_cuts=True)
    torch.testing.assert_close(restored[:7], _restored(first, MixingRestorer(), scene_cuts=True), rtol=0, atol=1e-6)
    torch.testing.assert_close(restored[7], (frames[7] + second.mean(dim=0)) / 2, rtol=0, atol=1e-6)


def test_a_positional_restorer_is_told_where_each_scene_starts():
    """A diffusion model draws each frame's noise by its index in the video: a window split at a cut is
    restored scene by scene, each told where it starts. Windows (0, 7) and (5, 12), the cut at 5."""

    class Placed(MixingRestorer):
        positional = True
        starts = []

        def __call__(self, frames, first_frame=0):
            self.starts.append((first_frame, len(frames)))
            return super().__call__(frames)

    restorer = Placed()
    _restored(torch.cat([scene(0, frames=5), scene(1, frames=7)]), restorer, scene_cuts=True)
    assert restorer.starts == [(0, 5), (5, 2), (5, 7)]


@pytest.mark.parametrize("batch", [1, 3])
def test_each_cut_is_told_once_by_its_place_in_the_stream(batch):
    """Windows of 8 overlapping by 2 hold the cut at 7 twice (windows 0-7 and 6-13): it is told once."""
    frames = torch.cat([scene(seed, frames) for seed, frames in SHOTS])
    told = []
    windows = WindowOptions(window=8, overlap=2, tile=None, batch=batch)
    restored = restore_stream(iter(frames), MixingRestorer(), windows, tuple(frames.shape[-2:]), on_cut=told.append)
    assert len(list(restored)) == 27
    assert told == [7, 12, 21]
    told.clear()
    windows = WindowOptions(window=8, overlap=2, tile=None, batch=batch, scene_cuts=False)
    list(restore_stream(iter(frames), MixingRestorer(), windows, tuple(frames.shape[-2:]), on_cut=told.append))
    assert told == []


def test_the_run_says_where_it_split(tmp_path, monkeypatch):
    import deblur_cli.restorers as restorers_module
    from typer.testing import CliRunner

    from deblur_cli.cli import app

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: MixingRestorer())
    source = media.make_edited(tmp_path / "edited.mkv", SHOTS)
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mkv")])
    assert result.exit_code == 0, result.output
    assert "split at 3 scene cuts, before frames 7, 12, 21" in result.output
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mkv"), "-f", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scene_cuts"] == [7, 12, 21]
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mkv"), "-f", "--json", "--no-scene-cuts"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scene_cuts"] is None  # not looked for, rather than none found


def test_the_command_line_switch():
    assert window_options("dstnet-s", None, None, "auto", None)[0].scene_cuts
    assert not window_options("dstnet-s", None, None, "auto", None, scene_cuts=False)[0].scene_cuts


def test_an_interrupted_run_with_cuts_continues_to_the_same_frames(tmp_path, monkeypatch):
    """Scenes of 7, 5, 9 and 6 frames in windows of 4 overlapping by 1, stopped after 5, 8 and 11 model
    calls (a window across a cut is two) and continued: every time the frames of an uninterrupted run.
    The windows are planned as without cuts; each is restored scene by scene, from its own frames."""
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 6)
    source = media.make_edited(tmp_path / "edited.mkv", SHOTS)
    assert cuts_in(torch.cat([scene(seed, frames) for seed, frames in SHOTS])) == [7, 12, 21]
    options = dict(windows=WindowOptions(window=4, overlap=1, tile=None), encode=EncodeOptions(codec="ffv1"))

    def decoded(path):
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]

    uninterrupted = deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), **options)
    assert uninterrupted.scene_cuts == [7, 12, 21]
    whole = decoded(uninterrupted.output)
    assert len(whole) == 27
    for after in (5, 8, 11):
        target = tmp_path / f"out{after}.mkv"
        with pytest.raises(KeyboardInterrupt):
            deblur_video(source, target, MixingRestorer(fail_after=after), **options)
        result = deblur_video(source, target, MixingRestorer(), **options)
        assert result.resumed > 0, after
        assert result.scene_cuts == [cut for cut in (7, 12, 21) if cut >= result.resumed]  # those it restored
        assert all(np.array_equal(a, b) for a, b in zip(decoded(target), whole)) and len(decoded(target)) == 27


def test_light_changes_and_a_strobe_are_not_cuts():
    """A light switched on or off, a white balance or exposure jump, a strobe: the histogram and the
    pixels jump as at a cut, but the picture is the same, only brighter, darker or tinted."""
    clip = scene(3, frames=8)
    lights_off = clip.clone()
    lights_off[4:] *= 0.35
    white_balance = clip.clone()
    white_balance[4:] *= torch.tensor([1.0, 0.8, 0.55])[:, None, None]
    strobe = clip.clone()
    strobe[1::2] = (strobe[1::2] * 2.5).clamp(0, 1)
    for name, frames in [("lights off", lights_off), ("white balance", white_balance), ("strobe", strobe)]:
        assert cuts_in(frames) == [], name
    for edge in (1, 7):  # a flash at a window's first or last frame, where one side of the change is not shown
        flash = clip.clone()
        flash[edge - 1 if edge == 1 else edge] = 1.0
        assert cuts_in(flash) == [], edge


def test_a_one_frame_shot_inside_a_window_is_cut_on_both_sides():
    first, insert, last = scene(0, frames=4), scene(1, frames=1), scene(2, frames=4)
    assert cuts_in(torch.cat([first, insert, last])) == [4, 5]
    assert cuts_in(torch.cat([first, scene(1, frames=2), last])) == [4, 6]


def test_cuts_to_and_from_black_are_found_and_a_white_flash_is_not():
    shot, other = scene(0, frames=5), scene(1, frames=5)
    black = torch.zeros(3, 3, 64, 96)
    assert cuts_in(torch.cat([black, other])) == [3]  # black leader, then the shot
    assert cuts_in(torch.cat([shot, black])) == [5]  # the shot cut to black
    white = shot.clone()
    white[2] = 1.0
    assert cuts_in(white) == []


def test_a_cut_beside_a_short_shot_that_changes_by_itself_is_found():
    """A shot of two frames whose own histogram changes as much as a cut's (here its light dims; in
    footage, shake over a high-contrast scene) but whose picture stays: the change beside each cut does
    not explain it, as it would were the picture to change too (found neither cut before)."""
    short = scene(1, frames=2)
    short[1] *= 0.45
    assert cuts_in(torch.cat([scene(0), short, scene(2)])) == [4, 6]


def test_a_one_frame_insert_is_cut_on_both_sides():
    """One frame of another shot, then the first shot again: both its sides change the whole picture
    (found neither before, when the first shot coming back was taken for a flash)."""
    for first, insert in [(0, 1), (2, 3)]:
        shot = scene(first, frames=8)
        assert cuts_in(torch.cat([shot[:4], scene(insert, frames=1), shot[4:]])) == [4, 5], (first, insert)


def test_an_overlay_or_a_partial_flash_is_not_a_cut():
    """A banner over the bottom third, a title over the dimmed picture, half the frame lit for one frame:
    the rest of the picture keeps its structure (the banner and the title were cuts before)."""
    banner = scene(0, frames=8)
    banner[4:, :, 44:, :] = torch.tensor([0.8, 0.08, 0.08])[:, None, None]
    title = scene(0, frames=8)
    title[4:] *= 0.3
    y, x = torch.meshgrid(torch.arange(64), torch.arange(96), indexing="ij")
    title[4:, :, (y >= 24) & (y < 40) & (x >= 8) & (x < 88) & ((y // 4 + x // 4) % 2 == 0)] = 1.0
    flash = scene(0, frames=8)
    flash[4, :, :, 48:] = flash[4, :, :, 48:] * 0.3 + 0.7
    for name, frames in [("banner", banner), ("title", title), ("half flash", flash)]:
        assert cuts_in(frames) == [], name


def test_an_overlay_during_a_pan_is_not_a_cut():
    """The banner and the half flash again, while the camera pans 3 px a frame, sideways and diagonally: the blocks
    at the edges the picture moves toward are compared on the part that stays in the frame (with them left out,
    at most 6 of 9 blocks, or 4 of 9 in a diagonal pan, could be kept, and these were cuts)."""
    for down, seed in [(0, 0), (3, 4)]:
        big = synthesize_clip(seed, frames=1, size=(160, 120))[0][0]
        pan = torch.stack([big[:, down * k : down * k + 64, 3 * k : 3 * k + 96] for k in range(8)])
        banner = pan.clone()
        banner[4:, :, 44:, :] = torch.tensor([0.8, 0.08, 0.08])[:, None, None]
        flash = pan.clone()
        flash[4, :, :, 48:] = flash[4, :, :, 48:] * 0.3 + 0.7
        for name, frames in [("pan", pan), ("banner", banner), ("half flash", flash)]:
            assert cuts_in(frames) == [], (name, down)


def _smooth_shot(seed: int, frames: int = 4) -> torch.Tensor:
    """A slow pan over a smooth field of random colours (3 x 3 of them, bicubic), 64x36: a shot with little
    texture, as a blurred one has."""
    generator = torch.Generator().manual_seed(seed)
    colours = torch.rand(1, 3, 3, 3, generator=generator)
    field = torch.nn.functional.interpolate(colours, size=(36 + 2 * frames, 64 + 2 * frames), mode="bicubic")[0]
    return torch.stack([field[:, k : k + 36, 2 * k : 2 * k + 64] for k in range(frames)]).clamp(0, 1)


def test_a_cut_between_two_smooth_shots_is_found():
    """A smooth block of one shot correlates well with some part of any other smooth picture, but each block at a
    shift of its own, where an overlay leaves the rest of the picture at one shift (4 of these 8 were taken for
    an overlay, when a block counted as kept at any shift)."""
    for seed in range(8):
        assert cuts_in(torch.cat([_smooth_shot(2 * seed), _smooth_shot(2 * seed + 1)])) == [4], seed


def test_blocks_flat_in_both_frames_keep_nothing():
    """A dark frame whose picture is one lit, textured corner, and the same again: the eight flat blocks tell
    nothing, and one block is too little to hold a change back (they were 9 of 9 kept); three are enough."""
    texture = torch.rand(12, 21, generator=torch.Generator().manual_seed(0))
    corner = torch.zeros(36, 64)
    corner[:12, :21] = texture
    assert kept_share(corner, corner) == 0.0
    row = torch.zeros(36, 64)
    row[:12, :21], row[:12, 21:42], row[:12, 42:63] = texture, texture.flip(0), texture.flip(1)
    assert kept_share(row, row) == 1.0


def test_a_lamp_in_a_night_shot_is_not_taken_for_its_picture():
    """Night shots darker than the bars' level but for a lamp: the bars are told on the stretched levels, so the
    cut is measured on the picture, not on the lamp, and is found as without it (those joins of these shots
    that are found at this brightness without the lamp; with the bars told on the frames' own levels, none)."""

    def night(clip: torch.Tensor) -> torch.Tensor:
        clip = clip * 0.09
        clip[..., 10:12, 20:22] = 0.3
        return clip

    for first, second in [(0, 1), (0, 4), (1, 0), (1, 4)]:
        assert cuts_in(torch.cat([night(scene(first)), night(scene(second))])) == [4], (first, second)
    for seed in range(6):
        assert cuts_in(night(scene(seed, frames=8))) == [], seed


def test_a_cut_in_portrait_video_pillarboxed_in_a_landscape_frame_is_found():
    """A phone's 9:16 picture fills a third of a 16:9 frame's width: its bars are bars (none of these joins was
    found when bars had to leave half of each side)."""

    def pillarboxed(clip: torch.Tensor) -> torch.Tensor:
        boxed = torch.zeros(*clip.shape[:2], 92, 164)
        boxed[..., 56:108] = clip
        return boxed

    for first, second in [(0, 1), (1, 2), (2, 3), (3, 4)]:
        joined = torch.cat([scene(first, size=(52, 92)), scene(second, size=(52, 92))])
        assert cuts_in(pillarboxed(joined)) == [4], (first, second)
    assert cuts_in(pillarboxed(scene(0, frames=8, size=(52, 92)))) == []


@pytest.mark.parametrize("size", [1, 2, 3, 20, 1000, 13824])
def test_the_levels_stretch_takes_torch_quantiles_value_from_the_top_values_alone(size):
    """scene_cuts._quantile replaces torch.quantile (a full sort) for speed: the same value (to the bit on
    torch 2.13; torch 2.14 rounds the rank otherwise, a unit in the last place apart), on values with ties,
    on values below a flat maximum and on very few values."""
    from deblur_cli.scene_cuts import BRIGHT_SHARE, _quantile

    generator = torch.Generator().manual_seed(size)
    for values in (
        torch.rand(size, generator=generator),
        (torch.rand(size, generator=generator) * 8).round() / 8,  # many ties
        torch.rand(size, generator=generator).square().clamp(max=0.3),  # a flat top
    ):
        for q in (1 - BRIGHT_SHARE, 0.5, 0.999, 1.0):
            torch.testing.assert_close(_quantile(values, q), torch.quantile(values, q), rtol=2**-23, atol=0)
