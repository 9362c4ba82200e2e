"""`deblur evaluate`: finding blurred/sharp pairs in dataset layouts, scoring sequences, the command."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

from deblur_cli.cli import app
import deblur_cli.restorers as restorers_module
from deblur_cli.errors import InputError, OutputError
from deblur_cli.datasets import find_sequences, save_folders
from deblur_cli.evaluate import EvaluationReport, SequenceScore, evaluate_sequence, frame_metrics
from deblur_cli.metrics import niqe, psnr, ssim
from deblur_cli.metrics.lpips import load_lpips, lpips_clip
from deblur_cli.mix import Mix
from deblur_cli.weights.registry import load_registry
from deblur_cli.windows import WindowOptions
from tests.media import make_edited, make_images, make_video, read_frames, write_image
from tests.restorers import IdentityRestorer, MixingRestorer

runner = CliRunner()


def described_without_weights(monkeypatch):
    """For tests that fake build_restorer: each model described as a 16-pixel-multiple model of any window,
    without its weights, which evaluate reads before any pass to refuse a file that does not fit."""
    from deblur_cli.restorer import ModelFacts

    facts = lambda *a, **k: ModelFacts(16, None, None, True, torch.device("cpu"))  # noqa: E731
    monkeypatch.setattr(restorers_module, "describe_restorer", facts)
WINDOWS = WindowOptions(window=3, overlap=1, tile=None)


def frames_folder(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        write_image(folder / f"{i:06d}.png", image)
    return folder


def random_images(count, seed, size=(24, 20)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(count)]


def test_per_sequence_folders_as_in_gopro_and_dvd(tmp_path):
    for seq in ("GOPR0410_11_00", "GOPR0384_11_00"):
        for kind in ("blur", "blur_gamma", "sharp"):
            make_images(tmp_path / "test" / seq / kind, count=2)
    make_images(tmp_path / "dvd" / "IMG_0030" / "input", count=2, suffix=".jpg")
    make_images(tmp_path / "dvd" / "IMG_0030" / "GT", count=2, suffix=".jpg")
    make_images(tmp_path / "test" / "GOPR0999_00_00" / "blur", count=2)  # its sharp half is missing
    unmatched = []
    pairs = find_sequences(tmp_path, unmatched)
    assert [(p.name, p.blurred.name, p.sharp.name) for p in pairs] == [
        ("dvd/IMG_0030", "input", "GT"),
        ("test/GOPR0384_11_00", "blur", "sharp"),  # not blur_gamma
        ("test/GOPR0410_11_00", "blur", "sharp"),
    ]
    assert unmatched == [(tmp_path / "test" / "GOPR0999_00_00" / "blur").as_posix()]
    assert [p.name for p in find_sequences(tmp_path / "test")] == ["GOPR0384_11_00", "GOPR0410_11_00"]


def test_per_kind_folders_are_paired_by_name(tmp_path):
    for seq in ("b_seq", "a_seq", "unmatched"):
        make_images(tmp_path / "blur" / seq, count=2)
    for seq in ("a_seq", "b_seq"):
        make_images(tmp_path / "gt" / seq, count=2)
    unmatched = []
    pairs = find_sequences(tmp_path, unmatched)
    assert [(p.name, p.blurred.as_posix(), p.sharp.as_posix()) for p in pairs] == [
        (seq, (tmp_path / "blur" / seq).as_posix(), (tmp_path / "gt" / seq).as_posix()) for seq in ("a_seq", "b_seq")
    ]
    assert unmatched == [(tmp_path / "blur" / "unmatched").as_posix()]  # the command warns about it


def test_reds_split_names_before_the_kind(tmp_path):
    for kind in ("val_blur", "val_blur_jpeg", "val_sharp"):
        for seq in ("000", "001"):
            make_images(tmp_path / "REDS" / "val" / kind / seq, count=2)
    pairs = find_sequences(tmp_path / "REDS")
    assert [(p.name, p.blurred.parent.name, p.sharp.parent.name) for p in pairs] == [
        ("val/000", "val_blur", "val_sharp"),  # not val_blur_jpeg, REDS's blur-and-JPEG track
        ("val/001", "val_blur", "val_sharp"),
    ]
    # a split's name is only ignored before a kind: a sequence named like one is not split off
    make_images(tmp_path / "other" / "blur" / "test_001", count=2)
    make_images(tmp_path / "other" / "sharp" / "001", count=2)
    unmatched = []
    with pytest.raises(InputError):
        find_sequences(tmp_path / "other", unmatched)
    assert unmatched == [(tmp_path / "other" / "blur" / "test_001").as_posix()]


def test_per_kind_videos_pair_by_name_whatever_the_suffix(tmp_path):
    for kind, suffix in (("blur", ".mp4"), ("sharp", ".mkv")):
        (tmp_path / kind).mkdir()
        make_video(tmp_path / kind / f"Clip1{suffix}", frames=2)
    pairs = find_sequences(tmp_path)
    assert [(p.name, p.blurred.name, p.sharp.name) for p in pairs] == [("Clip1", "Clip1.mp4", "Clip1.mkv")]
    make_video(tmp_path / "blur" / "clip1.mkv", frames=2)  # the same sequence twice: which would be scored?
    with pytest.raises(InputError, match=r"Clip1.mp4 and clip1.mkv would both be sequence 'clip1'"):
        find_sequences(tmp_path)
    (tmp_path / "other" / "c0").mkdir(parents=True)
    for name in ("blurred.mkv", "blurred.mp4", "sharp.mkv"):  # a folder per sequence: two blurred clips
        make_video(tmp_path / "other" / "c0" / name, frames=2)
    with pytest.raises(InputError, match=r"blurred.mkv and blurred.mp4 are both the blurred clip of one sequence"):
        find_sequences(tmp_path / "other")


def test_bsd_rgb_subfolders_and_synth_videos_and_a_lone_pair(tmp_path):
    make_images(tmp_path / "bsd" / "000" / "Blur" / "RGB", count=2)
    make_images(tmp_path / "bsd" / "000" / "Sharp" / "RGB", count=2)
    (tmp_path / "synth" / "clip_0000").mkdir(parents=True)
    make_video(tmp_path / "synth" / "clip_0000" / "blurred.mkv", frames=2)
    make_video(tmp_path / "synth" / "clip_0000" / "sharp.mkv", frames=2)
    bsd, synth = find_sequences(tmp_path / "bsd"), find_sequences(tmp_path / "synth")
    assert [(p.name, p.blurred.relative_to(tmp_path).as_posix()) for p in bsd] == [("000", "bsd/000/Blur/RGB")]
    assert [(p.name, p.blurred.name, p.sharp.name) for p in synth] == [("clip_0000", "blurred.mkv", "sharp.mkv")]
    lone = find_sequences(tmp_path / "bsd" / "000")  # the folder given is itself one pair
    assert [(p.name, p.sharp.relative_to(tmp_path).as_posix()) for p in lone] == [("000", "bsd/000/Sharp/RGB")]


def test_hidden_entries_are_no_sequences_or_frames(tmp_path):
    """macOS copies leave `._name` resource forks beside each file, and tools leave `.thumbs` or
    `.ipynb_checkpoints` folders: none of them is a clip, a frame or a sequence left out."""
    for seq in ("s1", "s2"):
        make_images(tmp_path / "basicsr" / "test" / "blur" / seq, count=2)
        make_images(tmp_path / "basicsr" / "test" / "gt" / seq, count=2)
    make_images(tmp_path / "basicsr" / "test" / "blur", count=1, name="._s1")  # would make blur/ one sequence
    (tmp_path / "basicsr" / "test" / "blur" / "._s3.mkv").write_bytes(b"\0\5\26\7")
    make_images(tmp_path / "basicsr" / ".ipynb_checkpoints" / "blur", count=1)
    unmatched = []
    pairs = find_sequences(tmp_path / "basicsr", unmatched)
    assert [p.name for p in pairs] == ["test/s1", "test/s2"] and unmatched == []
    make_images(tmp_path / "bsd" / "000" / "Blur" / "RGB", count=2)
    make_images(tmp_path / "bsd" / "000" / "Sharp" / "RGB", count=2)
    (tmp_path / "bsd" / "000" / "Sharp" / ".thumbs").mkdir()  # the RGB folder is still the lone one
    assert [p.sharp.name for p in find_sequences(tmp_path / "bsd")] == ["RGB"]


def test_an_empty_blurred_folder_is_named_not_dropped(tmp_path):
    make_images(tmp_path / "good" / "blur", count=2)
    make_images(tmp_path / "good" / "sharp", count=2)
    (tmp_path / "bad" / "blur").mkdir(parents=True)
    make_images(tmp_path / "bad" / "sharp", count=2)
    unmatched = []
    assert [p.name for p in find_sequences(tmp_path, unmatched)] == ["good"]
    assert unmatched == [(tmp_path / "bad" / "blur").as_posix()]
    result = runner.invoke(app, ["evaluate", str(tmp_path), "--results", str(tmp_path / "good" / "sharp"), "-q"])
    assert result.exit_code == 0 and "bad/blur" in result.output


def test_the_current_folder_as_a_lone_pair_is_named_as_the_folder(tmp_path, monkeypatch):
    make_images(tmp_path / "one" / "blur", count=1)
    make_images(tmp_path / "one" / "sharp", count=1)
    monkeypatch.chdir(tmp_path / "one")
    assert [p.name for p in find_sequences(".")] == ["one"]


def test_linked_sequence_folders_are_followed_once(tmp_path):
    make_images(tmp_path / "store" / "seqS" / "blur", count=1)
    make_images(tmp_path / "store" / "seqS" / "sharp", count=1)
    make_images(tmp_path / "data" / "seqR" / "blur", count=1)
    make_images(tmp_path / "data" / "seqR" / "sharp", count=1)
    (tmp_path / "data" / "seqS").symlink_to(tmp_path / "store" / "seqS", target_is_directory=True)
    (tmp_path / "data" / "loop").symlink_to(tmp_path / "data", target_is_directory=True)
    assert [p.name for p in find_sequences(tmp_path / "data")] == ["seqR", "seqS"]


def test_a_folder_beside_a_video_is_one_pair_not_a_set(tmp_path):
    (tmp_path / "seq" / "blur" / "nested").mkdir(parents=True)  # no frames directly, and no RGB folder
    make_video(tmp_path / "seq" / "sharp.mkv", frames=2)
    pairs = find_sequences(tmp_path)
    assert [(p.name, p.blurred.name, p.sharp.name) for p in pairs] == [("seq", "blur", "sharp.mkv")]
    with pytest.raises(InputError):  # and reading it is one clear error, not a crash
        evaluate_sequence(pairs[0], IdentityRestorer(), WINDOWS)


def test_no_pairs_is_an_input_error(tmp_path):
    make_images(tmp_path / "blur", count=1)  # no sharp half
    with pytest.raises(InputError, match="no blurred/sharp pairs"):
        find_sequences(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        find_sequences(tmp_path / "missing")


def hand_scores(outputs, sharps):
    """Mean PSNR and SSIM of 8-bit frames, computed directly from the files' arrays."""

    def tensor(image):
        return torch.from_numpy(image).permute(2, 0, 1).float() / 255

    pairs = [(tensor(o), tensor(s)) for o, s in zip(outputs, sharps)]
    return (
        sum(float(psnr(o, s)) for o, s in pairs) / len(pairs),
        sum(float(ssim(o, s)) for o, s in pairs) / len(pairs),
    )


