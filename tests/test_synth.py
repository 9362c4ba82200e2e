import math

import numpy as np
import pytest
import torch

from deblur_cli.data.photos import procedural_scene
from deblur_cli.data.synth import jpeg_like, synthesize_clip
from deblur_cli.transfer import linear_to_srgb, srgb_to_linear


def _gradient_energy(x: torch.Tensor) -> float:
    return float((x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


def test_clip_contract_and_determinism():
    blurred, sharp = synthesize_clip(3, frames=4, size=(40, 24))
    assert blurred.shape == sharp.shape == (4, 3, 24, 40)
    assert blurred.dtype == sharp.dtype == torch.float32
    assert 0 <= blurred.min() and blurred.max() <= 1 and 0 <= sharp.min() and sharp.max() <= 1
    again = synthesize_clip(3, frames=4, size=(40, 24))
    assert torch.equal(again[0], blurred) and torch.equal(again[1], sharp)
    other = synthesize_clip(4, frames=4, size=(40, 24))
    assert not torch.equal(other[1], sharp)


def test_blurred_input_is_8_bit():
    blurred, _ = synthesize_clip(0, frames=2, size=(32, 32))
    assert torch.equal(torch.round(blurred * 255), blurred * 255)


def test_blur_removes_detail_across_many_clips():
    # without noise and compression, averaging along a motion can only lose gradient energy (or keep it
    # for a still camera): over several seeds the blurred clip must be clearly softer
    ratios = []
    for seed in range(6):
        blurred, sharp = synthesize_clip(seed, frames=3, size=(48, 48), degrade=False)
        ratios.append(_gradient_energy(blurred) / _gradient_energy(sharp))
    assert max(ratios) <= 1.02
    assert np.mean(ratios) < 0.9


def test_consecutive_sharp_frames_follow_one_motion():
    # neighbouring targets differ (the camera moves) but are far closer to each other than to a
    # different clip's frames
    _, sharp = synthesize_clip(11, frames=3, size=(48, 48), degrade=False, max_layers=0)
    _, other = synthesize_clip(12, frames=3, size=(48, 48), degrade=False, max_layers=0)
    near = (sharp[1] - sharp[0]).abs().mean()
    far = (sharp[1] - other[1]).abs().mean()
    assert near < far


def test_photo_background_is_used():
    photo = np.zeros((300, 400, 3), np.uint8)
    photo[..., 1] = 200  # a flat green photo stays flat green under any motion
    _, sharp = synthesize_clip(1, frames=2, size=(32, 32), photo=photo, max_layers=0)
    expected = torch.tensor([0.0, 200 / 255, 0.0])[None, :, None, None]
    torch.testing.assert_close(sharp, expected.expand_as(sharp), atol=1e-4, rtol=0)


def test_photos_as_tensors_give_the_same_clips_as_arrays():
    # a GPU training loop keeps its photos on the device as uint8 tensors; the clip must not depend on that
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (300 + 20 * i, 400, 3), dtype=np.uint8) for i in range(3)]
    for seed in range(4):
        arrays = synthesize_clip(seed, frames=3, size=(48, 32), photo=photos[0], layer_photos=photos[1:])
        tensors = synthesize_clip(
            seed, frames=3, size=(48, 32), photo=torch.from_numpy(photos[0]),
            layer_photos=[torch.from_numpy(p) for p in photos[1:]], device="cpu",
        )  # fmt: skip
        assert torch.equal(arrays[0], tensors[0]) and torch.equal(arrays[1], tensors[1])


def test_clips_render_on_the_device_they_are_asked_for():
    # the meta device has no data, so any tensor left on the CPU in the arithmetic raises: every seed
    # below (layers, noise, JPEG, procedural scenes and photos) must render without touching the CPU
    photo = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    for seed in range(12):
        background = torch.from_numpy(photo).to("meta") if seed % 2 else None
        blurred, sharp = synthesize_clip(seed, frames=3, size=(48, 32), photo=background, layer_photos=[photo], device="meta")
        assert blurred.device.type == sharp.device.type == "meta"
        assert blurred.shape == sharp.shape == (3, 3, 32, 48)


def test_srgb_round_trip():
    x = torch.linspace(0, 1, 101)
    torch.testing.assert_close(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5, rtol=0)
    # 50% sRGB grey is about 21.4% linear light: the reason blur is averaged in linear space
    assert abs(float(srgb_to_linear(torch.tensor(0.5))) - 0.2140) < 1e-3


@pytest.mark.parametrize("size", [(16, 16), (21, 13)])
def test_jpeg_like_quality_orders_the_error(size):
    torch.manual_seed(0)
    grey = torch.rand(1, 1, size[1], size[0]).expand(1, 3, -1, -1)  # no colour: 4:2:0 chroma loses nothing
    x = torch.nn.functional.avg_pool2d(grey, 3, stride=1, padding=1)  # some structure, as in images
    errors = [float((jpeg_like(x, q) - x).abs().mean()) for q in (98, 75, 20)]
    assert jpeg_like(x, 75).shape == x.shape
    assert errors[0] < errors[1] < errors[2]
    assert errors[0] < 0.02


