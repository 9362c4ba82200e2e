"""`deblur run --side-by-side`: the input on the left and the restored frame on the right, as displayed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from deblur_cli.cli import app
import deblur_cli.restorers as restorers_module
from deblur_cli.captions import FONT, GLYPH_HEIGHT, PAD, SHADE, burn, font_pixel, stamp, white_of
from deblur_cli.mix import Mix
from deblur_cli.side_by_side import DIVIDER, captions_for, compose, composed_info, placement, restored_labels
from deblur_cli.video_io import VideoInfo
from tests import media
from tests.restorers import InvertingRestorer, MixingRestorer

runner = CliRunner()


def displayed(frame: torch.Tensor, rotation: int, mirrored: bool = False) -> np.ndarray:
    """(3, H, W) stored frame -> (H', W', 3) as a player shows it (np.rot90 turns counter-clockwise; a
    mirror comes after the turn)."""
    turned = np.rot90(frame.permute(1, 2, 0).numpy(), rotation // 90)
    return turned[:, ::-1] if mirrored else turned


@pytest.mark.parametrize("mirrored", [False, True])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_the_input_is_shown_left_and_the_result_right_for_every_rotation(rotation, mirrored):
    before = torch.rand(3, 4, 6, generator=torch.Generator().manual_seed(0))
    after = torch.rand(3, 4, 6, generator=torch.Generator().manual_seed(1))
    both = compose(before, after, rotation, mirrored)
    info = composed_info(VideoInfo(width=6, height=4, fps=None, time_base=None, frame_count=1, bit_depth=8, rotation=rotation))
    assert tuple(both.shape[-2:]) == (info.height, info.width)
    shown = displayed(both, rotation, mirrored)
    width = displayed(before, rotation).shape[1]
    assert shown.shape[:2] == (displayed(before, rotation).shape[0], 2 * width + DIVIDER)
    np.testing.assert_array_equal(shown[:, :width], displayed(before, rotation, mirrored))
    assert (shown[:, width : width + DIVIDER] == 0).all()  # the black line between
    np.testing.assert_array_equal(shown[:, width + DIVIDER :], displayed(after, rotation, mirrored))


@pytest.mark.parametrize("rotation", [0, 90])
def test_run_writes_before_and_after_side_by_side(tmp_path, monkeypatch, rotation):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: InvertingRestorer())
    video = media.make_video(tmp_path / "in.mkv", frames=3, size=(48, 32), codec="ffv1", pix_fmt="bgr0", rotation=rotation)
    out = tmp_path / "frames"
    result = runner.invoke(app, ["run", str(video), "-o", str(out), "--side-by-side", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # the size of the frames written, turned as PNGs are (it was the input's)
    assert (summary["width"], summary["height"]) == ((2 * 48 + DIVIDER, 32) if rotation == 0 else (2 * 32 + DIVIDER, 48))
    stored = media.read_frames(video)
    pngs = sorted(out.iterdir())
    assert len(pngs) == 3
    for image, png in zip(stored, pngs):
        shown = media.read_frames(png)[0]  # PNG frames are written turned for display
        before = np.rot90(image, rotation // 90).astype(int)
        assert shown.shape == (before.shape[0], 2 * before.shape[1] + DIVIDER, 3)
        width = before.shape[1]
        assert np.abs(shown[:, :width] - before).max() <= 1
        assert (shown[:, width : width + DIVIDER] == 0).all()
        assert np.abs(shown[:, width + DIVIDER :] - (255 - before)).max() <= 1


@pytest.mark.parametrize("rotation, mirrored", [(0, True), (90, False)])
def test_an_output_that_records_no_rotation_has_its_halves_placed_as_stored(tmp_path, monkeypatch, rotation, mirrored):
    """.avi records no display matrix, so players show the frames as stored: the halves placed for a
    player that mirrors a front camera's clip put the input on the right there (found in review)."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: InvertingRestorer())
    video = media.make_video(tmp_path / "in.mp4", frames=2, size=(48, 32), rotation=rotation, mirrored=mirrored)
    result = runner.invoke(
        app, ["run", str(video), "-o", str(tmp_path / "out.avi"), "--side-by-side", "--codec", "ffv1"]
    )
    assert result.exit_code == 0, result.output
    assert "cannot record the display rotation" in result.output  # still said: the picture is shown as stored
    for image, shown in zip(media.read_frames(video), media.read_frames(tmp_path / "out.avi")):
        assert shown.shape == (32, 2 * 48 + DIVIDER, 3)
        assert np.abs(shown[:, :48].astype(int) - image).mean() < 2  # the input on the left, as stored
        assert np.abs(shown[:, -48:].astype(int) - (255 - image.astype(int))).mean() < 2