def test_scores_pair_every_frame_with_its_own_sharp_frame(tmp_path):
    # Every frame differs from every other, so scoring output k against sharp k ± 1 gives other numbers.
    sharp = random_images(7, seed=1)
    noise = [np.random.default_rng(i).integers(-40, 41, s.shape) for i, s in enumerate(sharp)]
    blurred = [np.clip(s.astype(int) + n, 0, 255).astype(np.uint8) for s, n in zip(sharp, noise)]
    frames_folder(tmp_path / "s1" / "blur", blurred)
    frames_folder(tmp_path / "s1" / "sharp", sharp)
    pair = find_sequences(tmp_path)[0]
    restorer = IdentityRestorer()
    done = []
    score = evaluate_sequence(pair, restorer, WINDOWS, progress=lambda name, k, total: done.append((name, k, total)))
    want_psnr, want_ssim = hand_scores(blurred, sharp)
    assert score.frames == 7 and set(score.input) == set(score.output) == {"psnr", "ssim"}
    assert score.input["psnr"] == pytest.approx(want_psnr, abs=1e-5)
    assert score.output["psnr"] == pytest.approx(want_psnr, abs=1e-5)  # the identity restores nothing
    assert score.input["ssim"] == pytest.approx(want_ssim, abs=1e-6)
    assert score.output["ssim"] == pytest.approx(want_ssim, abs=1e-6)
    shifted, _ = hand_scores(blurred[1:], sharp[:-1])
    assert abs(shifted - want_psnr) > 1  # a misaligned pairing would show
    assert done == [("s1", k, 7) for k in range(0, 8)]  # 0: the total before the first window (the bar said ?)
    assert [calls[0] for calls in restorer.calls] == [3, 3, 3]  # windows of 3 sharing 1: 0-2, 2-4, 4-6


def test_a_video_of_a_pair_cut_short_is_refused_before_it_is_restored(tmp_path):
    from tests.media import truncate

    (tmp_path / "blur").mkdir()
    (tmp_path / "sharp").mkdir()
    truncate(make_video(tmp_path / "whole.mkv", frames=30), 0.5, tmp_path / "blur" / "c.mkv")
    make_video(tmp_path / "sharp" / "c.mkv", frames=30)
    restorer = IdentityRestorer()
    with pytest.raises(InputError, match=r"c\.mkv: the video stream ends early: its packets stop at") as info:
        evaluate_sequence(find_sequences(tmp_path)[0], restorer, WINDOWS)
    assert restorer.calls == []  # it restored every frame up to the cut first
    assert info.value.hint == "re-copy the file, or score the frames before the damage with --frames N"  # not --end
    with pytest.raises(InputError, match="ends early") as info:  # found as the frames are read: the same hint
        evaluate_sequence(find_sequences(tmp_path)[0], restorer, WINDOWS, max_frames=25)
    assert info.value.hint == "re-copy the file, or score the frames before the damage with --frames N"


def test_frames_of_a_video_pair_have_no_names(tmp_path):
    for kind in ("blur", "sharp"):
        (tmp_path / kind).mkdir()
        make_video(tmp_path / kind / "c.mkv", frames=3)
    score = evaluate_sequence(find_sequences(tmp_path)[0], IdentityRestorer(), WINDOWS)
    assert score.frames == 3 and score.frame_names is None and len(score.per_frame["output"]["psnr"]) == 3


class Constant(IdentityRestorer):
    """Restores every pixel to 0.5: an output the scores must measure, not the input."""

    def __call__(self, frames):
        super().__call__(frames)
        return torch.full_like(frames, 0.5)


def test_the_output_is_scored_after_rounding_to_8_bits(tmp_path):
    sharp = random_images(4, seed=2)
    frames_folder(tmp_path / "s" / "blur", sharp)
    frames_folder(tmp_path / "s" / "sharp", sharp)
    score = evaluate_sequence(find_sequences(tmp_path)[0], Constant(), WINDOWS, max_frames=3)
    assert score.frames == 3
    assert score.input["psnr"] == math.inf  # the blurred half is the sharp one here
    gray = [np.full_like(s, 128) for s in sharp[:3]]  # 0.5 rounds to level 128 of 255
    want_psnr, want_ssim = hand_scores(gray, sharp[:3])
    assert score.output["psnr"] == pytest.approx(want_psnr, abs=1e-5)
    assert score.output["ssim"] == pytest.approx(want_ssim, abs=1e-6)


@pytest.mark.parametrize(
    ("blurred", "sharp", "message"),
    [(5, 4, "fewer frames"), (4, 5, "more frames")],
)
def test_frame_counts_must_match(tmp_path, blurred, sharp, message):
    make_images(tmp_path / "s" / "blur", count=blurred)
    make_images(tmp_path / "s" / "sharp", count=sharp)
    with pytest.raises(InputError, match=message):
        evaluate_sequence(find_sequences(tmp_path)[0], IdentityRestorer(), WINDOWS)


def test_frames_are_paired_by_name_not_position(tmp_path):
    """A frame missing on each side leaves as many frames, which paired in order would score blurred
    00001 against sharp 00002; the names are compared instead, across zero-padding, case and suffix."""
    images = random_images(4, seed=0)
    for kind in ("blur", "sharp"):
        for seq in ("gap", "ok"):
            (tmp_path / seq / kind).mkdir(parents=True)
    for k in (0, 1, 2):
        write_image(tmp_path / "gap" / "blur" / f"{k:05d}.png", images[k])
    for k in (0, 2, 3):
        write_image(tmp_path / "gap" / "sharp" / f"{k:05d}.png", images[k])
    with pytest.raises(InputError, match="blurred frame 00001 has no sharp frame"):
        evaluate_sequence(find_sequences(tmp_path / "gap")[0], IdentityRestorer(), WINDOWS)
    for k in (0, 1, 2):
        write_image(tmp_path / "ok" / "blur" / f"{k + 1}.PNG", images[k])
        write_image(tmp_path / "ok" / "sharp" / f"frame_{k + 1:03d}.png", images[k])
    score = evaluate_sequence(find_sequences(tmp_path / "ok")[0], IdentityRestorer(), WINDOWS)
    assert score.frames == 3 and score.output["psnr"] == math.inf


def test_the_command_names_the_unpaired_frame_in_one_line(tmp_path):
    images = random_images(3, seed=0)
    (tmp_path / "s" / "blur").mkdir(parents=True)
    (tmp_path / "s" / "sharp").mkdir()
    for k, name in enumerate(("a", "b", "c")):
        write_image(tmp_path / "s" / "blur" / f"{name}.png", images[k])
    for k, name in enumerate(("a", "B", "d")):
        write_image(tmp_path / "s" / "sharp" / f"{name}.png", images[k])
    result = runner.invoke(app, ["evaluate", str(tmp_path / "s"), "--results", str(tmp_path / "s" / "sharp"), "-q"])
    assert result.exit_code == 1
    assert "blurred frame c has no sharp frame" in result.output and "Traceback" not in result.output


def test_frame_sizes_must_match(tmp_path):
    make_images(tmp_path / "s" / "blur", count=2, size=(32, 24))
    make_images(tmp_path / "s" / "sharp", count=2, size=(24, 32))
    with pytest.raises(InputError, match="32x24"):
        evaluate_sequence(find_sequences(tmp_path)[0], IdentityRestorer(), WINDOWS)


def test_means_over_sequences_and_over_frames():
    report = EvaluationReport("d", "m", "cpu")
    report.sequences = [
        SequenceScore("a", 1, 1.0, {"psnr": 20.0, "ssim": 0.5}, {"psnr": 30.0}),
        SequenceScore("b", 3, 1.0, {"psnr": 24.0, "ssim": 0.7}, {"psnr": 34.0, "ssim": 0.9}),
    ]
    assert report.mean("psnr") == 32.0
    assert report.mean("psnr", per="frame") == 33.0
    assert report.mean("ssim", "input", per="frame") == pytest.approx(0.65)
    assert report.mean("ssim") == 0.9  # over the sequences that have it, which the CLI says
    assert report.metrics == ["psnr", "ssim"] and report.partial("ssim") == 1 and report.partial("psnr") == 0
    assert report.mean("lpips") is None
    summary = report.to_dict()
    assert summary["frames"] == 4
    assert summary["mean_of_frames"] == {"input": {"psnr": 23.0, "ssim": pytest.approx(0.65)}, "output": {"psnr": 33.0, "ssim": 0.9}}
    # flicker is scored per pair of frames: 2 pairs in 3 frames, 4 in 5
    report.sequences = [SequenceScore("c", 3, 1.0, {}, {"flicker": 10.0}), SequenceScore("d", 5, 1.0, {}, {"flicker": 20.0})]
    assert report.mean("flicker", per="frame") == pytest.approx((2 * 10 + 4 * 20) / 6)


class Flickering(IdentityRestorer):
    """Brightens every other frame of a window: flicker that the sharp frames do not have."""

    def __call__(self, frames):
        sign = torch.tensor([(-1.0) ** t for t in range(len(frames))]).view(-1, 1, 1, 1)
        return (frames + 0.1 * sign).clamp(0, 1)


