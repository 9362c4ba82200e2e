"""A frame without colour comes out without colour: the models, trained on colour, tint grey frames."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import deblur_cli.restorers as restorers_module
from deblur_cli.cli import app
from deblur_cli.stream import greyed, is_grey, restore_stream
from deblur_cli.windows import WindowOptions
from tests.restorers import IdentityRestorer

runner = CliRunner()


class TintRestorer(IdentityRestorer):
    """Adds red and takes green away: what a colour model may do to a grey frame, much enlarged."""

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        out = super().__call__(frames)
        out[:, 0] += 0.1
        out[:, 1] -= 0.05
        return out


def test_is_grey_and_greyed():
    grey = torch.rand(1, 8, 8).expand(3, 8, 8).contiguous()
    assert is_grey(grey) and is_grey((grey * 255).to(torch.uint8))
    colour = grey.clone()
    colour[2, 3, 4] += 1 / 255  # one level of one pixel
    assert not is_grey(colour)
    tinted = grey + torch.tensor([0.1, -0.05, 0.0]).view(3, 1, 1)
    assert torch.allclose(greyed(tinted), (grey + 0.05 / 3).expand(3, 8, 8), atol=1e-6)


@pytest.mark.parametrize("as_uint8", [False, True])
def test_grey_frames_come_out_grey_and_colour_frames_as_restored(as_uint8):
    generator = torch.Generator().manual_seed(0)
    frames = []
    for t in range(9):  # grey frames among colour ones, in windows that hold both
        frame = torch.rand(3, 32, 48, generator=generator)
        frames.append(frame[:1].expand(3, -1, -1).contiguous() if t % 3 else frame)
    if as_uint8:
        frames = [(frame * 255).round().to(torch.uint8) for frame in frames]
    windows = WindowOptions(window=4, overlap=1, tile=None, scene_cuts=False)
    with torch.inference_mode():
        restored = list(restore_stream(iter(frames), TintRestorer(), windows, (32, 48)))
    assert len(restored) == len(frames)
    for t, (frame, out) in enumerate(zip(frames, restored)):
        source = frame.float() / 255 if as_uint8 else frame
        if t % 3:
            assert is_grey(out), t
            assert torch.allclose(out[0], source[0] + 0.05 / 3, atol=1e-6), t
        else:  # the tint stays: only frames without colour are made grey
            assert torch.allclose(out[0] - out[1], source[0] - source[1] + 0.15, atol=1e-6), t


def test_a_grey_image_and_a_black_and_white_video_stay_without_colour(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: TintRestorer())
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((30, 41)) * 255).astype(np.uint8), "L").save(tmp_path / "grey.png")
    result = runner.invoke(app, ["run", str(tmp_path / "grey.png"), "-o", str(tmp_path / "out.png"), "-q"])
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open(tmp_path / "out.png").convert("RGB")).astype(int)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()

    # black-and-white video in YUV: neutral chroma in, neutral chroma out; colour video keeps the tint
    for name, colour in (("bw", False), ("colour", True)):
        source = tmp_path / f"{name}.mp4"
        with av.open(str(source), "w") as container:
            stream = container.add_stream("libx264", rate=25, options={"crf": "0"})
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for _ in range(6):
                picture = (rng.random((48, 64, 3 if colour else 1)) * 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.broadcast_to(picture, (48, 64, 3))), "rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        result = runner.invoke(app, ["run", str(source), "-o", str(tmp_path / f"{name}-out.mp4"), "-q"])
        assert result.exit_code == 0, result.output
        with av.open(str(tmp_path / f"{name}-out.mp4")) as container:
            chroma = [frame.to_ndarray(format="yuv420p")[48:] for frame in container.decode(video=0)]
        assert len(chroma) == 6
        neutral = all((plane == 128).all() for plane in chroma)
        assert neutral != colour, name


def _grey_video(path, fmt: str, rng) -> list[np.ndarray]:
    """A 4-frame FFV1 video in the grey pixel format `fmt`; returns its planes."""
    planes = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 40, 30, fmt
        for _ in range(4):
            top = 255 if fmt == "gray" else 65535
            plane = (rng.random((30, 40)) * top).astype(np.uint8 if fmt == "gray" else np.uint16)
            planes.append(plane)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(plane, format=fmt)))
        container.mux(stream.encode(None))
    return planes


def _planes(path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return frames[0].format.name, [frame.to_ndarray() for frame in frames]


def test_grey_sources_are_written_grey_sample_for_sample(tmp_path, monkeypatch):
    """A grey FFV1 master comes back as grey FFV1, a grey PNG as a grey PNG (they were RGB: bgr0, rgb24),
    each sample as restored; an image sequence of grey and colour images keeps each image's kind."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    rng = np.random.default_rng(1)
    for fmt in ("gray", "gray16le"):
        planes = _grey_video(tmp_path / f"{fmt}.mkv", fmt, rng)
        out = tmp_path / f"{fmt}-out.mkv"
        result = runner.invoke(app, ["run", str(tmp_path / f"{fmt}.mkv"), "-o", str(out), "-q"])
        assert result.exit_code == 0, result.output
        written, restored = _planes(out)
        assert written == fmt and all((a == b).all() for a, b in zip(planes, restored)) and len(restored) == 4
        info = runner.invoke(app, ["info", str(tmp_path / f"{fmt}.mkv"), "--json"])
        assert f"ffv1, {fmt}" in info.stdout, info.stdout

    folder = tmp_path / "mixed"
    folder.mkdir()
    for name, shape in (("a1", (30, 40)), ("a2", (30, 40, 3)), ("a3", (30, 40))):
        Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(folder / f"{name}.png")
    result = runner.invoke(app, ["run", str(folder), "-o", str(tmp_path / "frames") + "/", "-q"])
    assert result.exit_code == 0, result.output
    for name, fmt in (("a1", "gray"), ("a2", "rgb24"), ("a3", "gray")):
        written, (plane,) = _planes(tmp_path / "frames" / f"{name}.png")
        assert written == fmt, name
        assert (plane == np.asarray(Image.open(folder / f"{name}.png"))).all(), name

    described = runner.invoke(app, ["info", str(folder), str(folder / "a1.png"), "--json"])
    assert described.exit_code == 0, described.output
    assert [entry["written_with"] for entry in json.loads(described.stdout)] == [
        "PNG frames, grey where the input's are", "an image (.png, grey)"
    ]
    for suffix, fmt in ((".png", "gray"), (".tif", "gray"), (".tga", "gray"), (".dpx", "gray"), (".jpg", "yuvj444p")):
        result = runner.invoke(app, ["run", str(folder / "a1.png"), "-o", str(tmp_path / f"one{suffix}"), "-q"])
        assert result.exit_code == 0, result.output
        assert _planes(tmp_path / f"one{suffix}")[0] == fmt, suffix
    deep = (rng.random((30, 40)) * 65535).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    for suffix, fmt in ((".png", "gray16be"), (".tif", "gray16le"), (".dpx", "gray16be")):
        result = runner.invoke(app, ["run", str(tmp_path / "deep.png"), "-o", str(tmp_path / f"deep-out{suffix}"), "-q"])
        assert result.exit_code == 0, result.output
        written, (plane,) = _planes(tmp_path / f"deep-out{suffix}")
        assert written == fmt and (plane == deep).all(), suffix
    for suffix in (".bmp", ".tga", ".jpg"):  # 8 bits only: rounded once, and still without colour
        target = tmp_path / f"deep-out{suffix}"
        result = runner.invoke(app, ["run", str(tmp_path / "deep.png"), "-o", str(target), "-q"])
        assert result.exit_code == 0, result.output
        with av.open(str(target)) as container:
            frame = next(container.decode(video=0))
        if suffix == ".jpg":  # swscale's 16-bit path put the chroma at 127 in places
            planes = frame.to_ndarray(format="yuvj444p")
            assert (planes[1:] == 128).all()
        else:  # and BMP's and TGA's channels up to 267 of 65535 apart
            rgb = frame.to_ndarray(format="rgb24").astype(int)
            assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all(), suffix
            assert np.abs(rgb[..., 0] - deep / 257).max() <= 0.5, suffix