def test_work_kept_before_the_halves_were_placed_as_stored_is_not_continued(tmp_path):
    """Found in review: side-by-side work kept in .avi before then was continued after, the halves swapping
    sides part-way (a turned clip's first segments came out as noise): the key marks the change, which
    work_folder counts among what no option sets, so such work is discarded with a note, not continued, nor
    refused as work of other options would be."""
    from deblur_cli.errors import OutputError
    from deblur_cli.pipeline import resume_key
    from deblur_cli.video_io import EncodeOptions, ReadOptions, describe
    from deblur_cli.video_io.work_folder import WorkFolder
    from deblur_cli.windows import WindowOptions
    from tests.restorers import MixingRestorer

    source, output = media.make_video(tmp_path / "in.mp4", frames=2), tmp_path / "out.avi"

    def kept_under(key: dict) -> None:
        work = WorkFolder(output, key)
        work.keep(set())
        work.release(keep=True)

    info = describe(source)
    key = resume_key(source, info, MixingRestorer(), WindowOptions(), EncodeOptions(), ReadOptions(), True)
    kept_under({name: value for name, value in key.items() if name != "orientation"})
    now = WorkFolder(output, key)
    assert not now.matches  # not continued
    now.refuse_to_discard(40)  # discarded, not refused
    now.release(keep=False)
    kept_under(resume_key(source, info, MixingRestorer(), WindowOptions(), EncodeOptions(crf=30), ReadOptions(), True))
    other_options = WorkFolder(output, key)  # the control: work of other options is refused, and kept
    with pytest.raises(OutputError, match="made with other settings"):
        other_options.refuse_to_discard(40)


def info_of(width: int, height: int, rotation: int = 0, mirrored: bool = False, color: dict | None = None) -> VideoInfo:
    """A VideoInfo of frames of `width` x `height`, stored."""
    return VideoInfo(
        width=width, height=height, fps=None, time_base=None, frame_count=1, bit_depth=8, rotation=rotation,
        mirrored=mirrored, color=color or {},
    )  # fmt: skip