def test_flicker_on_request(tmp_path):
    from deblur_cli.metrics import temporal_error

    rng = np.random.default_rng(5)
    sharp = [np.clip(100 + 10 * t + rng.integers(0, 20, (20, 24, 3)), 0, 255).astype(np.uint8) for t in range(6)]
    blurred = [np.roll(s, 1, axis=1) for s in sharp]
    frames_folder(tmp_path / "d" / "s" / "blur", blurred)
    frames_folder(tmp_path / "d" / "s" / "sharp", sharp)
    pair = find_sequences(tmp_path / "d")[0]
    assert "flicker" not in evaluate_sequence(pair, IdentityRestorer(), WINDOWS).output
    plain = evaluate_sequence(pair, IdentityRestorer(), WINDOWS, with_flicker=True)

    def clip(images):
        return torch.stack([torch.from_numpy(i).permute(2, 0, 1).float() / 255 for i in images])

    expected = temporal_error(clip(blurred), clip(sharp))  # the whole clip at once
    assert plain.input["flicker"] == pytest.approx(expected) == pytest.approx(plain.output["flicker"])
    flickering = evaluate_sequence(pair, Flickering(), WINDOWS, with_flicker=True)
    assert flickering.output["flicker"] > plain.output["flicker"] + 10  # about 25 levels of brightness every frame
    assert flickering.input["flicker"] == pytest.approx(expected)
    single = find_sequences(tmp_path / "d")[0]
    one = evaluate_sequence(single, IdentityRestorer(), WINDOWS, with_flicker=True, max_frames=1)
    assert "flicker" not in one.output and "flicker" not in one.input  # one frame has no frame before it


def test_the_command_adds_flicker_on_request(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: Flickering())
    frames_folder(tmp_path / "d" / "s" / "blur", random_images(4, seed=1))
    frames_folder(tmp_path / "d" / "s" / "sharp", random_images(4, seed=2))
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "d"), "--flicker", "--json", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    means = json.loads((tmp_path / "e.json").read_text())["mean_of_sequences"]
    assert set(means["output"]) == {"psnr", "ssim", "flicker"} and means["output"]["flicker"] > 0
    assert "FLICKER" in result.output


def test_a_sharp_control_sequence_leaves_the_gain_of_the_blurred_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: MixingRestorer())
    sharp = random_images(3, seed=1)
    frames_folder(tmp_path / "d" / "control" / "blur", sharp)  # the blurred frames are the sharp ones
    frames_folder(tmp_path / "d" / "control" / "sharp", sharp)
    frames_folder(tmp_path / "d" / "shaken" / "blur", [np.roll(i, 1, axis=1) for i in random_images(3, seed=2)])
    frames_folder(tmp_path / "d" / "shaken" / "sharp", random_images(3, seed=2))
    out = tmp_path / "e.json"
    result = runner.invoke(app, ["evaluate", str(tmp_path / "d"), "--json", str(out), "-q"], terminal_width=200)
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    shaken = next(s for s in scores["sequences"] if s["name"] == "shaken")
    gain = shaken["output"]["psnr"] - shaken["input"]["psnr"]
    assert abs(gain) > 0.1  # the restorer changes the frames: a gain of 0 would pass for any rows
    rows = {line.split("  ")[0]: line.split() for line in result.stdout.splitlines() if line.startswith("mean of")}
    assert rows["mean of sequences"][3:6] == ["inf", f"{scores['mean_of_sequences']['output']['psnr']:.2f}", "–"]
    expected = [f"{shaken['input']['psnr']:.2f}", f"{shaken['output']['psnr']:.2f}", f"{gain:+.2f}"]
    assert rows["mean of 1 blurred sequence"][5:8] == expected and rows["mean of their frames"][4:8] == ["3", *expected]
    blurred = scores["blurred"]
    assert blurred["sequences"] == ["shaken"] and blurred["frames"] == 3
    assert blurred["mean_of_frames"]["output"] == shaken["output"]
    assert blurred["mean_of_sequences"]["input"] == shaken["input"]
    assert scores["mean_of_sequences"]["input"]["psnr"] == "Infinity"  # the mean over all stays what it is
    said = " ".join(result.stderr.split())
    assert "the input's PSNR is infinite in control (blurred frames equal to the sharp ones)" in said
    assert "the rows of the 1 blurred sequence give the gain" in said


def test_lpips_and_niqe_on_request(tmp_path):
    from tests.test_metrics import random_lpips_state

    torch.save(random_lpips_state(), tmp_path / "lpips.pth")
    lpips = load_lpips([tmp_path / "lpips.pth"])
    sharp = random_images(2, seed=3, size=(200, 96))  # two 96x96 NIQE blocks
    blurred = [np.roll(s, 1, axis=1) for s in sharp]
    frames_folder(tmp_path / "d" / "s" / "blur", blurred)
    frames_folder(tmp_path / "d" / "s" / "sharp", sharp)
    pair = find_sequences(tmp_path / "d")[0]
    plain = evaluate_sequence(pair, IdentityRestorer(), WINDOWS)
    assert set(plain.output) == {"psnr", "ssim"}
    score = evaluate_sequence(pair, IdentityRestorer(), WINDOWS, lpips=lpips, with_niqe=True)
    assert list(score.output) == ["psnr", "ssim", "lpips", "niqe"]

    def tensors(images):
        return torch.stack([torch.from_numpy(i).permute(2, 0, 1).float() / 255 for i in images])

    want_lpips = lpips_clip(lpips, tensors(blurred), tensors(sharp))
    assert want_lpips > 0 and score.output["lpips"] == pytest.approx(want_lpips, rel=1e-5)
    want_niqe = sum(niqe(frame) for frame in tensors(blurred)) / 2
    assert score.input["niqe"] == pytest.approx(want_niqe, rel=1e-6) and score.output["niqe"] == score.input["niqe"]
    # Where the frames are too small for them, NIQE (two 96x96 blocks) and SSIM (11x11) are left out.
    assert list(frame_metrics(95, 200, lpips=lpips, with_niqe=True)) == ["psnr", "ssim", "lpips"]
    assert list(frame_metrics(10, 200)) == ["psnr"]


def test_niqe_left_out_is_said_in_the_words_bench_uses(tmp_path, monkeypatch):
    """Found by review (research52 F6): the note said "too small for it ... or too flat for it", where the frames'
    size tells which, as bench says it."""
    from deblur_cli.metrics.niqe import too_flat

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    for seq in ("a", "b"):
        make_images(tmp_path / "data" / seq / "blur", count=2, size=(32, 32))
        make_images(tmp_path / "data" / seq / "sharp", count=2, size=(32, 32))
    out = tmp_path / "small.json"
    args = ["evaluate", str(tmp_path / "data"), "-m", "dstnet-s", "--niqe", "--json", str(out), "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "note: NIQE left out: frames of 32x32 hold fewer than 2 96x96 blocks\n" in result.stderr
    assert [s["size"] for s in json.loads(out.read_text())["sequences"]] == [[32, 32], [32, 32]]

    flat = [np.full((96, 200, 3), 90, np.uint8)] * 2  # two 96x96 blocks, of one level
    frames_folder(tmp_path / "flat" / "a" / "blur", flat)
    frames_folder(tmp_path / "flat" / "a" / "sharp", flat)
    frames_folder(tmp_path / "flat" / "b" / "blur", random_images(2, seed=1, size=(200, 96)))
    frames_folder(tmp_path / "flat" / "b" / "sharp", random_images(2, seed=2, size=(200, 96)))
    result = runner.invoke(app, ["evaluate", str(tmp_path / "flat"), "-m", "dstnet-s", "--niqe", "-q"])
    said = " ".join(result.stderr.split())
    partial = "dstnet-s: NIQE is the mean of the 1 of 2 sequences that have it"
    assert f"{partial} (the others' frames are {too_flat('their')})" in said
    assert "too small" not in said

    from deblur_cli.evaluate_plan import _no_niqe
    from deblur_cli.evaluate import SequenceScore

    before = SequenceScore.from_dict(json.loads(out.read_text())["sequences"][0] | {"size": None})  # a file from before
    either = f"the frames are too small for it (under 2 blocks of 96x96) or {too_flat('their')}"
    assert _no_niqe([before], "the") == either


def test_weights_of_another_size_than_the_model_named_are_said_to_be(tmp_path):
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    make_images(tmp_path / "data" / "a" / "blur", count=2, size=(32, 32))
    make_images(tmp_path / "data" / "a" / "sharp", count=2, size=(32, 32))
    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), tmp_path / "mine.safetensors")
    for model, said in (("dstnet-s", True), ("auto", False)):
        args = ["evaluate", str(tmp_path / "data"), "-m", model, "--weights", str(tmp_path / "mine.safetensors"), "-q"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        held = "mine.safetensors holds DSTNet(feat=8, blocks=1), not dstnet-s: its scores are labelled dstnet-s"
        assert (held in " ".join(result.stderr.split())) == said, result.stderr


def test_every_weights_is_checked_before_the_first_model_restores(tmp_path, monkeypatch):
    """Found in review: a mistyped last --weights stopped the run after the first model's whole pass."""
    built = []
    monkeypatch.setattr(restorers_module, "build_restorer", lambda m, **k: built.append(m) or IdentityRestorer())
    data = two_sequences(tmp_path / "d")
    args = ["evaluate", str(data), "-m", "dstnet-s", "--weights", "dstnet-s", "--weights", "nosuchfile", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and built == []
    assert "error: --weights nosuchfile: no such file, and no weights of that name" in result.stderr
    bench_style = runner.invoke(app, ["evaluate", str(data), "--weights", "dstnet-s=mine.safetensors", "-q"])
    assert bench_style.exit_code == 1 and bench_style.stderr.splitlines()[-1] == (
        "hint: name the model and the file apart: --model dstnet-s --weights mine.safetensors"
    )  # found in review: bench's MODEL=FILE was only 'no such file'
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), tmp_path / "mine.safetensors")
    swapped = ["evaluate", str(data), "-m", "dstnet-s", "-m", "wtsa-s", "--weights", "dstnet-s",
               "--weights", str(tmp_path / "mine.safetensors"), "-q"]  # fmt: skip
    result = runner.invoke(app, swapped)  # paired in order: a DSTNet file for wtsa-s
    assert result.exit_code == 1 and built == []
    assert "error: mine.safetensors holds dstnet weights, not a WTSA diffusion model's" in result.stderr