def test_synth_command_writes_pairs(tmp_path):
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    result = CliRunner().invoke(app, ["synth", str(tmp_path / "ds"), "--clips", "2", "--frames", "3", "--size", "32x24"])
    assert result.exit_code == 0, result.output
    for clip in ("clip_0000", "clip_0001"):
        for kind in ("blurred", "sharp"):
            assert sorted(p.name for p in (tmp_path / "ds" / clip / kind).iterdir()) == ["0000.png", "0001.png", "0002.png"]
    bad = CliRunner().invoke(app, ["synth", str(tmp_path / "x"), "--size", "big"])
    assert bad.exit_code == 2 and "--size" in bad.output


def test_synth_reports_each_frame_rendered_and_a_log_hears_how_far_it_has_come(tmp_path, monkeypatch):
    """A 400-frame clip ran for minutes with nothing said until it was done ("clip 1/1")."""
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli import progress_lines
    from deblur_cli.cli.app import app
    from deblur_cli.data.writer import write_dataset

    heard = []
    write_dataset(tmp_path / "a", clips=2, frames=3, size=(32, 24), sources=None, split="val", seed=0,
                  progress=lambda done, clips: heard.append((done, clips)), on_frame=lambda: heard.append("frame"))  # fmt: skip
    assert heard == ["frame"] * 3 + [(1, 2)] + ["frame"] * 3 + [(2, 2)]
    monkeypatch.setattr(progress_lines, "EVERY", 0.0)  # a line at every frame, as a log gets one a minute
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "b"), "--clips", "2", "--frames", "3", "--size", "32x24"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith(("synth:", "clip"))]
    assert [line.split(",")[0] for line in lines] == [
        "synth: 1 of 6 frames (16%)", "synth: 2 of 6 frames (33%)", "synth: 3 of 6 frames (50%)", "clip 1/2",
        "synth: 4 of 6 frames (66%)", "synth: 5 of 6 frames (83%)", "synth: 6 of 6 frames (100%)", "clip 2/2",
    ]  # fmt: skip
    args = ["synth", str(tmp_path / "c"), "--clips", "2", "--frames", "3", "--size", "32x24", "-q"]
    quiet = CliRunner().invoke(app, args)
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == f"{tmp_path / 'c'}\n"  # its path alone


