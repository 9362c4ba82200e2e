"""`deblur demo`: the README's first command, on the bundled weights, end to end."""

from __future__ import annotations

import json
import re

import av
import pytest
import torch
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.data.synth import synthesize_clip
from deblur_cli.demo import STAMP, run_demo
from deblur_cli.errors import OutputError, UsageError
from deblur_cli.metrics import psnr, to_8bit
from deblur_cli.video_io import open_source
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import FailingRestorer, IdentityRestorer

runner = CliRunner()


def test_demo_deblurs_a_generated_clip_with_the_bundled_model(tmp_path):
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "demo"), "--size", "160x96", "--frames", "6", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model"] == "dstnet-s" and summary["frames"] == 6
    assert summary["psnr_deblurred_db"] > summary["psnr_blurry_db"]  # the bundled weights really deblur
    for name in ("blurry.mp4", "sharp.mp4", "deblurred.mp4"):
        frames = media.read_frames(tmp_path / "demo" / name)
        assert len(frames) == 6 and frames[0].shape == (96, 160, 3)


def test_demo_refuses_to_overwrite_without_force(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "blurry.mp4").write_bytes(b"mine")
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "demo"), "--size", "64x48", "--frames", "2"])
    assert result.exit_code == 1 and "--force" in result.stderr
    assert (tmp_path / "demo" / "blurry.mp4").read_bytes() == b"mine"


def test_a_demo_again_replaces_its_own_files_and_keeps_a_users(tmp_path):
    """Found by review (firstlook54 F11): a second `deblur demo` was refused without --force. The files an earlier
    demo wrote, as it wrote them, are replaced; a file of the user's under one of their names still needs --force."""
    windows = WindowOptions(window=4, overlap=1, tile=None)
    run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=3, size=(64, 48))
    again = run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=4, size=(64, 48))  # no force
    assert len(media.read_frames(again.restored)) == 4
    (tmp_path / "sharp.mp4").write_bytes(b"mine")  # the user's now, under the demo's name
    with pytest.raises(OutputError) as caught:
        run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=2, size=(64, 48))
    assert str(caught.value) == f"{tmp_path} already holds sharp.mp4, not written by a demo"
    assert caught.value.hint == "pass --force to replace it, or choose another folder: deblur demo -o DIR"
    assert (tmp_path / "sharp.mp4").read_bytes() == b"mine" and len(media.read_frames(again.blurry)) == 4
    (tmp_path / STAMP).unlink()  # a folder without a stamp: none of its files is taken for the demo's
    with pytest.raises(OutputError, match="already holds blurry.mp4, sharp.mp4, deblurred.mp4, not written"):
        run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=2, size=(64, 48))
    run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=2, size=(64, 48), force=True)
    assert len(media.read_frames(tmp_path / "sharp.mp4")) == 2


def test_demo_scores_against_the_generated_sharp_frames_not_the_encoded_ones(tmp_path):
    # An identity "model": the output is the decoded input, so both scores must be the same number,
    # that of blurry.mp4 against the generated (not the H.264-encoded) sharp frames.
    result = run_demo(tmp_path, IdentityRestorer(), windows=WindowOptions(window=4, overlap=1, tile=None), frames=5, size=(64, 48))
    _, sharp = synthesize_clip(0, frames=5, size=(64, 48), still=False)
    def as_deblur_reads(path):  # deblur's own decoding (video_io: exact 4:2:0 to RGB), not PyAV's default
        with open_source(path) as source:
            return torch.stack([torch.from_numpy(f.image).permute(2, 0, 1).float() / 255 for f in source])

    decoded = as_deblur_reads(result.blurry)
    want = float(psnr(decoded, to_8bit(sharp)).mean())
    assert result.psnr_blurry == pytest.approx(want, abs=1e-4)
    assert result.psnr_restored == pytest.approx(want, abs=1e-4)
    encoded_sharp = as_deblur_reads(result.sharp)
    assert abs(float(psnr(decoded, encoded_sharp).mean()) - want) > 0.1  # the encoded reference would differ
    assert result.frames == 5 and len(media.read_frames(result.restored)) == 5


def test_an_interrupted_demo_leaves_the_earlier_set_whole(tmp_path):
    """demo -f stopped part-way (here by the restorer) keeps the earlier blurry, sharp and deblurred
    clips as they were and leaves no temporary file; a finished one replaces all three."""
    windows = WindowOptions(window=4, overlap=1, tile=None)
    run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=3, size=(64, 48))
    names = ["blurry.mp4", "sharp.mp4", "deblurred.mp4"]
    before = {name: (tmp_path / name).read_bytes() for name in names}
    with pytest.raises(KeyboardInterrupt):
        run_demo(tmp_path, FailingRestorer(0, KeyboardInterrupt()), windows=windows, frames=4, size=(80, 48), force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, STAMP])
    assert {name: (tmp_path / name).read_bytes() for name in names} == before
    run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=4, size=(80, 48), force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, STAMP])
    for name in names:
        frames = media.read_frames(tmp_path / name)
        assert len(frames) == 4 and frames[0].shape == (48, 80, 3)