def test_command_scores_a_dataset_and_writes_json(tmp_path):
    for seq in ("a", "b"):
        make_images(tmp_path / "data" / seq / "blur", count=3, size=(32, 32))
        make_images(tmp_path / "data" / seq / "sharp", count=3, size=(32, 32))
    out = tmp_path / "scores.json"
    result = runner.invoke(
        app, ["evaluate", str(tmp_path / "data"), "-m", "dstnet-s", "--frames", "2", "--sequences", "B", "--json", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert [s["name"] for s in scores["sequences"]] == ["b"] and scores["frames"] == 2 and scores["complete"] is True
    means = scores["mean_of_sequences"]
    assert scores["model"] == "dstnet-s" and means["input"]["psnr"] == "Infinity"  # identical halves
    assert math.isfinite(means["output"]["psnr"]) and set(means["output"]) == {"psnr", "ssim"}
    assert scores["settings"]["restorer"]["weights_sha256"] == load_registry().entries["dstnet-s"].checksum.digest
    assert scores["sequences"][0]["frame_names"] == ["img_001", "img_002"]  # the frames scored, by name


def test_command_bad_dataset_is_one_line(tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path / "nothing-here")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "is not a folder" in result.output


def test_a_json_path_that_cannot_be_written_stops_the_command_before_any_scoring(tmp_path, monkeypatch):
    import deblur_cli.restorers as restorers_module

    make_images(tmp_path / "data" / "a" / "blur", count=2, size=(32, 32))
    make_images(tmp_path / "data" / "a" / "sharp", count=2, size=(32, 32))
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: pytest.fail("a model was loaded"))
    result = runner.invoke(app, ["evaluate", str(tmp_path / "data"), "--json", str(tmp_path / "no" / "s.json")])
    assert result.exit_code == 1
    assert "directory" in result.output and "does not exist" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "name, content",
    [("img_001.png", None), ("notes.json", b"not json"), ("run.json", b"[1, 2]"), ("old.json", b'{"dataset": "d"}')],
)
def test_a_json_path_holding_another_file_is_refused_before_any_scoring(tmp_path, monkeypatch, name, content):
    make_images(tmp_path / "data" / "a" / "blur", count=2, size=(32, 32))
    make_images(tmp_path / "data" / "a" / "sharp", count=2, size=(32, 32))
    target = tmp_path / "data" / "a" / "sharp" / name if content is None else tmp_path / name
    if content is not None:
        target.write_bytes(content)
    before = target.read_bytes()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: pytest.fail("a model was loaded"))
    result = runner.invoke(app, ["evaluate", str(tmp_path / "data"), "-m", "dstnet-s", "--json", str(target), "-q"])
    assert result.exit_code == 1, result.output
    assert f"error: --json {target} exists and is not the JSON of an evaluation" in result.output
    assert "Traceback" not in result.output and target.read_bytes() == before


def test_save_writes_the_scored_frames_and_refuses_a_used_folder(tmp_path):
    sharp = random_images(3, seed=4)
    frames_folder(tmp_path / "d" / "seq" / "blur", sharp)
    frames_folder(tmp_path / "d" / "seq" / "sharp", sharp)
    pair = find_sequences(tmp_path / "d")[0]
    folders = save_folders([pair], tmp_path / "saved")
    assert folders == {"seq": tmp_path / "saved" / "seq"}
    score = evaluate_sequence(pair, Constant(), WINDOWS, save_to=folders["seq"])
    saved = sorted(folders["seq"].iterdir())
    assert [p.name for p in saved] == ["000000.png", "000001.png", "000002.png"]  # the blurred frames' names
    images = [read_frames(p)[0] for p in saved]
    assert all((image == 128).all() for image in images)  # what was scored: 0.5 rounded to 8 bits
    assert score.output["psnr"] == pytest.approx(hand_scores(images, sharp)[0], abs=1e-5)
    with pytest.raises(OutputError, match="not an empty folder"):
        save_folders([pair], tmp_path / "saved")
    (tmp_path / "a_file").write_text("kept")
    with pytest.raises(OutputError, match="is a file, not a folder"):  # before any work, not at the first save
        save_folders([pair], tmp_path / "a_file")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        save_folders([pair], tmp_path / "a_file" / "below")


