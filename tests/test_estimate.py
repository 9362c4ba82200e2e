"""estimate.py and `deblur info --estimate`: how long a model takes on an input, timed before the run."""

from __future__ import annotations

import json
import re

import pytest
import torch
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.estimate import PROBE_PIXELS, estimate, probe_size
from deblur_cli.restorer import Restorer
from tests.media import make_video

runner = CliRunner()


class _Timed(Restorer):
    """A restorer that costs one tick of a fake clock per pixel of each frame it restores, and keeps the shapes
    it was called with."""

    multiple, max_frames, device, bytes_per_pixel = 16, None, torch.device("cpu"), 1.0

    def __init__(self):
        self.now, self.calls = 0.0, []

    def clock(self) -> float:
        return self.now

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(frames.shape))
        self.now += frames.shape[0] * frames.shape[2] * frames.shape[3]
        return frames


@pytest.mark.parametrize(
    "size, probe",
    [
        ((48, 64), (48, 64)),  # small: whole
        ((360, 640), (368, 640)),  # whole, padded to the multiple
        ((1080, 1920), (144, 1920)),  # a strip of the full width: 262144 / 1920 / 16 = 8.5 rows of 16
        ((3840, 2160), (128, 2160)),  # portrait 4K
    ],
)
def test_a_large_frame_is_timed_on_a_strip_of_its_full_width(size, probe):
    assert probe_size(size, 16) == probe
    assert probe[0] * probe[1] <= PROBE_PIXELS * 1.1 or probe == tuple(-(-side // 16) * 16 for side in size)


def test_the_time_of_a_strip_is_scaled_to_the_frame_and_shared_by_the_frames_a_window_adds():
    restorer = _Timed()
    found = estimate(restorer, (1080, 1920), window=10, overlap=2, frames=1000, clock=restorer.clock)
    assert restorer.calls == [(10, 3, 144, 1920)] * 2  # one call paying the first call's costs, one timed
    assert found.window == 10 and found.new_frames == 8
    # the timed call: 10 frames of 144x1920 ticks, scaled to 1088x1920 (padded), over the 8 frames it adds
    assert found.seconds_per_frame == pytest.approx(10 * 1088 * 1920 / 8)
    # 100 frames: 11 windows of 10 frames from frames 0, 8, ... 80, then the 12 frames left split in two windows
    # sharing 2, of 7 frames each: 124 frames restored, at the timed window's time a frame
    assert found.seconds(100) == pytest.approx(124 * 1088 * 1920)
    # --last-window shift: the last two full windows, 88-98 and 90-100
    assert found.seconds(100, "shift") == pytest.approx(130 * 1088 * 1920)
    assert found.seconds(10) == pytest.approx(10 * 1088 * 1920)
    assert found.seconds(5) == pytest.approx(5 * 1088 * 1920)  # one window, shorter than the one timed


def test_the_time_is_scaled_by_the_work_of_a_real_call_over_the_timed_ones():
    restorer = _Timed()
    once = estimate(restorer, (48, 64), window=4, overlap=0, clock=restorer.clock)
    restorer = _Timed()
    found = estimate(restorer, (48, 64), window=4, overlap=0, scale=7.5, clock=restorer.clock)
    assert found.scale == 7.5 and found.seconds_per_frame == pytest.approx(7.5 * once.seconds_per_frame)


def test_a_strip_is_said_and_a_large_frame_is_timed_on_one(tmp_path):
    clip = make_video(tmp_path / "wide.mp4", frames=2, size=(1024, 512))
    result = runner.invoke(app, ["info", str(clip), "--estimate", "-m", "dstnet-s", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["estimate"]["timed"] == "1024x256 strip"


def test_a_video_shorter_than_a_window_is_one_window_of_all_its_frames():
    restorer = _Timed()
    found = estimate(restorer, (48, 64), window=10, overlap=2, frames=3, clock=restorer.clock)
    assert restorer.calls[-1] == (3, 3, 48, 64) and found.new_frames == 3
    assert found.seconds_per_frame == pytest.approx(48 * 64)


def test_a_model_of_shorter_windows_is_timed_on_its_longest():
    restorer = _Timed()
    restorer.max_frames = 4
    found = estimate(restorer, (48, 64), window=10, overlap=2, clock=restorer.clock)
    assert restorer.calls[-1][0] == 4 and found.new_frames == 2


def test_info_estimate_times_the_model_on_each_input(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48))
    result = runner.invoke(app, ["info", str(clip), "--estimate", "-m", "dstnet-s", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["estimate"]
    assert found["model"] == "dstnet-s" and found["device"] == "cpu" and found["timed"] == "64x48"  # whole frames
    assert found["window"] == 10 and found["new_frames"] == 8 and found["seconds_per_frame"] > 0
    assert found["seconds"] == pytest.approx(12 * found["seconds_per_frame"], rel=0.01)
    table = runner.invoke(app, ["info", str(clip), "--estimate", "-m", "dstnet-s", "--device", "cpu"])
    assert table.exit_code == 0, table.output
    text = re.sub(r"[│\s]+", " ", table.output)  # a table's cell wraps at the terminal's width
    # 12 tiny frames take under a second on an idle machine; under load (a shared CI runner) seconds
    assert re.search(r"(under a second|about \d+ (s|min)) \(", text) and " fps) for the model: dstnet-s on cpu" in text
    assert re.search(r"\(([\d.]+) s a frame, ([\d.]+) fps\)", text)  # as the run's summary gives its speed
    assert "timed on 10 frames" in text and "strip" not in text  # whole frames
    assert "note: timing dstnet-s on 64x48 frames, a window of 10 (twice)" in text


def test_info_estimate_says_what_deblur_run_says_of_the_model_in_its_order(tmp_path):
    """Found in review (structure54 F10): info --estimate never said that a weights file holds another model than
    the one named, and said the sampling note before the weights were known to load."""
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), tmp_path / "mine.safetensors")
    clip = make_video(tmp_path / "clip.mp4", frames=2, size=(32, 32))
    command = ["info", str(clip), "--estimate", "-m", "dstnet-s", "--weights", str(tmp_path / "mine.safetensors")]
    result = runner.invoke(app, [*command, "--device", "cpu", "--steps", "5", "--json"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())  # a line wraps at the terminal's width
    held = "warning: mine.safetensors holds DSTNet(feat=8, blocks=1), not dstnet-s: the file's model runs"
    ignored = "warning: --steps 5 applies to the diffusion models (wtsa, wtsa-s); dstnet-s restores in one"
    assert held in said and ignored in said and said.index(held) < said.index(ignored), said


def test_a_diffusion_model_is_timed_at_two_steps_of_its_samples_and_scaled_to_the_steps_asked(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=2, size=(32, 32))
    command = ["info", str(clip), "--estimate", "-m", "wtsa-s", "--device", "cpu", "--steps", "10", "--samples", "3"]
    result = runner.invoke(app, [*command, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["estimate"]
    assert (found["steps"], found["samples"], found["timed_steps"], found["scale"]) == (10, 3, 2, 5.0)
    assert found["window"] == 2 and found["new_frames"] == 2  # the whole clip is one window
    text = re.sub(r"[│\s]+", " ", runner.invoke(app, command).output)
    assert "timed on 2 frames at 2 DDIM steps, 3 samples, scaled to 10 steps" in text


def test_inputs_of_one_size_share_a_timing_only_where_they_share_its_window(tmp_path):
    """Found in review: a 40-frame clip was given the figure of a 2-frame clip of its size, timed on its 2 frames."""
    short = make_video(tmp_path / "short.mp4", frames=2)
    long = make_video(tmp_path / "long.mp4", frames=12)
    again = make_video(tmp_path / "again.mp4", frames=20)
    result = runner.invoke(app, ["info", str(short), str(long), str(again), "--estimate", "-m", "dstnet-s", "--json"])
    assert result.exit_code == 0, result.output
    found = [report["estimate"] for report in json.loads(result.stdout)]
    assert [(each["window"], each["new_frames"]) for each in found] == [(2, 2), (10, 8), (10, 8)]
    # 12 frames: windows 0-7 and 5-12 (14 frames restored); 20 frames: 0-10, 8-15 and 13-20 (24)
    assert found[1]["seconds"] / 14 == pytest.approx(found[2]["seconds"] / 24, rel=0.02)
    assert [line for line in result.stderr.splitlines() if line.startswith("note: timing")] == [
        "note: timing dstnet-s on 64x48 frames, a window of 2 (twice)",
        "note: timing dstnet-s on 64x48 frames, a window of 10 (twice)",
    ]


def test_info_refuses_model_options_without_estimate(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=2)
    result = runner.invoke(app, ["info", str(clip), "--steps", "50"])
    assert result.exit_code == 2
    assert "error: --steps is for --estimate" in result.output and "add --estimate" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "seconds, said",
    [(0.183, "0.18 s a frame, 5.46 fps"), (2.99, "3.0 s a frame, 0.33 fps"), (75.0, "75 s a frame, 0.013 fps"),
     (250.0, "250 s a frame, 0.004 fps"), (3600.0, "1 h 00 min a frame, 0.00028 fps")],
)  # fmt: skip
def test_an_estimates_time_a_frame_keeps_its_figures_from_fast_to_slow(seconds, said):
    """Found in review: a diffusion model at minutes a frame said "0.00 fps", and 75 s a frame "1 min a frame"."""
    from deblur_cli.cli.info import _estimate_text

    found = {"seconds_per_frame": seconds, "seconds": None, "model": "m", "device": "cpu", "precision": None,
             "window": 10, "timed": "64x48", "timed_steps": None}  # fmt: skip
    assert _estimate_text(found).startswith(said + " for the model")


def test_an_estimate_of_a_part_counts_its_frames(tmp_path):
    """Found in review: the time of a preview (run --start 1:30 --duration 5) could not be asked, only the whole
    video's. With --start, --end or --duration, --estimate counts the frames of that part, as run reads them."""
    clip = make_video(tmp_path / "clip.mp4", frames=40, size=(64, 48), fps=25)
    command = ["info", str(clip), "--estimate", "-m", "dstnet-s", "--device", "cpu", "--json"]
    whole = json.loads(runner.invoke(app, command).stdout)["estimate"]
    part = runner.invoke(app, [*command, "--start", "0.4", "--duration", "0.6"])
    assert part.exit_code == 0, part.output
    found = json.loads(part.stdout)["estimate"]
    assert (found["frames"], found["span"], whole["frames"], whole["span"]) == (15, "0.4 s to 1 s", 40, None)
    table = runner.invoke(app, command[:-1] + ["--start", "0.4", "--end", "1"])
    assert "for its 15 frames from 0.4 s to 1 s, for the model: dstnet-s" in re.sub(r"[│\s]+", " ", table.output)
    refused = runner.invoke(app, ["info", str(clip), "--start", "0.4"])
    assert refused.exit_code == 2 and "error: --start is for --estimate" in refused.stderr