def test_synth_takes_every_seed_run_takes(tmp_path):
    """Every command takes seeds 0 to 2**64 - 1 (synth stopped at 2**63 - 1, train at 2**40)."""
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    def frames(seed, name):
        args = ["synth", str(tmp_path / name), "--clips", "1", "--frames", "2", "--size", "32x24", "--seed", str(seed)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return [p.read_bytes() for p in sorted((tmp_path / name / "clip_0000" / "blurred").iterdir())]

    largest = 2**64 - 1
    assert frames(largest, "a") == frames(largest, "b") != frames(largest - 1, "c")
    refused = CliRunner().invoke(app, ["synth", str(tmp_path / "d"), "--seed", str(2**64)])
    assert refused.exit_code == 2 and "--seed" in refused.output and not (tmp_path / "d").exists()


def test_synth_command_writes_lossless_videos(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app
    from deblur_cli.data.dataset import FixedClips
    from tests import media

    args = ["synth", str(tmp_path / "ds"), "--clips", "1", "--frames", "3", "--size", "32x24", "--format", "ffv1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "ds/clip_0000").iterdir()) == ["blurred.mkv", "sharp.mkv"]
    blurred, _ = FixedClips([], count=1, frames=3, size=(32, 24), seed=0)[0]
    frames = media.read_frames(tmp_path / "ds/clip_0000/blurred.mkv")
    expected = (blurred.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(np.stack(frames), expected)  # lossless
    bad = CliRunner().invoke(app, [*args[:-1], "gif"])
    assert bad.exit_code == 2 and "--format" in bad.output
    monkeypatch.chdir(tmp_path)  # a relative name FFmpeg would take for a protocol's URL ("day:2" as protocol "day")
    assert CliRunner().invoke(app, ["synth", "day:2", *args[2:]]).exit_code == 0
    assert np.array_equal(np.stack(media.read_frames(tmp_path / "day:2/clip_0000/blurred.mkv")), expected)


def _photo_cache(tmp_path, names, size=(96, 64)):
    rng = np.random.default_rng(0)
    for name in names:
        np.save(tmp_path / f"{name}.npy", rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))
    return tmp_path


def test_views_of_one_scene_share_a_split(tmp_path):
    from deblur_cli.data.dataset import split_photos

    names = [f"scene{i}{view}" for i in range(30) for view in ("L", "R", "GT")]
    train, val = split_photos(_photo_cache(tmp_path, names, size=(8, 8)))
    assert val and train
    held = {p.stem[:-2] if p.stem.endswith("GT") else p.stem[:-1] for p in val}
    assert not any((p.stem[:-2] if p.stem.endswith("GT") else p.stem[:-1]) in held for p in train)


def test_stream_resumes_and_ranks_draw_disjoint_clips(tmp_path):
    from deblur_cli.data.dataset import TrainClips

    photos = sorted(_photo_cache(tmp_path, ["a", "b", "c"]).glob("*.npy"))
    def take(n, **kw):
        stream = iter(TrainClips(photos, frames=2, crop=16, seed=5, **kw))
        return [next(stream)[1] for _ in range(n)]

    single = take(4)
    assert torch.equal(take(2, start=2)[0], single[2])  # resume at clip 2
    rank0, rank1 = take(2, world_size=2, rank=0), take(2, world_size=2, rank=1)
    assert torch.equal(rank0[0], single[0]) and torch.equal(rank1[0], single[1])
    assert torch.equal(rank0[1], single[2]) and torch.equal(rank1[1], single[3])


def test_photos_too_small_for_the_clip_are_not_used(tmp_path):
    from deblur_cli.data.dataset import FixedClips

    photos = sorted(_photo_cache(tmp_path, ["small"], size=(40, 30)).glob("*.npy"))
    assert len(FixedClips(photos, count=1, frames=1, size=(32, 24), seed=0).pool) == 1
    big = FixedClips(photos, count=1, frames=1, size=(64, 48), seed=0)
    assert len(big.pool) == 0 and big.procedural_share == 1.0
    assert big[0][0].shape == (1, 3, 48, 64)


@pytest.mark.skipif(__import__("shutil").which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_fetch_sources_unpacks_converts_and_records_licences(tmp_path):
    import json
    import subprocess

    from deblur_cli.data.sources import LONG_SIDE, fetch_sources
    from deblur_cli.data.writer import write_png

    # a stand-in for the Debian package, already "downloaded": no network needed
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: lomiri-wallpapers-16.04\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
    )
    images = root / "usr/share/backgrounds"
    images.mkdir(parents=True)
    write_png(torch.rand(3, 300, 1600), images / "wide_by_someone.jpg")  # PNG data; FFmpeg probes content
    write_png(torch.rand(3, 300, 400), images / "analogpattern_by_x.jpg")  # excluded by name
    (root / "usr/share/doc/lomiri-wallpapers-16.04").mkdir(parents=True)
    (root / "usr/share/doc/lomiri-wallpapers-16.04/copyright").write_text("Files: *\nLicense: CC0-1.0\n")
    cache = tmp_path / "cache"
    (cache / "debs").mkdir(parents=True)
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root),
                    str(cache / "debs/lomiri-wallpapers-16.04_1.0_all.deb")], check=True, capture_output=True)  # fmt: skip

    entries = fetch_sources(cache, names=("lomiri",), videos=())
    assert [e["original"] for e in entries] == ["/usr/share/backgrounds/wide_by_someone.jpg"]
    entry = entries[0]
    assert entry["version"] == "1.0" and entry["size"] == [LONG_SIDE, 240]
    assert np.load(cache / entry["photo"]).shape == (240, LONG_SIDE, 3)
    assert "CC0-1.0" in (cache / entry["copyright"]).read_text()
    assert json.loads((cache / "manifest.json").read_text()) == entries

    photo = cache / entry["photo"]
    np.save(photo, np.zeros((240, LONG_SIDE, 3), np.uint8))
    said: list[str] = []
    fetch_sources(cache, names=("lomiri",), videos=(), progress=said.append)
    assert not np.load(photo).any()  # converted the current way: reused
    assert said == ["lomiri: lomiri-wallpapers-16.04 (downloaded before)"]  # not "installing" it again
    (photo.parent / "decode.txt").write_text("older\n")
    fetch_sources(cache, names=("lomiri",), videos=())
    assert np.load(photo).any() and (photo.parent / "decode.txt").read_text() == "rgb-exact-1\n"
    whole = photo.read_bytes()
    for damage in (whole[:1000], b"\x93NUMPY" + bytes(200)):  # cut short, or overwritten: what train refuses
        photo.write_bytes(damage)  # found in review: the fetch train's hint names crashed on it and mended nothing
        assert fetch_sources(cache, names=("lomiri",), videos=()) == entries and photo.read_bytes() == whole


def test_still_can_be_forced_either_way():
    moving = [synthesize_clip(s, frames=3, size=(48, 48), degrade=False, max_layers=0, still=False) for s in range(4)]
    still = [synthesize_clip(s, frames=3, size=(48, 48), degrade=False, max_layers=0, still=True) for s in range(4)]

    def change(clip):
        _, sharp = clip
        return float((sharp[1:] - sharp[:-1]).abs().mean())

    assert max(change(c) for c in still) < min(change(c) for c in moving)