class StopsOnSecondSequence(IdentityRestorer):
    """Raises `error` (Ctrl-C, a bad input) while the second sequence is being restored."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def __call__(self, frames):
        if frames[0, 0, 0, 0] > 0.5:  # the second sequence's frames are white
            raise self.error
        return super().__call__(frames)


@pytest.mark.parametrize("error", [KeyboardInterrupt, InputError("a bad frame")])
def test_a_stopped_evaluation_still_reports_the_finished_sequences(tmp_path, monkeypatch, error):

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: StopsOnSecondSequence(error))
    for seq, level in (("a", 0), ("b", 255)):
        images = [np.full((24, 32, 3), level, np.uint8)] * 2
        frames_folder(tmp_path / "d" / seq / "blur", images)
        frames_folder(tmp_path / "d" / seq / "sharp", images)
    out = tmp_path / "scores.json"
    result = runner.invoke(app, ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "--json", str(out), "-q"])
    assert result.exit_code == (130 if error is KeyboardInterrupt else 1)
    assert "stopped: 1 of 2 sequences" in result.output and "Traceback" not in result.output
    scores = json.loads(out.read_text())
    assert scores["complete"] is False and scores["sequences_planned"] == 2
    assert [s["name"] for s in scores["sequences"]] == ["a"]


def test_diffusion_options_for_models_that_do_not_sample_are_said_to_do_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda model, **k: IdentityRestorer())
    images = [np.full((24, 32, 3), 128, np.uint8)] * 2
    frames_folder(tmp_path / "d" / "a" / "blur", images)
    frames_folder(tmp_path / "d" / "a" / "sharp", images)
    alone = runner.invoke(app, ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "--steps", "5", "-q"])
    assert alone.exit_code == 0, alone.output
    assert "warning: --steps 5 applies to the diffusion models" in alone.stderr
    beside = runner.invoke(app, ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "-m", "wtsa-s", "--steps", "5", "-q"])
    assert beside.exit_code == 0 and "warning: --steps" not in beside.stderr  # wtsa-s takes them


class Darkens(IdentityRestorer):
    """A stand-in model that makes every frame darker: worse than the identity on every metric."""

    def __call__(self, frames):
        return super().__call__(frames) * 0.5


def table_rows(text: str, header: str) -> list[list[list[str]]]:
    """Each printed table whose header's last line starts with `header`: its rows, split at spaces,
    down to its first blank line."""
    lines = text.splitlines()
    tables = []
    for i, line in enumerate(lines):
        if line.split()[:1] == [header]:
            rows = []
            for row in lines[i + 2 :]:  # under the header's rule
                if not row.strip():
                    break
                rows.append(row.split())
            tables.append(rows)
    return tables


def two_sequences(root):
    for k, seq in enumerate(("a", "b")):
        sharp = random_images(3, seed=k, size=(32, 32))
        frames_folder(root / seq / "sharp", sharp)
        frames_folder(root / seq / "blur", [(s // 2 + 64).astype(np.uint8) for s in sharp])  # not the same frames
    return root


def test_lossy_sharp_videos_are_noted(tmp_path, identity):
    """Found in review: sharp frames from an H.264 4:2:0 file lowered every model's scores by its encoding,
    without a word (deblur demo's own folder is such a pair)."""
    root = tmp_path / "d"
    for seq, codec in (("a", None), ("b", "ffv1")):
        (root / seq).mkdir(parents=True)
        suffix = ".mp4" if codec is None else ".mkv"
        for name in ("blurred", "sharp"):  # FFV1 in RGB, as deblur writes it: exact (in 4:2:0 it would be noted)
            make_video(root / seq / f"{name}{suffix}", frames=2, size=(32, 24), codec=codec, pix_fmt=codec and "bgr0")
    result = runner.invoke(app, ["evaluate", str(root), "-m", "dstnet-s", "-q", "--json", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    said = (
        "the sharp frames of 1 of 2 sequences are lossy video (sharp.mp4: h264 yuv420p): the scores include"
        " that encoding's loss; lossless frames (PNG, FFV1) score the restoration alone"
    )
    assert [line for line in result.stderr.splitlines() if " are lossy " in line] == [f"note: {said}"]
    assert json.loads((tmp_path / "s.json").read_text())["lossy_videos"] == [said]  # kept with the scores


def test_a_finished_evaluation_is_refused_before_its_notes_and_the_hint_names_its_save_folder(tmp_path, identity):
    """Found in review: the refusal came after a paragraph on lossy videos it would not score, and its hint,
    --force, then stopped at the --save folder of the same evaluation."""
    (tmp_path / "d" / "a").mkdir(parents=True)
    for name in ("blurred", "sharp"):
        make_video(tmp_path / "d" / "a" / f"{name}.mp4", frames=2, size=(32, 24))
    args = ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "-q", "--json", str(tmp_path / "s.json")]
    args += ["--save", str(tmp_path / "saved")]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and again.stderr.startswith(f"error: --json {tmp_path / 's.json'} holds a finished")
    assert "hint: --force replaces it, once its --save folder is removed (or give another --save)" in again.stderr


def test_results_are_told_lossy_by_what_their_encoder_did(tmp_path, identity):
    """Found in review: x264 in 4:4:4 at its default crf counted as lossless, as its profile name alone was read,
    and so did deblur's own .y4m, whose colour is at half resolution (4:2:0)."""
    sharp = random_images(2, seed=1, size=(32, 32))
    frames_folder(tmp_path / "d" / "s" / "sharp", sharp)
    frames_folder(tmp_path / "d" / "s" / "blur", sharp)
    written = {"exact": ("s.mkv", "--codec", "x264-lossless"), "ffv1": ("s.mkv", "--codec", "ffv1"),
               "crf": ("s.mp4", "--pix-fmt", "yuv444p"), "y4m": ("s.y4m",)}  # fmt: skip
    args = ["evaluate", str(tmp_path / "d"), "-q"]
    for label, (name, *options) in written.items():
        (tmp_path / label).mkdir()
        target = tmp_path / label / name
        made = runner.invoke(app, ["run", str(tmp_path / "d" / "s" / "blur"), "-o", str(target), *options])
        assert made.exit_code == 0, made.output
        args += ["--results", str(tmp_path / label)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    noted = [line.split(" are lossy video ")[1] for line in result.stderr.splitlines() if " are lossy video " in line]
    assert [line.split(": the scores")[0] for line in noted] == [
        "(s.mp4: h264 yuv444p)", "(s.y4m: rawvideo yuv420p, colour at reduced resolution)"
    ]  # and none for x264's lossless mode (in RGB) or FFV1


def test_tiles_chosen_from_free_memory_are_recorded_and_said(tmp_path, monkeypatch):
    """Found in review: --tile auto cut the frames into tiles where memory was short, which changes scores,
    and neither the tables nor the JSON said so."""
    from deblur_cli import stream

    root = tmp_path / "d"
    for seq in ("a", "b"):
        sharp = random_images(2, seed=len(seq), size=(192, 256))
        frames_folder(root / seq / "sharp", sharp)
        frames_folder(root / seq / "blur", [(s // 2 + 64).astype(np.uint8) for s in sharp])
    out = tmp_path / "scores.json"
    monkeypatch.setattr(stream, "free_memory", lambda device: 40 << 20)  # a busy machine, or a small GPU
    tiled = runner.invoke(app, ["evaluate", str(root), "-m", "dstnet-s", "--json", str(out)])
    assert tiled.exit_code == 0, tiled.output
    sides = [s["tile_used"] for s in json.loads(out.read_text())["sequences"]]
    assert sides[0] is not None and sides[0] < 256 and sides[0] == sides[1]
    assert f"note: dstnet-s: 2 of 2 sequences were restored in tiles of {sides[0]} pixels" in tiled.stderr
    monkeypatch.undo()
    whole = runner.invoke(app, ["evaluate", str(root), "-m", "dstnet-s", "--json", str(out), "--force"])
    assert [s["tile_used"] for s in json.loads(out.read_text())["sequences"]] == [None, None]
    assert "tiles of" not in whole.stderr


def test_a_diffusion_models_table_says_how_it_sampled(tmp_path, monkeypatch):
    """Found in review: runs at 2 and at 4 steps printed the same title; the steps were in the JSON alone."""
    monkeypatch.chdir(tmp_path)  # the title starts with the folder as given: "d:", not a path that folds (tests53 F1)
    data = two_sequences(Path("d"))
    result = runner.invoke(app, ["evaluate", str(data), "-m", "wtsa-s", "-m", "dstnet-s", "--steps", "1",
                                 "--samples", "2", "--seed", "3", "--frames", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "d: wtsa-s (1 step, eta 0, seed 3, 2 samples) on cpu, 2 frames" in text
    assert "d: dstnet-s on cpu, 2 frames" in text


def test_what_a_later_model_refuses_is_said_before_the_first_models_pass(tmp_path):
    """Found in review: -m dstnet-s -m wtsa-s --window 30 ran dstnet-s's whole pass, then refused the window for
    wtsa-s; refused by the first model, the error came after 'stopped: 0 of 2 models evaluated'."""
    data = two_sequences(tmp_path / "d")
    for models in (["dstnet-s", "wtsa-s"], ["wtsa-s", "dstnet-s"]):
        flags = [flag for model in models for flag in ("-m", model)]
        out = tmp_path / "scores.json"
        result = runner.invoke(app, ["evaluate", str(data), *flags, "--window", "9", "--json", str(out)])
        assert result.exit_code == 2 and result.stderr.splitlines() == [
            "error: --window 9 is longer than wtsa-s accepts (8 frames)",  # which of them (research52 F11)
            "hint: use --window 8 or less",
        ]
        assert not out.exists()


def test_each_model_is_built_once_and_weights_missing_offline_are_refused_before_any(tmp_path, monkeypatch):
    """Found in review (F10): with several models each was built before the first pass to find what it
    refuses, then again when its turn came."""
    built = []
    build = lambda model, **k: built.append(model) or IdentityRestorer()  # noqa: E731
    monkeypatch.setattr(restorers_module, "build_restorer", build)
    data = two_sequences(tmp_path / "d")
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "-m", "wtsa-s", "-m", "dstnet-s", "-q"])
    assert result.exit_code == 0, result.output
    assert built == ["dstnet-s", "wtsa-s", "dstnet-s"]
    built.clear()
    offline = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "-m", "dstnet", "--offline", "-q"])
    assert offline.exit_code == 1 and built == []
    assert "error: weights 'dstnet-gopro' for model dstnet are not downloaded (offline)" in offline.stderr


def test_a_later_models_weights_that_do_not_fit_are_refused_before_the_first_pass(tmp_path, dstnet_file):
    """Found in review: with each model built once, a second file that was not DSTNet weights, or missed a
    tensor, was refused only after the first model's whole pass."""
    from safetensors.torch import load_file, save_file

    data = two_sequences(tmp_path / "d")
    torch.save({"conv.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    state = load_file(dstnet_file)
    state.pop(next(key for key in state if key.endswith(".bias")))
    save_file(state, tmp_path / "short.safetensors")
    for bad in ("other.pth", "short.safetensors"):
        command = ["evaluate", str(data), "-m", "dstnet-s", "--weights", str(dstnet_file), "-m", "dstnet-s"]
        result = runner.invoke(app, [*command, "--weights", str(tmp_path / bad), "-q"])
        assert result.exit_code == 1 and result.stdout == "", result.output  # no pass: no table
        assert f"error: {bad}" in result.stderr and ("not DSTNet weights" in result.stderr) == (bad == "other.pth")


def test_a_later_wtsa_file_that_does_not_fit_is_refused_before_the_first_pass(tmp_path, dstnet_file):
    from safetensors.torch import load_file, save_file

    from deblur_cli.diffusion.schedule import DiffusionConfig
    from deblur_cli.models.wtsa_unet import WTSAConfig, WTSAUNet
    from deblur_cli.wtsa_weights import save_wtsa

    data = two_sequences(tmp_path / "d")
    whole = tmp_path / "whole.safetensors"
    save_wtsa(WTSAUNet(WTSAConfig(channels=(16, 32), heads=(1, 1), windows=(2,))), whole, diffusion=DiffusionConfig())
    state = load_file(whole)
    state.pop(next(key for key in state if key.endswith(".bias")))
    with safe_open(str(whole), framework="pt") as f:
        metadata = f.metadata()
    save_file(state, tmp_path / "short.safetensors", metadata=metadata)
    command = ["evaluate", str(data), "-m", "dstnet-s", "--weights", str(dstnet_file), "-m", "wtsa-s", "--weights"]
    result = runner.invoke(app, [*command, str(tmp_path / "short.safetensors"), "--steps", "1", "-q"])
    assert result.exit_code == 1 and result.stdout == "", result.output  # no pass: no table
    assert "error: short.safetensors does not fit the WTSA model its metadata describes: missing" in result.stderr


def test_several_models_are_compared_in_one_run(tmp_path, monkeypatch):

    built = []

    def build(model, *, options, **kwargs):
        built.append((model, options.weights))
        return Darkens() if model == "wtsa-s" else IdentityRestorer()

    monkeypatch.setattr(restorers_module, "build_restorer", build)
    data = two_sequences(tmp_path / "d")
    out = tmp_path / "scores.json"
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "-m", "wtsa-s", "--json", str(out),
                                 "--save", str(tmp_path / "saved"), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert built == [("dstnet-s", None), ("wtsa-s", None)]  # each described before the first pass, built once
    scores = json.loads(out.read_text())
    assert scores["dataset"] == str(data) and [m["model"] for m in scores["models"]] == ["dstnet-s", "wtsa-s"]
    # what the figures were measured with (research44: no versions, no processor)
    assert scores["environment"]["torch"] == torch.__version__ and scores["environment"]["av"] == av.__version__
    assert scores["environment"]["python"] == platform.python_version() and scores["environment"]["cpu"]
    identity, darker = (m["mean_of_sequences"] for m in scores["models"])
    assert identity["output"]["psnr"] == pytest.approx(identity["input"]["psnr"])  # the identity changes nothing
    assert darker["output"]["psnr"] < identity["output"]["psnr"] - 1
    # a table per model, then one comparing them (its rows: the input, then each model)
    assert len(table_rows(result.stdout, "sequence")) == 2
    of_sequences, of_frames = table_rows(result.stdout, "model")  # over sequences, then over frames
    assert [row[0] for row in of_sequences[:3]] == [row[0] for row in of_frames] == ["input", "dstnet-s", "wtsa-s"]
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["dstnet-s", "wtsa-s"]
    assert sorted(p.name for p in (tmp_path / "saved" / "wtsa-s").iterdir()) == ["a", "b"]


def test_several_weights_for_one_model_and_weights_paired_with_models(tmp_path, monkeypatch):

    built = []
    described_without_weights(monkeypatch)  # the official dstnet's are not here
    monkeypatch.setattr(
        restorers_module,
        "build_restorer",
        lambda model, *, options, **k: built.append((model, options.weights)) or IdentityRestorer(),
    )
    data = two_sequences(tmp_path / "d")
    out = tmp_path / "scores.json"
    monkeypatch.chdir(tmp_path)
    for name in ("GOPRO.pth", "DVD.pth"):  # files: each is looked for before any model runs
        (tmp_path / name).write_bytes(b"")
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNET_VARIANTS, DSTNet

    save_dstnet(DSTNet(DSTNET_VARIANTS["dstnet-s"]), tmp_path / "small.safetensors")  # its metadata is read too
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet", "--weights", "GOPRO.pth", "--weights", "DVD.pth",
                                 "--json", str(out), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert built == [("dstnet", Path("GOPRO.pth")), ("dstnet", Path("DVD.pth"))]  # described ahead, built once
    labels = [m["model"] for m in json.loads(out.read_text())["models"]]
    assert labels == ["dstnet (GOPRO.pth)", "dstnet (DVD.pth)"]
    built.clear()
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet", "-m", "dstnet-s", "--weights", "GOPRO.pth",
                                 "--weights", "small.safetensors", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert built == [("dstnet", Path("GOPRO.pth")), ("dstnet-s", Path("small.safetensors"))]
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet", "-m", "dstnet-s", "--weights", "GOPRO.pth"])
    assert result.exit_code == 2 and "1 --weights for 2 models" in result.output


def test_a_comparison_stopped_in_its_second_model_keeps_the_first(tmp_path, monkeypatch):

    monkeypatch.setattr(
        restorers_module,
        "build_restorer",
        lambda model, **k: StopsOnSecondSequence(KeyboardInterrupt) if model == "wtsa-s" else IdentityRestorer(),
    )
    for seq, level in (("a", 0), ("b", 255)):
        images = [np.full((24, 32, 3), level, np.uint8)] * 2
        frames_folder(tmp_path / "d" / seq / "blur", images)
        frames_folder(tmp_path / "d" / seq / "sharp", images)
    out = tmp_path / "scores.json"
    result = runner.invoke(app, ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "-m", "wtsa-s", "--json", str(out), "-q"])
    assert result.exit_code == 130
    assert "stopped: 1 of 2 sequences evaluated with wtsa-s" in result.output
    assert "stopped: 1 of 2 models evaluated on every sequence" in result.output
    models = json.loads(out.read_text())["models"]
    assert [(m["model"], m["complete"], len(m["sequences"])) for m in models] == [("dstnet-s", True, 2), ("wtsa-s", False, 1)]


def test_a_stopped_comparison_averages_every_row_over_the_sequences_the_stopped_model_finished(tmp_path, monkeypatch):
    """Found in review: the stopped model's mean of one sequence stood beside the others' means of all of them
    (wtsa-s 29.60 dB 'above' dstnet-s 28.60, which led 30.41 to 29.60 on the one sequence both scored)."""

    class StopsInItsSecondSequence(Darkens):
        calls = 0

        def __call__(self, frames):
            type(self).calls += 1
            if type(self).calls > 1:
                raise KeyboardInterrupt
            return super().__call__(frames)

    def build(model, **kwargs):
        StopsInItsSecondSequence.calls = 0  # a fresh model for each build
        return StopsInItsSecondSequence() if model == "wtsa-s" else IdentityRestorer()

    monkeypatch.setattr(restorers_module, "build_restorer", build)
    monkeypatch.chdir(tmp_path)  # the title starts with the folder as given: "d:", not a path that folds (tests53 F1)
    data = two_sequences(Path("d"))
    out = tmp_path / "scores.json"
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "-m", "wtsa-s", "--json", str(out)])
    assert result.exit_code == 130
    assert "d: mean of sequences (the 1 of 2 sequences wtsa-s finished)" in " ".join(result.stdout.split())
    first, darker = json.loads(out.read_text())["models"]
    assert len(darker["sequences"]) == 1 and len(first["sequences"]) == 2
    scored = first["sequences"][0]
    rows = table_rows(result.stdout, "model")[-2][:3]  # the last comparison's means of sequences
    assert [row[0] for row in rows] == ["input", "dstnet-s", "wtsa-s"]
    assert float(rows[0][1]) == float(rows[1][1]) == round(scored["input"]["psnr"], 2)  # the identity: the input
    assert float(rows[2][1]) == round(darker["sequences"][0]["output"]["psnr"], 2)


@pytest.mark.parametrize("depth, dtype", [(8, torch.uint8), (16, getattr(torch, "uint16", None))])
def test_frames_waiting_to_be_scored_are_held_as_decoded(tmp_path, depth, dtype):
    from deblur_cli.evaluate import _tensors
    from deblur_cli.levels import holds_uint16
    from deblur_cli.video_io import open_source

    if depth == 16 and not holds_uint16(torch.device("cpu")):  # torch 2.3: float32, as to_tensor gives
        dtype = torch.float32

    make_images(tmp_path / "seq", count=3, bit_depth=depth)
    with open_source(tmp_path / "seq") as source:
        held = list(_tensors(source, 2))
    assert len(held) == 2 and {frame.dtype for frame in held} == {dtype}


def test_known_input_scores_are_taken_and_the_input_is_not_scored_again(tmp_path, monkeypatch):
    from deblur_cli import evaluate as evaluate_module

    data = two_sequences(tmp_path / "d")
    pair = find_sequences(data)[0]
    first = evaluate_sequence(pair, Darkens(), WINDOWS)
    scored = []
    real = evaluate_module.frame_metrics

    def counting(*args, **kwargs):
        def wrap(name, metric):
            return lambda frame, sharp: scored.append(name) or metric(frame, sharp)

        return {name: wrap(name, metric) for name, metric in real(*args, **kwargs).items()}

    monkeypatch.setattr(evaluate_module, "frame_metrics", counting)
    again = evaluate_sequence(pair, Darkens(), WINDOWS, input_scores=first)
    assert again.input == first.input and again.output == first.output and again.per_frame == first.per_frame
    assert sorted(set(scored)) == ["psnr", "ssim"] and len(scored) == 2 * 3  # the 3 outputs only, not the inputs
    fresh = evaluate_sequence(pair, Darkens(), WINDOWS)
    assert len(scored) == 2 * 3 + 2 * 3 * 2  # without known scores, input and output
    assert fresh.input == first.input
    with pytest.raises(ValueError, match="metrics"):
        evaluate_sequence(pair, Darkens(), WINDOWS, input_scores=replace(first, input={"psnr": 1.0}))


def test_several_models_score_the_input_once(tmp_path, monkeypatch):
    from deblur_cli import evaluate as evaluate_module, evaluate_session

    described_without_weights(monkeypatch)  # the official dstnet's are not here
    monkeypatch.setattr(restorers_module, "build_restorer", lambda model, **kwargs: Darkens())
    passes = []
    real = evaluate_module.evaluate_sequence

    def recording(pair, restorer, windows, **kwargs):
        passes.append((pair.name, kwargs.get("input_scores") is not None))
        return real(pair, restorer, windows, **kwargs)

    monkeypatch.setattr(evaluate_session, "evaluate_sequence", recording)
    out = tmp_path / "scores.json"
    data = two_sequences(tmp_path / "d")
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "-m", "dstnet", "-m", "wtsa-s",
                                 "--json", str(out), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert passes == [("a", False), ("b", False)] + [("a", True), ("b", True)] * 2
    models = json.loads(out.read_text())["models"]
    inputs = [[s["input"] for s in m["sequences"]] for m in models]
    assert inputs[0] == inputs[1] == inputs[2] and inputs[0][0]["psnr"] > 0


def test_the_json_keeps_every_frames_scores_and_a_continued_run_reads_them(tmp_path, monkeypatch):
    described_without_weights(monkeypatch)  # the official dstnet's are not here
    monkeypatch.setattr(restorers_module, "build_restorer", lambda model, **kwargs: Darkens())
    data = two_sequences(tmp_path / "d")
    out = tmp_path / "scores.json"
    args = ["evaluate", str(data), "-m", "dstnet-s", "-m", "dstnet", "--flicker", "--json", str(out), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    first, second = json.loads(out.read_text())["models"]
    sequence = first["sequences"][0]
    sharp = [torch.from_numpy(f).permute(2, 0, 1).double() / 255 for f in random_images(3, seed=0, size=(32, 32))]
    blurred = [(f * 255).round().div(2).floor().add(64) / 255 for f in sharp]  # as two_sequences wrote them
    expected = [float(psnr(b.float(), s.float())) for b, s in zip(blurred, sharp)]
    per_frame = sequence["per_frame"]
    assert per_frame["input"]["psnr"] == pytest.approx(expected, abs=1e-4)
    assert len(per_frame["output"]["psnr"]) == 3 and len(per_frame["output"]["flicker"]) == 2
    for side in ("input", "output"):
        for metric, values in per_frame[side].items():
            assert sequence[side][metric] == pytest.approx(sum(values) / len(values))
    assert second["sequences"][0]["per_frame"]["input"] == per_frame["input"]  # taken from the first pass
    stored = SequenceScore.from_dict(sequence)
    assert stored.per_frame["output"]["ssim"] == sequence["per_frame"]["output"]["ssim"]
    assert sequence["frame_names"] == stored.frame_names == ["000000", "000001", "000002"]


class CountsSequences(MixingRestorer):
    """A restorer with an identity (its scores can be reused) that records which frames it restored,
    and stops with Ctrl-C at the sequence whose frames average above `stop_above`."""

    def __init__(self, stop_above: float = 2.0, name: str = "mix"):
        super().__init__(name=name)
        self.stop_above = stop_above
        self.seen: list[float] = []

    def __call__(self, frames):
        level = float(frames.mean())
        if level > self.stop_above:
            raise KeyboardInterrupt
        self.seen.append(level)
        return super().__call__(frames)


def three_levels(root):
    for seq, level in (("a", 40), ("b", 120), ("c", 200)):
        images = [np.full((24, 32, 3), level, np.uint8) + np.arange(32, dtype=np.uint8)[None, :, None]] * 2
        frames_folder(root / seq / "blur", images)
        frames_folder(root / seq / "sharp", [np.clip(i.astype(int) + 9, 0, 255).astype(np.uint8) for i in images])
    return root


def test_the_same_command_continues_a_stopped_evaluation(tmp_path, monkeypatch):

    data, out = three_levels(tmp_path / "d"), tmp_path / "scores.json"
    args = ["evaluate", str(data), "-m", "dstnet-s", "--json", str(out), "-q"]
    whole = CountsSequences()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: whole)
    assert runner.invoke(app, [*args[:-3], "--json", str(tmp_path / "whole.json"), "-q"]).exit_code == 0

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: CountsSequences(stop_above=0.6))
    stopped = runner.invoke(app, args)
    assert stopped.exit_code == 130
    assert "the same command continues from there" in stopped.stderr
    assert [s["name"] for s in json.loads(out.read_text())["sequences"]] == ["a", "b"]

    again = CountsSequences()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: again)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 of 3 sequences were scored with dstnet-s already" in result.stderr
    assert len(again.seen) == 1 and again.seen[0] > 0.6  # only c was restored
    scores, reference = json.loads(out.read_text()), json.loads((tmp_path / "whole.json").read_text())
    assert scores["complete"] is True
    assert scores["mean_of_sequences"] == reference["mean_of_sequences"]
    assert [s["output"] for s in scores["sequences"]] == [s["output"] for s in reference["sequences"]]

    # a finished evaluation is kept, or with --force run again whole, as is one whose settings or files changed
    kept = out.read_bytes()
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and f"error: --json {out} holds a finished evaluation" in refused.stderr
    assert "hint: --force replaces it" in refused.stderr and out.read_bytes() == kept and len(again.seen) == 1
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert len(again.seen) == 4
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: CountsSequences(stop_above=0.6))
    runner.invoke(app, [*args, "-f"])
    other = CountsSequences(name="other")
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: other)
    assert runner.invoke(app, args).exit_code == 0
    assert len(other.seen) == 3