def test_what_a_killed_demo_left_the_next_removes_and_two_demos_do_not_share_a_folder(tmp_path):
    """Found by chaos48: each demo killed (SIGKILL, the OOM killer) left its clips under new hidden names
    beside the set, which no later demo removed."""
    from deblur_cli.errors import OutputBusyError
    from deblur_cli.video_io.work_folder import OutputLock, work_folder

    windows = WindowOptions(window=4, overlap=1, tile=None)
    left = work_folder(tmp_path / "deblurred.mp4")  # as a killed demo leaves it: clips, and a lock no one holds
    left.mkdir()
    for name in ("blurry.mp4", "sharp.mp4", "lock"):
        (left / name).write_bytes(b"left by a killed demo")
    run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=3, size=(64, 48))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([STAMP, "blurry.mp4", "deblurred.mp4", "sharp.mp4"])
    held = OutputLock(tmp_path / "deblurred.mp4")  # another demo, or a run writing deblurred.mp4
    with pytest.raises(OutputBusyError):
        run_demo(tmp_path, IdentityRestorer(), windows=windows, frames=3, size=(64, 48), force=True)
    held.release()


def test_demo_warns_that_a_model_that_does_not_sample_ignores_steps(tmp_path):
    args = ["demo", "-o", str(tmp_path / "demo"), "-m", "dstnet-s", "--size", "64x48", "--frames", "2"]
    result = runner.invoke(app, [*args, "--steps", "7"])
    assert result.exit_code == 0, result.output
    assert (
        "warning: --steps 7 applies to the diffusion models (wtsa, wtsa-s); dstnet-s restores in one" in result.stderr
    )
    result = runner.invoke(app, [*args, "-f"])
    assert result.exit_code == 0 and "warning" not in result.stderr


def test_demo_writes_4_2_0_clips_and_refuses_an_odd_size_in_one_line(tmp_path):
    """Every player shows 4:2:0 H.264; at an odd size the encoder would fall back to 4:4:4."""
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "odd"), "-m", "dstnet-s", "--size", "65x49", "--frames", "2"])
    assert result.exit_code == 2 and "--size 65x49: the demo's clips are H.264 4:2:0" in result.stderr
    assert "hint: e.g. --size 64x48" in result.stderr and not (tmp_path / "odd").exists()
    with pytest.raises(UsageError):
        run_demo(tmp_path / "lib", IdentityRestorer(), windows=WindowOptions(window=4, overlap=1, tile=None), frames=2, size=(64, 47))
    result = run_demo(tmp_path, IdentityRestorer(), windows=WindowOptions(window=4, overlap=1, tile=None), frames=2, size=(64, 48))
    for path in (result.blurry, result.sharp, result.restored):
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_demo_records_the_weights_precision_and_steps_it_ran_with(tmp_path):
    args = ["demo", "-o", str(tmp_path / "demo"), "-m", "dstnet-s", "--size", "64x48", "--frames", "2", "--precision", "fp32"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)["restorer"]
    assert made["model"] == "dstnet-s" and made["dtype"] == "torch.float32"
    assert made["weights"][0].endswith("dstnet-s.safetensors") and len(made["weights_sha256"]) == 64
    result = runner.invoke(app, args)  # the earlier demo's files: replaced without -f
    assert result.exit_code == 0, result.output
    said = result.stdout.splitlines()
    assert re.fullmatch(r"deblurred a generated blurry clip of 2 frames with dstnet-s on cpu in \d+\.\d s", said[0])
    assert re.fullmatch(
        r"sharpness against the true frames: PSNR \d+\.\d\d dB \(blurry\) -> \d+\.\d\d dB \(deblurred\), "
        r"gain [+-]\d+\.\d\d dB \(higher is better\)",
        said[1],
    ), said[1]
    demo = tmp_path / "demo"
    clips = [demo / name for name in ("deblurred.mp4", "blurry.mp4", "sharp.mp4")]
    assert said[2] == "open {} beside {} to see it ({}: the true frames)".format(*clips)
    weights = f"dstnet-s.safetensors sha256 {made['weights_sha256'][:12]}"
    assert said[3].startswith(f"measured with {weights}, float32, against the generated sharp frames")
    assert len(said) == 4 and "warning" not in result.stderr
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), tmp_path / "mine.safetensors")  # named as dstnet-s: said
    result = runner.invoke(app, [*args, "-f", "--weights", str(tmp_path / "mine.safetensors")])
    assert result.exit_code == 0, result.output
    assert "mine.safetensors holds DSTNet(feat=8, blocks=1), not dstnet-s" in " ".join(result.stderr.split())


def test_demo_into_a_file_says_it_is_a_file(tmp_path):
    (tmp_path / "dmfile").write_bytes(b"mine")
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "dmfile"), "-m", "dstnet-s", "--size", "64x48", "--frames", "2"])
    assert result.exit_code == 1 and f"error: {tmp_path / 'dmfile'} is a file, not a folder" in result.stderr
    assert "free space" not in result.stderr and (tmp_path / "dmfile").read_bytes() == b"mine"


def test_demo_in_a_folder_it_cannot_write_names_the_option_for_another(tmp_path, monkeypatch):
    """Found by review (install53 7): the first command a newcomer runs, in whatever folder the shell is in, said
    only "choose a directory you can write to"; `run` names its -o. (Root writes anywhere: the refusal is made.)"""
    import errno
    import pathlib

    def refused(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pathlib.Path, "mkdir", refused)
    result = runner.invoke(app, ["demo", "--size", "64x48", "--frames", "2"])
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "error: cannot write to .: permission denied\n"
        "hint: choose a folder you can write to: deblur demo -o DIR\n"
    )