def test_synth_command_too_big_for_memory_is_one_clear_error(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import deblur_cli.host_memory
    import deblur_cli.cli.synth  # noqa: F401  registers the command
    import deblur_cli.data.writer
    from deblur_cli.cli.app import app

    def out_of_memory(*args, **kwargs):  # what torch raises on a CPU that cannot hold the clip
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(deblur_cli.data.writer, "write_dataset", out_of_memory)
    args = ["synth", str(tmp_path / "ds"), "--frames", "360", "--size", "1280x720"]
    monkeypatch.setattr(deblur_cli.host_memory, "available_bytes", lambda: 64 * 2**30)  # the estimate lets it start
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "not enough memory to synthesise clips of 360 frames at 1280x720 (about 36.5 GB each)" in result.stderr
    assert "--frames" in result.stderr and "Traceback" not in result.output
    # where the estimate (110 bytes a pixel of every frame) already exceeds what is free, before any work:
    # the system would kill the process part-way (a 20000x20000 clip was, after 83 s)
    monkeypatch.setattr(deblur_cli.host_memory, "available_bytes", lambda: 8 * 2**30)
    for command in (args, ["demo", "-o", str(tmp_path / "d"), "--frames", "360", "--size", "1280x720"],
                    ["bench", "--frames", "360", "--size", "1280x720"]):  # fmt: skip
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2 and "(about 36.5 GB each, 8.6 GB available)" in result.stderr, result.output


def test_ffv1_clips_of_the_same_frames_are_the_same_bytes(tmp_path):
    """Matroska writes a random segment ID and the date unless told to be bit-exact: the same seed
    must give the same files, as its PNGs do."""
    from deblur_cli.data.writer import write_ffv1

    clip = torch.rand(2, 3, 16, 24, generator=torch.Generator().manual_seed(0))
    write_ffv1(clip, tmp_path / "a.mkv")
    write_ffv1(clip, tmp_path / "b.mkv")
    assert (tmp_path / "a.mkv").read_bytes() == (tmp_path / "b.mkv").read_bytes()


class _Stop(KeyboardInterrupt):
    pass


def test_a_clip_interrupted_while_written_leaves_no_temporary_file(tmp_path, monkeypatch):
    """A synth stopped by Ctrl-C or SIGTERM mid-clip left `blurred.tmp.mkv`, and the same command then
    refused the folder as not empty."""
    from deblur_cli import files
    from deblur_cli.data.writer import write_ffv1, write_png

    clip = torch.rand(3, 3, 16, 24, generator=torch.Generator().manual_seed(0))

    class StoppedAtItsSecondFrame:  # (PyAV 17's classes cannot be patched: the clip stops instead)
        shape = clip.shape

        def __iter__(self):
            yield clip[0]
            raise _Stop()

    with pytest.raises(_Stop):
        write_ffv1(StoppedAtItsSecondFrame(), tmp_path / "blurred.mkv")
    monkeypatch.setattr(files.os, "replace", lambda source, target: (_ for _ in ()).throw(_Stop()))
    with pytest.raises(_Stop):
        write_png(clip[0], tmp_path / "frame.png")
    assert list(tmp_path.iterdir()) == []


def test_a_frame_that_a_read_only_folder_refuses_is_one_error_naming_the_frame(tmp_path, monkeypatch):
    """On a read-only file system the cleanup's unlink of the temporary file fails too (EROFS, not
    FileNotFoundError), and that second OSError replaced the OutputError: `deblur train --evaluate
    --sample ro/s.png` said `error: ro/s.tmp.png: Read-only file system`, naming a file nobody asked for."""
    import errno

    from deblur_cli import files
    from deblur_cli.data.writer import write_png
    from deblur_cli.errors import OutputError

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(files.os, "replace", read_only)
    monkeypatch.setattr(type(tmp_path), "unlink", read_only)
    with pytest.raises(OutputError) as caught:
        write_png(torch.zeros(3, 8, 8), tmp_path / "s.png")
    assert str(caught.value) == f"cannot write to {tmp_path}: permission denied"
    assert caught.value.hint == "choose a directory you can write to"


def test_a_png_is_written_without_pyav_and_decodes_to_the_same_pixels(tmp_path, monkeypatch):
    """`deblur train --evaluate --sample` on a training machine without PyAV scored the model, then
    failed with an internal error (write_png imported av)."""
    import sys

    import av

    from deblur_cli.data.writer import write_png

    frame = torch.rand(3, 37, 53, generator=torch.Generator().manual_seed(0))  # odd sizes: no row padding
    frame[:, 0, :4] = torch.tensor([0.0, 1.0, 0.5, 1.0])[None]  # wrapping differences along a row
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
        write_png(frame, tmp_path / "frame.png")
    with av.open(str(tmp_path / "frame.png")) as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="rgb24")
    expected = (frame.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert decoded.shape == (37, 53, 3) and np.array_equal(decoded, expected)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pack", "p", "--format", "ffv1"], "each take --sources alone (--format is for writing clips)"),
        (["--unpack", "p", "--clips", "5", "--size", "64x64"], "(--clips, --size are for writing clips)"),
        (["--add", "mine", "--seed", "3"], "--add takes --sources alone (--seed is for writing clips)"),
    ],
)
def test_options_of_writing_clips_beside_pack_unpack_or_add_are_refused(tmp_path, args, message):
    """They were passed over without a word: --pack --size 64x64 packed the cache as it is."""
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    result = CliRunner().invoke(app, ["synth", "--sources", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_unpacking_into_a_cache_that_holds_files_is_refused(tmp_path):
    """It replaced the lossless photos of an existing cache with their JPEG round trips."""
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    (tmp_path / "cache").mkdir()
    cache = _photo_cache(tmp_path / "cache", ["a"])
    before = (cache / "a.npy").read_bytes()
    (tmp_path / "packed").mkdir()
    (tmp_path / "packed" / "a.jpg").write_bytes(b"\xff\xd8")
    result = CliRunner().invoke(app, ["synth", "--unpack", str(tmp_path / "packed"), "--sources", str(cache)])
    assert result.exit_code == 1 and "is not empty" in result.output and "Traceback" not in result.output
    assert (cache / "a.npy").read_bytes() == before


def test_batches_hold_the_same_clips_whatever_the_number_of_workers_and_after_a_resume():
    """With workers, each worker collated a batch of its own clips, which the stream had dealt out one
    clip per worker in turn: batches mixed clips out of order, and a resume skipped and repeated some."""
    from torch.utils.data import DataLoader

    from deblur_cli.data.dataset import TrainClips
    from deblur_cli.data.workers import worker_context

    def batches(workers, start=0, n=3):
        stream = TrainClips([], frames=1, crop=16, seed=3, batch=2, start=start)
        context = worker_context(TrainClips.__module__) if workers else None  # as training's loader starts them
        loader = iter(DataLoader(stream, batch_size=2, num_workers=workers, multiprocessing_context=context))
        return [next(loader)[1] for _ in range(n)]

    alone = batches(0, n=5)
    resumed = alone[2:5]  # from clip 4, the third batch
    for got, expected in [(batches(2), alone[:3]), (batches(2, start=4), resumed), (batches(0, start=4), resumed)]:
        assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


def test_an_interrupted_synth_leaves_only_whole_clips(tmp_path, monkeypatch):
    """A clip stopped part-way stayed under its final name, half its frames missing."""
    from deblur_cli.data import writer

    plain, calls = writer.write_png, []

    def stopping(frame, path):
        calls.append(1)
        if len(calls) == 6:  # clip 0 has 4 frames (2 blurred, 2 sharp); stop inside clip 1
            raise _Stop()
        plain(frame, path)

    monkeypatch.setattr(writer, "write_png", stopping)
    with pytest.raises(_Stop):
        writer.write_dataset(tmp_path, clips=2, frames=2, size=(32, 24), sources=None, split="val", seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [writer.STAMP, "clip_0000"]
    assert len(list((tmp_path / "clip_0000").rglob("*.png"))) == 4


def test_the_same_synth_command_continues_a_stopped_one_and_writes_the_same_clips(tmp_path, monkeypatch):
    """A stopped synth's folder was refused as not empty: its clips had to be made again from the start."""
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app
    from deblur_cli.data import writer

    command = ["synth", "--clips", "3", "--frames", "2", "--size", "32x24", "--split", "val"]
    whole = CliRunner().invoke(app, [*command, str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    plain, calls = writer.write_clip, []

    def stopping(*args):
        calls.append(1)
        if len(calls) == 2:  # inside the second clip
            raise _Stop()
        plain(*args)

    monkeypatch.setattr(writer, "write_clip", stopping)
    stopped = CliRunner().invoke(app, [*command, str(tmp_path / "parts")])
    assert stopped.exit_code == 130 and "1 of 3 clips is written" in stopped.stderr
    monkeypatch.setattr(writer, "write_clip", plain)
    other = CliRunner().invoke(app, [*command, "--seed", "1", str(tmp_path / "parts")])
    assert other.exit_code == 1 and "holds clips written with other settings: seed 0 (now 1)" in other.stderr
    resumed = CliRunner().invoke(app, [*command, str(tmp_path / "parts")])
    assert resumed.exit_code == 0 and "1 of the 3 clips was there" in resumed.stderr
    for frame in sorted((tmp_path / "whole").rglob("*.png")):
        assert (tmp_path / "parts" / frame.relative_to(tmp_path / "whole")).read_bytes() == frame.read_bytes()
    assert len(list((tmp_path / "parts").rglob("*.png"))) == 12


def test_an_interrupted_array_leaves_no_temporary_file_to_pass_for_a_photo(tmp_path, monkeypatch):
    from deblur_cli.data import npy
    from deblur_cli.data.photos import list_photos

    def stopping(path, array):
        open(path, "wb").write(b"\x93NUMPY")  # part of the file, then Ctrl-C
        raise _Stop()

    monkeypatch.setattr(npy.np, "save", stopping)
    with pytest.raises(_Stop):
        npy.save_npy(tmp_path / "photo.npy", np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "left.tmp.npy").write_bytes(b"")  # left by an older version
    assert list_photos(tmp_path) == []


def test_sources_that_give_no_photo_are_said_not_silently_replaced(tmp_path):
    """An empty cache, or photos too small for the clips, made every clip a procedural scene without a
    word: the output looked like any other."""
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    def synth(out, sources, size):
        return CliRunner().invoke(app, ["synth", str(out), "--sources", str(sources), "--clips", "1", "--frames", "2",
                                        "--size", size, "--split", "train"])  # fmt: skip

    (tmp_path / "empty").mkdir()
    result = synth(tmp_path / "a", tmp_path / "empty", "32x24")
    assert result.exit_code == 0 and "holds no photos of this split: the clips are procedural scenes" in result.stderr
    (tmp_path / "cache").mkdir()
    cache = _photo_cache(tmp_path / "cache", [f"scene{i}" for i in range(8)], size=(40, 30))
    result = synth(tmp_path / "b", cache, "64x48")
    assert result.exit_code == 0 and "is 1.2 times 64x48 each way: the clips are procedural scenes" in result.stderr
    result = synth(tmp_path / "c", cache, "32x24")
    assert result.exit_code == 0 and "warning" not in result.stderr


def test_a_photos_folder_linked_into_the_cache_is_followed(tmp_path):
    from deblur_cli.data.dataset import split_photos

    (tmp_path / "real").mkdir()
    real = _photo_cache(tmp_path / "real", [f"scene{i}" for i in range(20)], size=(8, 8))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "photos").symlink_to(real, target_is_directory=True)
    (tmp_path / "cache" / "photos" / "loop").symlink_to(tmp_path / "cache", target_is_directory=True)  # walked once
    train, val = split_photos(tmp_path / "cache")
    assert len(train) + len(val) == 20


def test_the_train_split_of_procedural_scenes_is_not_the_val_split():
    """Without photos both splits are procedural scenes: the train clips come from seeds of their own,
    or `synth --split train` would write the validation clips; val's clips keep their seeds."""
    from deblur_cli.data.dataset import FixedClips, clip_seed, make_clip

    val, train = (FixedClips([], count=2, frames=2, size=(32, 24), seed=0, split=split) for split in ("val", "train"))
    for i in range(2):
        assert not torch.equal(val[i][1], train[i][1])
        assert torch.equal(val[i][1], make_clip(clip_seed(0, i), val.pool, frames=2, size=(32, 24), procedural_share=1.0)[1])
    assert torch.equal(train[1][0], FixedClips([], count=2, frames=2, size=(32, 24), seed=0, split="train")[1][0])


def test_synth_split_train_without_sources_writes_other_clips_than_val(tmp_path):
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    for split in ("train", "val"):
        args = ["synth", str(tmp_path / split), "--clips", "1", "--frames", "2", "--size", "32x24", "--split", split]
        assert CliRunner().invoke(app, args).exit_code == 0
    frame = "clip_0000/sharp/0000.png"
    assert (tmp_path / "train" / frame).read_bytes() != (tmp_path / "val" / frame).read_bytes()


def test_synth_into_a_file_says_it_is_a_file(tmp_path):
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    (tmp_path / "afile").write_bytes(b"mine")
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "afile"), "--clips", "1", "--frames", "2", "--size", "32x24"])
    assert result.exit_code == 1 and f"error: {tmp_path / 'afile'} is a file, not a folder" in result.stderr
    assert ".tmp" not in result.output and (tmp_path / "afile").read_bytes() == b"mine"


def test_paths_move_as_drawn_within_the_drift_horizon_and_stay_a_camera_beyond(monkeypatch):
    """Zoom and keystone grew with time without bound: some 400-frame paths turned the frame inside out,
    and the scene they asked for had trillions of pixels."""
    from deblur_cli.data import motion

    vw, vh = 640, 360
    radius = math.hypot(vw, vh) / 2
    corners = np.array([[-vw / 2, -vh / 2, 1], [vw / 2, -vh / 2, 1], [-vw / 2, vh / 2, 1], [vw / 2, vh / 2, 1]])
    within = np.linspace(-motion.DRIFT_HORIZON, motion.DRIFT_HORIZON, 257)
    far = np.linspace(-2000, 2000, 801)
    for seed in range(100):
        camera = motion.random_camera_path(np.random.default_rng(seed))
        layer = motion.random_layer_path(np.random.default_rng(seed), (64, 48))
        bounded = camera.homographies(far, radius)
        near, layer_near = camera.homographies(within, radius), layer.inverse_affines(within)
        with monkeypatch.context() as m:
            m.setattr(motion, "DRIFT_HORIZON", 1e12)  # as if the rates held for ever
            assert np.array_equal(camera.homographies(within, radius), near)
            assert np.array_equal(layer.inverse_affines(within), layer_near)
            unbounded = camera.homographies(far, radius)
        assert not np.array_equal(bounded, unbounded)
        depth = np.einsum("nj,kj->nk", bounded[:, 2], corners)  # > 0: every corner in front of the camera
        zoom = np.sqrt(np.abs(np.linalg.det(bounded[:, :2, :2])))
        assert depth.min() > 0.2 and 0.2 < zoom.min() and zoom.max() < 5, seed
        pan = np.hypot(*camera.velocity)
        assert np.hypot(*(bounded[-1, :2, 2] - bounded[-2, :2, 2])) > 0.5 * pan * (far[1] - far[0])  # pans go on


def test_a_long_clip_is_made_quickly_from_a_scene_of_bounded_size(monkeypatch):
    """A 400-frame `deblur synth` ran for minutes without a word, drawing a scene for the whole path."""
    from deblur_cli.data import synth

    drawn = []

    def recorded(rng, size):
        drawn.append(size)
        return procedural_scene(rng, size)

    monkeypatch.setattr(synth, "procedural_scene", recorded)
    blurred, sharp = synth.synthesize_clip(1, frames=300, size=(48, 32), max_layers=0, still=False, degrade=False)
    assert drawn == [(synth.SCENE_SPAN * 640 + 4, synth.SCENE_SPAN * 360 + 4)]  # this path goes further each way
    assert torch.isfinite(blurred).all() and torch.isfinite(sharp).all()
    assert (sharp[-1] - sharp[-2]).abs().mean() > 0.01  # the camera still moves at the end, over the mirrored scene
    assert (blurred[-1] - sharp[-1]).abs().mean() > 0.005  # and its frames still blur


def test_one_clip_written_before_is_said_in_the_singular(tmp_path):
    from typer.testing import CliRunner

    import deblur_cli.cli.synth  # noqa: F401  registers the command
    from deblur_cli.cli.app import app

    args = ["synth", str(tmp_path / "one"), "--clips", "1", "--frames", "2", "--size", "32x24"]
    assert CliRunner().invoke(app, args).exit_code == 0
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "the clip was there already" in again.output, again.output  # "the 1 clips were"


def test_a_full_disk_while_writing_a_clip_says_so_with_a_hint(tmp_path, monkeypatch):
    """The dataset writer built its own "cannot write X: No space left on device", with no hint; it now
    words its errors as `deblur run` does."""
    import errno

    from deblur_cli import files
    from deblur_cli.data.writer import write_ffv1
    from deblur_cli.errors import OutputError

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(OutputError) as caught:
        write_ffv1(torch.zeros(2, 3, 8, 8), tmp_path / "c.mkv")
    assert str(caught.value) == f"disk full while writing {tmp_path / 'c.mkv'}"
    assert caught.value.hint == "free some space or write the output elsewhere"
    assert list(tmp_path.iterdir()) == []


def _blur_paths(camera, frames: int = 5, exposure: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's blur: the length of its centre's path over the exposure (px) and the chord's angle (rad)."""
    lengths, angles = [], []
    for i in range(frames):
        centre = camera.homographies(np.linspace(i - exposure / 2, i + exposure / 2, 40), 367.0)[:, :2, 2]
        lengths.append(np.linalg.norm(np.diff(centre, axis=0), axis=1).sum())
        chord = centre[-1] - centre[0]
        angles.append(math.atan2(chord[1], chord[0]))
    return np.array(lengths), np.array(angles)


def test_handheld_paths_turn_from_frame_to_frame_where_panning_paths_keep_their_direction():
    """quality54: hand shake whose direction changes from frame to frame gained +0.96 dB in the default window
    and +2.67 dB one frame at a time; training's paths all kept one direction. Hand-held paths are what it lacked."""
    from deblur_cli.data import motion

    turns, lengths = {}, {}
    for share in (0.0, 1.0):
        turned, long = [], []
        for seed in range(200):
            camera = motion.random_camera_path(np.random.default_rng(seed), still=False, handheld_share=share)
            length, angle = _blur_paths(camera)
            turned += list(np.abs(np.angle(np.exp(1j * np.diff(angle)))))
            long += list(length)
        turns[share], lengths[share] = np.degrees(np.median(turned)), np.median(long)
    assert turns[1.0] > 45 and turns[0.0] < 15, turns
    assert 0.5 < lengths[1.0] / lengths[0.0] < 1.5, lengths  # as much blur, in turning directions


def test_handheld_share_zero_draws_the_paths_the_bundled_weights_were_trained_on():
    from deblur_cli.data import motion

    rng = np.random.default_rng(7)
    camera = motion.random_camera_path(rng)
    # values of the stream before hand-held paths existed (commit 0438ed4)
    assert camera.velocity == (3.6493834379930394, -22.415826068647085)
    assert camera.shake_freq[0] == 0.05060988015591117
    assert rng.random() == 0.8300477298017456  # and nothing more drawn: the clip's next draws are unchanged


def test_handheld_share_applies_to_moving_cameras_only_and_in_its_share():
    from deblur_cli.data import motion

    still = motion.random_camera_path(np.random.default_rng(3), still=True, handheld_share=1.0)
    assert still == motion.random_camera_path(np.random.default_rng(3), still=True)
    drifts = [
        np.hypot(*motion.random_camera_path(np.random.default_rng(s), still=False, handheld_share=0.4).velocity)
        for s in range(400)
    ]
    share = np.mean(np.array(drifts) <= 2.0)  # hand-held paths drift at most 2 px per frame; pans at least 2
    assert 0.33 < share < 0.47, share


def test_a_handheld_clip_is_another_clip_of_the_same_scene():
    one = synthesize_clip(5, frames=3, size=(48, 32), max_layers=0, still=False, degrade=False)
    held = synthesize_clip(5, frames=3, size=(48, 32), max_layers=0, still=False, degrade=False, handheld_share=1.0)
    assert held[0].shape == one[0].shape and not torch.equal(held[0], one[0])
    assert torch.isfinite(held[0]).all() and torch.isfinite(held[1]).all()


def _frame_motion(camera, frames: int = 5, exposure: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """(how far the frame centre moves from one exposure centre to the next, px; the length of its path within
    each exposure, px), as the clip renders them: every time with its frame's exposure centre."""
    centres = np.arange(frames) - (frames - 1) / 2
    moves = np.linalg.norm(np.diff(camera.homographies(centres, 367.0)[:, :2, 2], axis=0), axis=1)
    lengths = []
    for c in centres:
        times = np.linspace(c - exposure / 2, c + exposure / 2, 40)
        centre = camera.homographies(times, 367.0, np.full(40, c))[:, :2, 2]
        lengths.append(np.linalg.norm(np.diff(centre, axis=0), axis=1).sum())
    return moves, np.array(lengths)


def test_stabilized_paths_hardly_move_between_frames_yet_blur_as_much_as_hand_held_ones():
    """Aligned on their global shift, blurred frames gained dstnet-s +0.09 dB where they gained +6.57 dB as they
    were (an 8-px pan, models.md): it reads blur from the motion between frames. Phones' stabilisation makes
    exactly such frames; training never showed any."""
    from deblur_cli.data import motion

    moves, lengths = {}, {}
    for kind in ("handheld_share", "stabilized_share"):
        moved, long = [], []
        for seed in range(200):
            camera = motion.random_camera_path(np.random.default_rng(seed), still=False, **{kind: 1.0})
            move, length = _frame_motion(camera)
            moved += list(move)
            long += list(length)
        moves[kind], lengths[kind] = np.median(moved), np.median(long)
    assert moves["stabilized_share"] < 1.0 and moves["handheld_share"] > 5.0, moves  # the slow drift stays
    assert 0.97 < lengths["stabilized_share"] / lengths["handheld_share"] < 1.03, lengths  # the blur stays


def test_stabilized_and_handheld_shares_of_zero_draw_the_paths_they_drew_before():
    from dataclasses import replace

    from deblur_cli.data import motion

    rng = np.random.default_rng(0)
    camera = motion.random_camera_path(rng, still=False, handheld_share=0.5, stabilized_share=0.0)
    # values of the stream before stabilised paths existed (commit 957ce6f): a hand-held path
    assert camera.velocity == (0.25467338455155536, 1.7622415142514567)
    assert camera.shake_freq[0] == 0.25065258189935485 and not camera.stabilized
    # computed from the draws: its last bit differed with NumPy 1.24 on an Intel Xeon (the draws themselves are exact)
    assert camera.homographies(np.array([0.3]), 367.0)[0, 0, 2] == pytest.approx(0.4625988678112642, rel=1e-12, abs=0)
    assert rng.random() == 0.7577288453082914  # and nothing more drawn
    held = motion.random_camera_path(np.random.default_rng(0), still=False, stabilized_share=1.0)
    assert held == replace(camera, stabilized=True)  # the same shake, stabilised
    with pytest.raises(ValueError, match="add up to over 1"):
        motion.random_camera_path(np.random.default_rng(0), handheld_share=0.6, stabilized_share=0.5)


def test_a_stabilized_clip_moves_less_between_frames_and_is_as_blurred():
    """The clip renders every sub-frame with its own frame's exposure centre: without it, a stabilised frame would
    see the steady path throughout its exposure, and lose the shake's blur."""
    moved, blurred = {}, {}
    for kind in ("handheld_share", "stabilized_share"):
        clips = [
            synthesize_clip(seed, frames=4, size=(48, 32), max_layers=0, still=False, degrade=False, **{kind: 1.0})
            for seed in range(1, 5)
        ]
        moved[kind] = np.mean([(b[1:] - b[:-1]).abs().mean().item() for b, _ in clips])
        blurred[kind] = np.mean([(b - s).abs().mean().item() for b, s in clips])
    assert moved["stabilized_share"] < 0.7 * moved["handheld_share"], moved
    assert blurred["stabilized_share"] > 0.8 * blurred["handheld_share"], blurred


def test_loader_workers_draw_the_stabilized_stream_the_training_process_draws():
    from torch.utils.data import DataLoader

    from deblur_cli.data.dataset import TrainClips
    from deblur_cli.data.workers import worker_context

    def first(workers, **shares):
        stream = TrainClips([], frames=2, crop=16, seed=3, batch=1, **shares)
        context = worker_context(TrainClips.__module__) if workers else None  # as training's loader starts them
        return next(iter(DataLoader(stream, batch_size=1, num_workers=workers, multiprocessing_context=context)))[0]

    stabilized = first(0, stabilized_share=1.0)
    assert torch.equal(first(1, stabilized_share=1.0), stabilized)
    assert not torch.equal(stabilized, first(0, handheld_share=1.0))