def test_an_evaluation_stopped_under_an_earlier_release_continues():
    """Found in review: settings written when a restorer named its weights file by path, size and time no longer
    matched ones that name it by path and sha256, and the stopped evaluation was scored again from scratch."""
    restorer = {"model": "dstnet-s", "weights": ["/w/dstnet-s.safetensors"], "weights_sha256": "ab"}
    report = EvaluationReport("d", "dstnet-s", "cpu", planned=2, settings={"restorer": restorer}, digests={"a": "x"})
    done = SequenceScore("a", 2, 1.0, {"psnr": 20.0}, {"psnr": 21.0})
    then = {**restorer, "weights": ["/w/dstnet-s.safetensors", 3062790, 17]}  # as 7b764e3 wrote it
    stored = EvaluationReport("d", "dstnet-s", "cpu", planned=2, sequences=[done], digests={"a": "x"},
                              settings={"restorer": then})  # fmt: skip
    assert list(report.reusable(stored.to_dict())) == ["a"]
    other = {**then, "weights_sha256": "cd"}
    assert report.reusable({**stored.to_dict(), "settings": {"restorer": other}}) == {}  # other weights
    elsewhere = {**restorer, "weights": ["/venv2/deblur_cli/weights/bundled/dstnet-s.safetensors"]}
    assert list(report.reusable({**stored.to_dict(), "settings": {"restorer": elsewhere}})) == ["a"]  # a new install