@pytest.mark.parametrize("mirrored", [False, True])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_each_half_is_captioned_in_its_top_left_corner_as_shown(rotation, mirrored):
    """firstlook54 F14: the halves had no captions, and an editor had to remember which side was which. Each gets
    one, upright as a player shows it: white letters on a box that darkens the picture to SHADE, the rest of the
    frame as composed without it."""
    size = (640, 360) if rotation in (0, 180) else (360, 640)  # shown 640x360 either way
    before = torch.rand(3, size[1], size[0], generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    after = 1 - before
    placed = placement(info_of(*size, rotation, mirrored), "dstnet-s")
    assert placed.captions is not None and placed.captions.margin == 4  # 2 font pixels of 2 px at 360p
    shown = displayed(compose(before, after, *placed), rotation, mirrored)
    plain = displayed(compose(before, after, rotation, mirrored), rotation, mirrored)
    assert shown.shape == plain.shape == (360, 2 * 640 + DIVIDER, 3)
    # the boxes: 20 px high (8 rows of letters and a row of box above and below, 2 px each) at 4 px from the corner;
    # "input" 5 letters of 5 columns and a column between, "deblurred (dstnet-s)" 20, and a column of box each side
    boxes = [(0, 4 + 2 * (5 * 6 + 1)), (640 + DIVIDER, 4 + 2 * (20 * 6 + 1))]
    outside = np.ones(shown.shape[:2], dtype=bool)
    for left, width in boxes:
        box = (slice(4, 24), slice(left + 4, left + width))
        outside[box] = False
        letters = (shown[box] == 1).all(axis=-1)
        assert 100 < letters.sum() < letters.size / 2  # white letters...
        darkened = shown[box][~letters]
        np.testing.assert_allclose(darkened, SHADE * plain[box][~letters], rtol=1e-6)  # ...on the darkened picture
    np.testing.assert_array_equal(shown[outside], plain[outside])  # nothing else changed
    assert (shown[:, 640:644] == 0).all()  # the line between stays black


@pytest.mark.parametrize("mirrored", [False, True])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_captions_are_turned_once_a_run_and_compose_as_stamped_upright_on_the_shown_halves(rotation, mirrored):
    """tidy56: compose turned both stamps into stored orientation for every frame; placement turns them once a run.
    The composed frame, shown, is bit for bit the plain composed frame with the upright stamps burnt into each half's
    top-left corner, as the old code's was (compared once, bit for bit: 4 sizes, the 8 layouts, float32 and float16)."""
    size = (320, 180) if rotation in (0, 180) else (180, 320)  # shown 320x180 either way
    info = info_of(*size, rotation, mirrored)
    placed, upright = placement(info, "dstnet-s"), captions_for(info, "dstnet-s")
    turned = rotation in (90, 270)
    assert [tuple(s.shape[::-1] if turned else s.shape) for s in placed.captions.stamps] == [(10, 31), (10, 121)]
    before = torch.rand(3, size[1], size[0], generator=torch.Generator().manual_seed(2))
    expected = displayed(compose(before, 1 - before, rotation, mirrored), rotation, mirrored).copy()
    for left, letters in zip((0, 320 + DIVIDER), upright.stamps):
        (h, w), margin = letters.shape, upright.margin
        box = torch.from_numpy(expected[margin : margin + h, left + margin : left + margin + w]).permute(2, 0, 1)
        burn(box, letters, upright.white)
    np.testing.assert_array_equal(displayed(compose(before, 1 - before, *placed), rotation, mirrored), expected)


def test_a_caption_takes_the_model_name_where_it_fits_and_tiny_halves_get_none():
    """The captions' font pixels grow with the picture (1 px up to 359 lines, 2 at 360p, 6 at 1080p); a half too
    small for the caption with its margin (over a quarter of its height, or half its width) gets none."""
    shapes = lambda info: [tuple(s.shape) for s in placement(info, "dstnet-s").captions.stamps]  # noqa: E731
    assert shapes(info_of(320, 180)) == [(10, 31), (10, 121)]
    assert shapes(info_of(1920, 1080)) == [(60, 186), (60, 726)]
    assert shapes(info_of(160, 120)) == [(10, 31), (10, 55)]  # "deblurred" alone
    assert placement(info_of(160, 120), None).captions.stamps[1].shape == (10, 55)  # a restorer without a name
    for tiny in (info_of(48, 32), info_of(64, 48), info_of(112, 96)):
        assert placement(tiny, "dstnet-s").captions is None
    before = torch.rand(3, 32, 48)
    np.testing.assert_array_equal(
        compose(before, 1 - before, *placement(info_of(48, 32), "dstnet-s")), compose(before, 1 - before, 0)
    )


def test_a_half_narrower_than_16_9_holds_the_captions_of_a_16_9_half_as_wide():
    """The font pixel came from the shorter side alone, so a 1080x1920 phone video's half held 14 letters where a
    1920x1080 one holds 26: a plain run's caption lost the model's name, `--strength 0.5` was captioned
    `strength 0.5`, and with `--keep-still` too there was none; a square 1080x1080 half, sized as a landscape one,
    lost the model's name too. A half narrower than 16:9 takes the font pixel of a 16:9 half as wide: the same
    captions, as large a share of its width, within the half."""
    for width, height, pixel, plain in [
        (1080, 1920, 3, "deblurred (dstnet-s)"),
        (720, 1280, 2, "deblurred (dstnet-s)"),
        (480, 854, 1, "deblurred (dstnet-s)"),
        (1080, 1080, 3, "deblurred (dstnet-s)"),
        (1440, 1080, 4, "deblurred (dstnet-s)"),
        (640, 480, 2, "deblurred (dstnet-s)"),
        (2560, 1080, 6, "deblurred (dstnet-s)"),  # wider than 16:9: by its height, as 1920x1080
    ]:
        stored = [info_of(width, height), info_of(height, width, rotation=90)]  # portrait as stored, or as turned
        for info in stored:
            captions = placement(info, "dstnet-s").captions
            upright = captions_for(info, "dstnet-s")
            assert torch.equal(upright.stamps[0], stamp("input", pixel)), (width, height)
            assert torch.equal(upright.stamps[1], stamp(plain, pixel)), (width, height)
            assert captions.margin == upright.margin == 2 * pixel
            for letters in upright.stamps:  # within a quarter of the half's height and half its width, as shown
                assert letters.shape[0] + upright.margin <= height / 4
                assert letters.shape[1] + upright.margin <= width / 2
    partial = placement(info_of(1080, 1920), "dstnet-s", mix=Mix(0.5, keep_still=True)).captions
    assert torch.equal(partial.stamps[1], stamp("strength 0.5, keep-still", 3))  # as on 1920x1080 (at 6 px)
    turned = placement(info_of(1920, 1080), "dstnet-s", mix=Mix(0.5, keep_still=True)).captions
    assert torch.equal(turned.stamps[1], stamp("strength 0.5, keep-still", 6))
    partial = captions_for(info_of(1080, 1920), "dstnet-s", mix=Mix(0.5))
    assert torch.equal(partial.stamps[1], stamp("dstnet-s, strength 0.5", 3))
    for width, height in [(1080, 1080), (1440, 1080)]:  # square and 4:3 ones too (they had none)
        partial = captions_for(info_of(width, height), "dstnet-s", mix=Mix(0.5, keep_still=True))
        assert torch.equal(partial.stamps[1], stamp("strength 0.5, keep-still", font_pixel(height, width)))


def test_captions_are_diffuse_white_on_hdr_frames():
    """White at the top level of PQ is the format's peak, 10 000 cd/m²: a caption as bright as the picture's paper
    white (203 cd/m², BT.2408) reads without glaring."""
    assert white_of(None) == white_of(1) == 1.0
    assert white_of(16) == pytest.approx(0.58, abs=0.005)  # PQ
    assert white_of(18) == pytest.approx(0.75, abs=0.005)  # HLG
    hdr = placement(info_of(640, 360, color={"transfer": 16}), "dstnet-s")
    assert hdr.captions.white == white_of(16)


def test_run_captions_the_halves_and_leaves_the_restored_frames_as_a_plain_run_writes_them(tmp_path, monkeypatch):
    """firstlook54 F14, end to end: the side-by-side frames carry the captions, the restored half is the plain run's
    frame outside its caption's box, and a plain run's frames carry none."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: MixingRestorer(name="dstnet-s"))
    video = media.make_video(tmp_path / "in.mkv", frames=3, size=(256, 64), codec="ffv1", pix_fmt="bgr0")
    for output, options in (("plain", []), ("compare", ["--side-by-side"])):
        result = runner.invoke(app, ["run", str(video), "-o", str(tmp_path / output), "-q", *options])
        assert result.exit_code == 0, result.output
    plains, compares = sorted((tmp_path / "plain").iterdir()), sorted((tmp_path / "compare").iterdir())
    assert len(plains) == len(compares) == 3
    for image, plain_png, compare_png in zip(media.read_frames(video), plains, compares):
        plain, compare = media.read_frames(plain_png)[0], media.read_frames(compare_png)[0]
        restored = compare[:, 256 + DIVIDER :]
        # the boxes at 2 px from each half's corner, 10 px high: "input" 31 px wide, "deblurred (dstnet-s)" 121
        for half, picture, width in ((compare[:, :256], image, 31), (restored, plain, 121)):
            box = (slice(2, 12), slice(2, 2 + width))
            letters = (half[box] == 255).all(axis=-1)
            assert letters.sum() > 50 and not (picture[box] == 255).all(axis=-1).any()  # none in a plain frame
            darker = np.round(SHADE * picture[box][~letters].astype(float))
            assert np.abs(half[box][~letters] - darker).max() <= 1
        outside = np.ones(plain.shape[:2], dtype=bool)
        outside[2:12, 2:123] = False
        np.testing.assert_array_equal(restored[outside], plain[outside])
        assert np.abs(compare[:, :256][12:].astype(int) - image[12:]).max() <= 1  # the input below its caption


def test_a_partial_restoration_is_captioned_as_evaluate_labels_it():
    """review56 F3: the right half was "deblurred (dstnet-s)" at any --strength, 0 included, and with --keep-still,
    where it is not the model's whole restoration, and a shared preview must not pass for it. A partial one's caption
    says what it keeps, as `deblur evaluate`'s labels do, never "deblurred" alone; at strength 0 it is the input."""
    assert restored_labels("dstnet-s") == ["deblurred (dstnet-s)", "deblurred"]
    assert restored_labels("dstnet-s", Mix(0.5)) == [
        "deblurred (dstnet-s, strength 0.5)",
        "dstnet-s, strength 0.5",
        "deblurred (strength 0.5)",
        "strength 0.5",
    ]
    assert restored_labels("dstnet-s", Mix(keep_still=True)) == [
        "deblurred (dstnet-s, keep-still)",
        "dstnet-s, keep-still",
        "deblurred (keep-still)",
        "keep-still",
    ]
    partial = ["deblurred (strength 0.25, keep-still)", "strength 0.25, keep-still"]
    assert restored_labels(None, Mix(0.25, True)) == partial
    as_input = ["input (strength 0)", "strength 0"]
    assert restored_labels("dstnet-s", Mix(0)) == restored_labels(None, Mix(0, True)) == as_input
    restored = lambda info, **options: placement(info, "dstnet-s", **options).captions.stamps[1]  # noqa: E731
    assert torch.equal(restored(info_of(2400, 360), mix=Mix(0.5)), stamp("deblurred (dstnet-s, strength 0.5)", 2))
    no_room = stamp("dstnet-s, strength 0.5", 2)  # for "deblurred (dstnet-s, strength 0.5)"
    assert torch.equal(restored(info_of(640, 360), mix=Mix(0.5)), no_room)
    assert torch.equal(restored(info_of(640, 360), mix=Mix(0.5, keep_still=True)), stamp("strength 0.5, keep-still", 2))
    assert torch.equal(restored(info_of(640, 360), mix=Mix(0)), stamp("input (strength 0)", 2))
    assert placement(info_of(140, 120), "dstnet-s", mix=Mix(0.5)).captions is None  # rather than "deblurred"


@pytest.mark.parametrize("width, height", [(640, 360), (960, 540), (1280, 720), (1920, 1080), (3840, 2160)])
def test_a_partial_restoration_on_16_9_frames_is_captioned_with_its_model_and_its_strength(width, height):
    """A 16:9 half holds 26 letters at any of these sizes (the font grows with the frame), too few for "deblurred
    (dstnet-s, strength 0.5)"; the caption fell back to "deblurred (strength 0.5)" and lost the model, which is what
    a shared preview is made to show. Beside "input", the model's name says which half is restored."""
    captions = placement(info_of(width, height), "dstnet-s", mix=Mix(0.5)).captions
    assert torch.equal(captions.stamps[1], stamp("dstnet-s, strength 0.5", height // 180))
    assert torch.equal(captions.stamps[0], stamp("input", height // 180))


def test_a_placement_moves_its_captions_to_the_frames_device_once():
    """compose burns the stamps into every frame on the frames' device: a run moves them there once (Placement.to),
    and a Placement already there is kept as it is, not copied again a frame."""
    placed = placement(info_of(640, 360, rotation=90), "dstnet-s", mix=Mix(0.5))
    assert placed.to(torch.device("cpu")) is placed
    moved = placed.to(torch.device("meta"))
    assert [s.device.type for s in moved.captions.stamps] == ["meta", "meta"]
    assert [s.shape for s in moved.captions.stamps] == [s.shape for s in placed.captions.stamps]
    assert moved.to(torch.device("meta")) is moved and moved[:2] == placed[:2]


def test_the_glyphs_sit_in_their_cells_as_the_letters_do():
    """The digits, "." and "," of the strength captions are drawn in the font's style: 5x7 cells and a row for
    descenders, digits as tall as ascenders (row 0 to 6), only g, p, "," and the brackets below the line."""
    for char, rows in FONT.items():
        glyph = torch.tensor([[bit == "#" for bit in row] for row in rows])
        assert glyph.shape == (GLYPH_HEIGHT, 5) and (glyph.any() or char == " "), char
        assert glyph[-1].any() == (char in "gp,()"), char
        if char.isdigit():
            assert glyph[0].any() and glyph[6].any(), char
    text = "strength 0.5, 0123456789"
    letters = stamp(text, 3)
    assert letters.shape == (3 * (GLYPH_HEIGHT + 2 * PAD), 3 * (6 * len(text) - 1 + 2 * PAD))
    inside = letters[3 * PAD : -3 * PAD, 3 * PAD : -3 * PAD]
    assert inside.sum() == letters.sum() > 0  # the box round the letters stays clear
    lit = sum(row.count("#") for char in text for row in FONT[char])
    assert letters.sum() == 9 * lit


@pytest.mark.parametrize(
    "options, label",
    [(["--strength", "0.5", "--keep-still"], "strength 0.5, keep-still"), (["--strength", "0"], "input (strength 0)")],
)
def test_run_captions_a_partial_restoration_as_such(tmp_path, monkeypatch, options, label):
    """review56 F3, end to end: the restored half's caption box holds the partial restoration's label."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: MixingRestorer(name="dstnet-s"))
    video = media.make_video(tmp_path / "in.mkv", frames=2, size=(320, 64), codec="ffv1", pix_fmt="bgr0")
    result = runner.invoke(app, ["run", str(video), "-o", str(tmp_path / "out"), "-q", "--side-by-side", *options])
    assert result.exit_code == 0, result.output
    frame = media.read_frames(sorted((tmp_path / "out").iterdir())[0])[0]
    expected = stamp(label, 1).numpy()  # 1 px font pixels below 360 lines, 2 px from the corner
    box = frame[2 : 2 + expected.shape[0], 320 + DIVIDER + 2 : 320 + DIVIDER + 2 + expected.shape[1]]
    np.testing.assert_array_equal((box == 255).all(axis=-1), expected)