def test_grey_pixel_formats_of_another_depth_are_scaled_and_rounded_once(tmp_path, monkeypatch):
    """--pix-fmt gray10le for 16-bit grey frames and gray16le for 8-bit ones: grey_frame raised on both at
    first; swscale, which took them then, put gray10le up to 4.4 codes of 1023 off."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    rng = np.random.default_rng(2)
    deep, shallow = _grey_video(tmp_path / "deep.mkv", "gray16le", rng), _grey_video(tmp_path / "8.mkv", "gray", rng)
    for source, fmt, planes, scale in (("deep.mkv", "gray10le", deep, 1023 / 65535), ("8.mkv", "gray16le", shallow, 257)):
        out = tmp_path / f"{fmt}.mkv"
        result = runner.invoke(app, ["run", str(tmp_path / source), "-o", str(out), "--pix-fmt", fmt, "-q"])
        assert result.exit_code == 0, result.output
        written, restored = _planes(out)
        assert written == fmt and len(restored) == 4
        for plane, back in zip(planes, restored):
            assert np.abs(back.astype(float) - plane.astype(float) * scale).max() <= 0.5, fmt


@pytest.mark.parametrize("fmt", ["gray10le", "gray12le", "gray9le"])
def test_deep_grey_video_is_read_scaled_so_white_stays_white(tmp_path, fmt):
    """Found in review (colour53 F3): swscale moves 9- to 14-bit grey up to 16 bits by a shift, so gray10le
    was read 0.1% dark (white 1023 as 65472 of 65535, 939 of 940 in a limited-range 10-bit output)."""
    top = (1 << av.VideoFormat(fmt).components[0].bits) - 1
    plane = np.round(np.linspace(0, top, 40 * 30)).astype(np.uint16).reshape(30, 40)
    with av.open(str(tmp_path / "in.mkv"), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 40, 30, fmt
        for _ in range(2):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(plane, format=fmt)))
        container.mux(stream.encode(None))
    out = tmp_path / "out.mkv"
    result = runner.invoke(app, ["run", str(tmp_path / "in.mkv"), "-o", str(out), "--strength", "0", "-q"])
    assert result.exit_code == 0, result.output
    written, restored = _planes(out)
    assert written == "gray16le" and len(restored) == 2
    for back in restored:
        np.testing.assert_array_equal(back, np.round(plane * (65535 / top)))


def test_work_kept_before_grey_frames_were_kept_grey_is_not_continued():
    """An interrupted run's work is continued only under the same key: work kept before this rule could
    hold tinted grey frames, or FFV1 in RGB, which the join refused only after every frame was restored."""
    from pathlib import Path

    from deblur_cli.pipeline import resume_key
    from deblur_cli.video_io import EncodeOptions, ReadOptions, VideoInfo
    from tests.restorers import MixingRestorer

    info = VideoInfo(width=2, height=2, fps=None, time_base=None, frame_count=1, bit_depth=8)
    key = resume_key(Path(__file__), info, MixingRestorer(), WindowOptions(), EncodeOptions(), ReadOptions(), False)
    assert key["grey"] == "kept"