def test_a_changed_sequence_or_no_resume_is_scored_again(tmp_path, monkeypatch):

    data, out = three_levels(tmp_path / "d"), tmp_path / "scores.json"
    args = ["evaluate", str(data), "-m", "dstnet-s", "--json", str(out), "-q"]
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: CountsSequences(stop_above=0.6))
    runner.invoke(app, args)
    sharp = data / "a" / "sharp" / "000000.png"
    os.utime(sharp, ns=(0, 0))  # sequence a's files changed
    again = CountsSequences()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: again)
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert len(again.seen) == 2  # a and c; b was taken
    assert "1 of 3 sequences was scored with dstnet-s already" in result.stderr
    # and it says why it scores a again (it once said nothing: an upgrade's new digests scored every sequence again)
    assert "scored 1 of these sequences with dstnet-s under other settings, from files since changed" in result.stderr

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: CountsSequences(stop_above=0.6))
    runner.invoke(app, [*args, "--force"])
    fresh = CountsSequences()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: fresh)
    assert runner.invoke(app, [*args, "--no-resume"]).exit_code == 0
    assert len(fresh.seen) == 3


def test_a_stopped_comparison_continues_with_the_model_it_stopped_in(tmp_path, monkeypatch):

    data, out = three_levels(tmp_path / "d"), tmp_path / "scores.json"
    args = ["evaluate", str(data), "-m", "dstnet-s", "-m", "wtsa-s", "--json", str(out), "-q"]
    first = {"dstnet-s": CountsSequences(name="a"), "wtsa-s": CountsSequences(stop_above=0.6, name="b")}
    monkeypatch.setattr(restorers_module, "build_restorer", lambda model, **k: first[model])
    assert runner.invoke(app, args).exit_code == 130

    again = {"dstnet-s": CountsSequences(name="a"), "wtsa-s": CountsSequences(name="b")}
    monkeypatch.setattr(restorers_module, "build_restorer", lambda model, **k: again[model])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 of 3 sequences were scored with dstnet-s already" in result.stderr
    assert "2 of 3 sequences were scored with wtsa-s already" in result.stderr
    assert (len(again["dstnet-s"].seen), len(again["wtsa-s"].seen)) == (0, 1)
    models = json.loads(out.read_text())["models"]
    assert [m["complete"] for m in models] == [True, True] and [m["frames"] for m in models] == [6, 6]


class Inverts(IdentityRestorer):
    def __call__(self, frames):
        return 1 - super().__call__(frames)


def test_scene_cuts_are_listed_per_sequence_and_named_under_the_table(tmp_path, monkeypatch):
    """Windows split at a cut score otherwise than whole ones, as published results restore them: the
    JSON lists each sequence's cuts as run --json does, and a note names the sequences and the flag."""
    import shutil

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: MixingRestorer())
    for name, shots in (("edited", [(0, 4), (1, 5)]), ("one-shot", [(2, 6)])):
        (tmp_path / "d" / name).mkdir(parents=True)
        make_edited(tmp_path / "d" / name / "blurred.mkv", shots)
        shutil.copy(tmp_path / "d" / name / "blurred.mkv", tmp_path / "d" / name / "sharp.mkv")
    args = ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "--json", str(tmp_path / "a.json"), "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    sequences = json.loads((tmp_path / "a.json").read_text())["sequences"]
    assert [(s["name"], s["scene_cuts"]) for s in sequences] == [("edited", [4]), ("one-shot", [])]
    assert SequenceScore.from_dict(sequences[0]).scene_cuts == [4]  # as a continued evaluation takes it
    assert (
        "note: dstnet-s: windows were split at scene cuts in edited (1 cut), which changes their scores; published "
        "results restore every window whole: add --no-scene-cuts to compare with them"
    ) in " ".join(result.stderr.split())

    result = runner.invoke(app, [*args, "--no-scene-cuts", "--force"])
    assert result.exit_code == 0 and "scene cuts" not in result.stderr
    assert [s["scene_cuts"] for s in json.loads((tmp_path / "a.json").read_text())["sequences"]] == [None, None]


def test_strength_scores_the_mix_that_deblur_run_writes(tmp_path):
    data = two_sequences(tmp_path / "d")
    pair = find_sequences(data)[0]
    windows = WindowOptions(window=3, overlap=1, tile=None)
    none = evaluate_sequence(pair, Inverts(), windows, mix=Mix(0.0))
    assert none.output == pytest.approx(none.input, rel=1e-6)  # nothing of the restoration kept: the input
    half = evaluate_sequence(pair, Inverts(), windows, mix=Mix(0.5))
    full = evaluate_sequence(pair, Inverts(), windows)
    assert half.output["psnr"] not in (none.output["psnr"], full.output["psnr"])
    # a mix at 0.5 of x and 1 - x is mid-grey everywhere: its PSNR is that of a flat 0.5 image
    sharp = np.stack([read_frames(p)[0] for p in sorted((data / "a" / "sharp").iterdir())]) / 255
    flat = np.mean([10 * np.log10(1 / np.mean((s - 128 / 255) ** 2)) for s in sharp])
    assert half.output["psnr"] == pytest.approx(flat, abs=0.05)


def test_strength_zero_scores_the_input_without_running_the_model(tmp_path):
    """Found by review (structure54 F2): evaluate ran the model on every window at --strength 0 and weighted its
    output by 0, where deblur run runs none; with a diffusion model on a dataset that is hours for nothing."""
    pair = find_sequences(two_sequences(tmp_path / "d"))[0]
    restorer = Inverts()
    score = evaluate_sequence(pair, restorer, WindowOptions(window=3, overlap=1, tile=None), mix=Mix(0.0))
    assert restorer.calls == []
    assert score.output == score.input and score.tile_used is None


def test_a_partial_strength_is_in_the_model_label_and_a_stopped_evaluation_continues(tmp_path, monkeypatch):
    """Found by review (research52 F2): at --strength 0.5 the title, the comparison's row and the JSON's "model"
    said dstnet-s, and a table copied elsewhere passed for the model's own scores."""
    monkeypatch.chdir(tmp_path)  # short names in the titles and rows: a long path folds them (tests53 F1)
    data, out = three_levels(Path("d")), Path("scores.json")
    args = ["evaluate", str(data), "-m", "dstnet-s", "--strength", "0.5", "--json", str(out), "-q"]
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: CountsSequences(stop_above=0.6))
    assert runner.invoke(app, args).exit_code == 130
    again = CountsSequences()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: again)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 of 3 sequences were scored with dstnet-s (strength 0.5) already" in result.stderr
    assert len(again.seen) == 1 and "dstnet-s (strength 0.5) on cpu" in result.stdout
    assert json.loads(out.read_text())["model"] == "dstnet-s (strength 0.5)"

    frames_folder(Path("r") / "a", [np.zeros((24, 32, 3), np.uint8)] * 2)
    several = [*args[:-3], "-m", "wtsa-s", "--steps", "1", "--results", "r", "--sequences", "a"]
    result = runner.invoke(app, several)
    assert result.exit_code == 0, result.output
    rows, _ = table_rows(result.stdout, "model")
    assert [row[1:3] for row in rows[1:3]] == [["(strength", "0.5)"]] * 2 and rows[3][0] == "r"
    assert "dstnet-s on cpu" in runner.invoke(app, [*args[:4], "--sequences", "a", "-q"]).stdout  # at 1, as it was


def test_the_published_last_window_on_request(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    frames_folder(tmp_path / "d" / "s" / "blur", random_images(7, seed=1))
    frames_folder(tmp_path / "d" / "s" / "sharp", random_images(7, seed=2))
    runner = CliRunner()
    args = ["evaluate", str(tmp_path / "d"), "--window", "3", "--overlap", "0", "--json", str(tmp_path / "e.json")]
    result = runner.invoke(app, [*args, "--last-window", "shift"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "e.json").read_text())["settings"]["windows"]["last"] == "shift"
    bad = runner.invoke(app, [*args, "--last-window", "wrap"])
    assert bad.exit_code == 2 and "--last-window must be split or shift" in bad.output


def test_infinite_and_undefined_scores_survive_the_json(tmp_path):
    from deblur_cli.files import write_json

    report = EvaluationReport("d", "m", "cpu", planned=1)
    report.sequences = [SequenceScore("a", 2, 1.0, {"psnr": math.inf}, {"psnr": math.nan})]
    write_json(report, tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    stored = json.loads(text)  # valid JSON: no bare NaN or Infinity
    assert stored["sequences"][0]["input"]["psnr"] == "Infinity" and stored["sequences"][0]["output"]["psnr"] == "NaN"
    back = SequenceScore.from_dict(stored["sequences"][0])
    assert back.input["psnr"] == math.inf and math.isnan(back.output["psnr"])  # NaN was read back as inf
    older = SequenceScore.from_dict(stored["sequences"][0] | {"input": {"psnr": None}})  # as files before wrote it
    assert older.input["psnr"] == math.inf


def test_a_flat_frame_is_left_out_of_niqe_and_a_flat_sequence_has_none():
    from deblur_cli.evaluate import _Scores

    def stand_in_niqe(frame, sharp):  # NaN where the frame is flat, as NIQE is
        return math.nan if float(frame.std()) == 0 else 4.0 + float(frame.mean())

    scores = _Scores({"psnr": lambda f, s: float(psnr(f, s)), "niqe": stand_in_niqe})
    black, textured = torch.zeros(3, 8, 8), torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    for frame in (black, textured, textured):
        scores.add(frame, textured, frame)
    result = scores.result("s", 1.0)
    assert result.output["niqe"] == pytest.approx(4.0 + float(textured.mean()), abs=1e-2)  # the black frame left out
    flat = _Scores({"niqe": stand_in_niqe, "psnr": lambda f, s: 0.0})
    flat.add(black, black, black)
    assert "niqe" not in flat.result("f", 1.0).output


def test_metrics_some_sequences_lack_are_kept_with_a_note(tmp_path, monkeypatch):
    from tests.test_metrics import random_lpips_state

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    for seq, frames in (("one", 1), ("three", 3)):
        make_images(tmp_path / "d" / seq / "blur", count=frames, size=(32, 32))
        make_images(tmp_path / "d" / seq / "sharp", count=frames, size=(32, 32))
    result = runner.invoke(app, ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "--flicker", "-q"])
    assert result.exit_code == 0, result.output
    assert "FLICKER" in result.stdout  # the column stays, with the mean of the sequence that has it
    assert "dstnet-s: FLICKER is the mean of the 1 of 2 sequences that have it (a sequence of one frame has none)" in " ".join(result.stderr.split())
    # LPIPS needs 31 pixels a side: left out of 24x32 frames with a note, not a crash
    torch.save(random_lpips_state(), tmp_path / "lpips.pth")
    make_images(tmp_path / "small" / "s" / "blur", count=2, size=(32, 24))
    make_images(tmp_path / "small" / "s" / "sharp", count=2, size=(32, 24))
    result = runner.invoke(app, ["evaluate", str(tmp_path / "small"), "-m", "dstnet-s", "--lpips-weights", str(tmp_path / "lpips.pth"), "-q"])
    assert result.exit_code == 0, result.output
    assert "LPIPS left out: it needs frames of 31 pixels a side or more" in result.stderr
    assert "SSIM left out" not in result.stderr
    make_images(tmp_path / "tiny" / "s" / "blur", count=2, size=(10, 10))  # SSIM left out too: it was, without a word
    make_images(tmp_path / "tiny" / "s" / "sharp", count=2, size=(10, 10))
    result = runner.invoke(app, ["evaluate", str(tmp_path / "tiny"), "-m", "dstnet-s", "-q"])
    assert result.exit_code == 0 and "SSIM left out: it needs frames of 11 pixels a side or more" in result.stderr
    # and a model is scored with LPIPS where the frames are large enough (this crashed: its weights
    # files, a list, were taken for one path)
    result = runner.invoke(app, ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "--lpips-weights", str(tmp_path / "lpips.pth"), "-q"])
    assert result.exit_code == 0, result.output
    assert "LPIPS" in result.stdout


def test_models_compare_a_metric_some_sequences_lack_over_the_same_sequences():
    from deblur_cli.cli.evaluate_tables import comparison

    def report(model, niqe_b):
        r = EvaluationReport("d", model, "cpu", planned=2)
        b = {"psnr": 30.0} | ({"niqe": niqe_b} if niqe_b is not None else {})
        r.sequences = [SequenceScore("a", 2, 1.0, {"psnr": 20.0, "niqe": 6.0}, {"psnr": 30.0, "niqe": 4.0}),
                       SequenceScore("b", 2, 1.0, {"psnr": 20.0, "niqe": 6.0}, b)]  # fmt: skip
        return r

    flat, textured = report("flat", None), report("textured", 8.0)  # "flat" left sequence b without NIQE
    assert flat.mean("niqe") == 4.0 and textured.mean("niqe") == 6.0  # each alone: over different sequences
    assert textured.to_dict()["sequences_with"] == {"psnr": 2, "niqe": 2}
    assert flat.to_dict()["sequences_with"] == {"psnr": 2, "niqe": 1}
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(*comparison([flat, textured]))
    rows, _ = table_rows(console.export_text(), "model")
    rows = {row[0]: row for row in rows}
    assert "4.000" in rows["textured"] and "4.000" in rows["flat"]  # both over sequence a


def test_models_compare_by_the_mean_of_frames_too(tmp_path):
    """Found by review (research52 F3): the comparison showed the mean of sequences only, while the published
    figures are the mean of frames; they differ where sequences differ in length."""
    from rich.console import Console

    from deblur_cli.cli.evaluate_tables import comparison
    from deblur_cli.cli.tables import width_needed

    every = {"psnr": 20.0, "ssim": 0.5, "lpips": 0.25, "niqe": 5.0, "flicker": 9.0}
    twice = {m: 2 * v for m, v in every.items()}

    def report(model, gain):
        r = EvaluationReport("d", model, "cpu", planned=2)
        r.sequences = [  # of 1 and 3 frames
            SequenceScore("a", 1, 1.0, dict(every), {m: v + gain for m, v in every.items()}),
            SequenceScore("b", 3, 1.0, twice, {m: v + gain for m, v in twice.items()}),
        ]
        return r

    tables = comparison([report("dstnet-s", 1.0), report("a very long label (strength 0.5)", 2.0)])
    console = Console(width=80, record=True)
    console.print(*tables)
    text = console.export_text()
    of_sequences, of_frames = ({row[0]: row[1] for row in rows[:2]} for rows in table_rows(text, "model"))
    assert (of_sequences["input"], of_sequences["dstnet-s"]) == ("30.00", "31.00")  # (20 + 40) / 2
    assert (of_frames["input"], of_frames["dstnet-s"]) == ("35.00", "36.00")  # (20 + 3 x 40) / 4
    assert "d: mean of sequences" in text and "d: mean of frames" in text
    assert all(width_needed(table, console) <= 80 for table in tables)  # every figure whole at 80 columns


@pytest.mark.parametrize("columns, parts", [(200, 1), (80, 2), (50, 5)])
def test_a_table_too_wide_for_the_terminal_is_split_into_whole_metrics(monkeypatch, columns, parts):
    """At 80 columns the label column was squeezed to nothing and figures were cut ("0.67…")."""
    from deblur_cli.cli.evaluate_tables import out, show

    scores = {"psnr": 22.4081, "ssim": 0.67641, "lpips": 0.31234, "niqe": 5.4321, "flicker": 19.3612}
    report = EvaluationReport("d", "dstnet-s", "cpu", planned=2)
    report.sequences = [
        SequenceScore(name, 6, 2.0, {m: v + k for m, v in scores.items()}, {m: v + k + 0.5 for m, v in scores.items()})
        for k, name in enumerate(["GOPR0384_11_00", "GOPR0410_11_00"])
    ]
    monkeypatch.setattr(out, "width", columns)
    with out.capture() as captured:
        show(report)
    shown = captured.get()
    assert "…" not in shown and max(map(len, shown.splitlines())) <= columns
    tables = table_rows(shown, "sequence")
    assert len(tables) == parts and shown.count("dstnet-s on cpu") == 1  # the title over the first part only
    for rows in tables:  # each part names the sequences and counts their frames
        assert [row[:2] for row in rows[:2]] == [["GOPR0384_11_00", "6"], ["GOPR0410_11_00", "6"]]
    cells = {c for rows in tables for row in rows for c in row}
    for k in range(2):
        for metric, value in scores.items():
            digits = {"psnr": 2, "flicker": 2, "niqe": 3}.get(metric, 4)
            assert f"{value + k:.{digits}f}" in cells and f"{value + k + 0.5:.{digits}f}" in cells, (metric, k)
        assert "3" in cells  # 6 frames in 2.0 s
    assert [c for c in cells if c.startswith("+")] == ["+0.50"]  # the gain, with its PSNR


def test_a_terminal_too_narrow_for_one_figure_gets_a_note(monkeypatch, capsys):
    """Found in review: under about 40 columns the figures were cut with no word, where bench says so."""
    from deblur_cli.cli.evaluate_tables import out, show

    report = EvaluationReport("d", "dstnet-s", "cpu", planned=1)
    report.sequences = [SequenceScore("GOPR0384_11_00", 6, 2.0, {"psnr": 22.4081}, {"psnr": 22.9081})]
    monkeypatch.setattr(out, "width", 24)
    with out.capture():
        show(report)
    said = " ".join(capsys.readouterr().err.split())
    assert "columns and the terminal has 24: figures are cut short; widen the terminal, or read them in full" in said
    monkeypatch.setattr(out, "width", 80)
    with out.capture():
        show(report)
    assert "figures are cut short" not in capsys.readouterr().err


def test_a_comparison_stopped_before_its_second_model_scored_anything_continues_after_the_first(tmp_path, monkeypatch):
    """The stopped model's empty report was dropped, so the JSON held complete reports only and read as a
    finished evaluation: the first model was run again."""
    data, out = three_levels(tmp_path / "d"), tmp_path / "scores.json"
    args = ["evaluate", str(data), "-m", "dstnet-s", "-m", "wtsa-s", "--json", str(out), "-q"]
    first = CountsSequences(name="first")
    built = {"dstnet-s": first, "wtsa-s": CountsSequences(stop_above=-1.0, name="second")}  # stops at once
    monkeypatch.setattr(restorers_module, "build_restorer", lambda model, **k: built[model])
    assert runner.invoke(app, args).exit_code == 130
    stopped = json.loads(out.read_text())
    assert stopped["stopped"] is True and [m["complete"] for m in stopped["models"]] == [True]
    built["wtsa-s"] = CountsSequences(name="second")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(first.seen) == 3  # its three sequences, scored once: taken from the JSON the second time
    assert "stopped" not in json.loads(out.read_text())



def test_the_table_title_counts_one_frame_in_the_singular(tmp_path):
    for count in (1, 2):
        make_images(tmp_path / str(count) / "blur", count=count)
        make_images(tmp_path / str(count) / "sharp", count=count)
        scored = runner.invoke(app, ["evaluate", str(tmp_path / str(count)), "--results", str(tmp_path / str(count) / "sharp")])
        assert scored.exit_code == 0, scored.output
        text = " ".join(scored.stdout.split())  # a long title folds
        assert "(restored elsewhere), 1 frame " in text if count == 1 else ", 2 frames " in text, text  # "1 frames"


def test_a_frame_missing_at_the_end_of_a_side_is_named(tmp_path):
    make_images(tmp_path / "s" / "blur", count=5)
    make_images(tmp_path / "s" / "sharp", count=5)
    last = sorted((tmp_path / "s" / "sharp").iterdir())[-1]
    last.unlink()
    with pytest.raises(InputError, match=rf"has fewer frames than the blurred ones: blurred frame {last.stem} has none"):
        evaluate_sequence(find_sequences(tmp_path)[0], IdentityRestorer(), WINDOWS)


def test_notes_on_the_tiles_come_after_the_checks_and_once(tmp_path, monkeypatch):
    """As `deblur run` says them (found in diff43: evaluate warned of small tiles, then refused them)."""
    data = three_levels(tmp_path / "d")
    described_without_weights(monkeypatch)  # the official dstnet's are not here
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: MixingRestorer())
    refused = runner.invoke(app, ["evaluate", str(data), "--tile", "48", "--tile-overlap", "40", "-q"])
    assert refused.exit_code == 2 and "leaves no room" in refused.stderr, refused.output
    assert "tiles under 64 pixels" not in refused.stderr
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "-m", "dstnet", "--tile", "32", "-q"])
    assert result.exit_code == 0, result.output
    assert " ".join(result.stderr.split()).count("--tile 32: tiles under 64 pixels restore less") == 1
