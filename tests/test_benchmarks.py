"""The benchmark scripts' own arithmetic, and that they run (tiny sizes: speed is not tested here)."""

import collections
import contextlib
import io
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deblur_cli import cpu_share

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from profiling import count_flops, count_operators, device_seconds  # noqa: E402


def test_flops_of_a_convolution_and_of_attention_by_hand():
    def conv(device):
        F.conv2d(torch.empty(1, 3, 10, 12, device=device), torch.empty(8, 3, 3, 3, device=device), padding=1)

    assert count_flops(conv) == 2 * (8 * 10 * 12) * (3 * 3 * 3)

    def attention(device):  # the fused kernels are not counted; the math path's two products are
        q = torch.empty(2, 4, 20, 16, device=device)
        F.scaled_dot_product_attention(q, q, q, attn_mask=torch.empty(1, 4, 20, 20, device=device))

    assert count_flops(attention) == 2 * (2 * 4) * (2 * 20 * 20 * 16)


def test_count_operators_counts_what_computes_and_not_views():
    conv = torch.nn.Conv2d(3, 4, 3).to("meta")
    x = torch.empty(1, 3, 8, 8, device="meta")
    # conv2d dispatches one operator (convolution), relu_ one; the view and the transpose none
    assert count_operators(lambda: conv(x).relu_().view(4, 36).t()) == 2


def _bench(script, *args):
    """What `python benchmarks/<script> <args>` prints, run as __main__ in this process: a process of its own
    spent seconds importing torch (and torch._dynamo for the FLOP counter) each time, most of these tests'
    time. A non-zero exit fails the test, as a failed process did. Whether other programs keep the cores busy
    (the library's warning of spinning threads) is the machine's, not the script's: said to be none. The scripts
    seed torch and add to sys.path, which later tests of this process must not inherit."""
    out = io.StringIO()
    argv = mock.patch.object(sys, "argv", [str(BENCHMARKS / script), *args])
    path = mock.patch.object(sys, "path", list(sys.path))
    quiet = mock.patch.object(cpu_share, "others_busy", lambda since, now: None)
    with argv, path, quiet, torch.random.fork_rng(), contextlib.redirect_stdout(out):
        try:
            runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
        except SystemExit as stop:
            assert stop.code in (None, 0), f"{script} exited with {stop.code!r}:\n{out.getvalue()}"
    return out.getvalue()


def test_benchmark_scripts_run_and_report_achieved_throughput():
    out = _bench("bench_dstnet.py", "--variant", "dstnet-s", "--size", "64x48", "--frames", "2", "--repeat", "1", "--profile")
    assert "TFLOP/s achieved" in out and "aten::" in out, out  # the profile's operator table
    out = _bench("bench_dstnet.py", "--variant", "dstnet-s", "--size", "64x48", "--frames", "2", "--batch", "3", "--no-check")
    assert "3 window(s) per call" in out and "fps" in out, out
    out = _bench("bench_stream.py", "--variant", "dstnet-s", "--size", "64x48", "--frames", "12", "--window", "5",
                 "--overlap", "1", "--batch", "1", "2", "--dtype", "float32", "--profile")
    assert "batch 1:" in out and "batch 2:" in out and "fps" in out, out
    # the profiled stream: 12 frames in windows of 5 overlapping by 1 are 3 windows, each a model call and a
    # scene-cut test; every frame is tested for colour once
    assert "profiled 12 frames, 1 window(s) per call: wall " in out, out
    assert "host in model calls (queuing the model's work): " in out and " over 3 calls (" in out, out
    assert "host in grey-frame tests: " in out and " over 12 calls (" in out, out
    assert "aten::" in out, out  # the operator table
    out = _bench("bench_stream.py", "--variant", "dstnet-s", "--size", "64x48", "--frames", "6", "--window", "5",
                 "--overlap", "1", "--batch", "1", "--dtype", "float32", "--source", "host-uint8")
    assert "frames host-uint8" in out and "batch 1:" in out, out
    out = _bench("bench_wtsa.py", "--variant", "wtsa-s", "--height", "48", "--width", "64", "--frames", "2", "--steps", "1")
    assert "TFLOP/s achieved" in out, out


def test_device_seconds_counts_overlapping_kernels_once():
    cuda, cpu = torch.autograd.DeviceType.CUDA, torch.autograd.DeviceType.CPU

    def event(start, end, device_type=cuda, name="kernel", **more):
        return SimpleNamespace(
            time_range=SimpleNamespace(start=start, end=end), device_type=device_type, name=name, **more
        )

    # kernels at 0-10, 5-12 (overlapping), 20-30, 22-25 (inside) us; a CPU op spanning it all is not the GPU's,
    # nor are a record_function's ranges on the GPU's timeline (first kernel to last, the gap included)
    events = [event(20, 30), event(0, 10), event(0, 100, cpu), event(5, 12), event(22, 25)]
    events += [event(0, 30, name="part", is_user_annotation=True), event(0, 30, name="old torch's part")]
    assert device_seconds(SimpleNamespace(events=lambda: events), labels=["old torch's part"]) == pytest.approx(22e-6)
    assert device_seconds(SimpleNamespace(events=lambda: [event(0, 100, cpu)])) == 0


def test_host_reads_lists_the_restore_paths_reads_by_line():
    def counts(*options: str) -> dict[tuple[str, str], int]:  # (call, file) -> count
        out = _bench("host_reads.py", "--frames", "12", "--window", "5", "--overlap", "1", *options)
        found: collections.Counter = collections.Counter()
        for line in out.splitlines()[1:]:
            count, name, where = line.split()
            found[name, where.split(":")[0]] += int(count)
        return found

    with_cuts = counts()  # windows 0-5, 4-8 and 7-12
    assert with_cuts["equal", "stream.py"] == 12 + 11, with_cuts  # is_grey once per frame, is_held from the second
    assert with_cuts["cpu", "scene_cuts.py"] == 3, with_cuts  # the scene-cut thumbnails: once per window
    without = counts("--no-scene-cuts")
    assert without["equal", "stream.py"] == 23 and not any(where == "scene_cuts.py" for _, where in without), without


def test_the_decode_benchmark_times_image_threads_and_videos(tmp_path):
    from tests import media

    media.make_images(tmp_path / "seq", count=4)
    out = _bench("bench_decode.py", str(tmp_path / "seq"), "--workers", "1", "3", "--repeat", "1")
    assert "64x48, 4 frames" in out and "1 thread(s):" in out and "3 thread(s):" in out, out
    out = _bench("bench_decode.py", str(media.make_video(tmp_path / "v.mkv", frames=3)), "--repeat", "1")
    assert "3 frames" in out and "video:" in out and "frames/s" in out, out


def test_the_colour_benchmark_measures_reader_writer_siting_and_speed():
    out = _bench("bench_colour.py", "--size", "64x48", "--check-size", "32x16", "--repeat", "1")
    for line in ("yuv420p10le  bt2020nc  full", "rgb16 -> yuv420p10le", "FFmpeg accurate (sited)", "read  p010le"):
        assert line in out, out
    nv12 = [line.split()[3:6] for line in out.splitlines() if line.startswith("  nv12 ")]  # mean R, G, B
    assert len(nv12) == 6 and all(abs(float(mean)) < 0.05 for means in nv12 for mean in means), out


def test_the_gpu_sessions_stream_benchmark_runs_without_pyav():
    # The lent GPU machine has no PyAV: bench_stream.py must not import the codecs.
    script = (
        "import sys, runpy; sys.modules['av'] = None\n"  # import av now raises ImportError
        f"sys.argv = [{str(BENCHMARKS / 'bench_stream.py')!r}, '--variant', 'dstnet-s', '--size', '32x32',"
        " '--frames', '3', '--window', '3', '--overlap', '1', '--batch', '1']\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0 and "batch 1:" in run.stdout, run.stderr


def test_the_scene_cut_benchmark_measures_shots_and_joins(tmp_path):
    from tests import media

    for name, seed in (("a", 0), ("b", 1)):
        (tmp_path / name).mkdir()
        media.make_edited(tmp_path / name / "blurred.mkv", [(seed, 4)])
        media.make_edited(tmp_path / name / "sharp.mkv", [(seed, 4)])  # stands in for the sharp frames
    clips = [str(tmp_path / "a"), str(tmp_path / "b")]
    out = _bench("bench_scene_cuts.py", "stats", "--clips", *clips, "--procedural", "2")
    assert "a: 4 frames" in out and "procedural 1: 8 frames" in out and "cuts at []" in out, out
    assert "joined clips: 12 of 12 joins found as cuts" in out, out
    out = _bench("bench_scene_cuts.py", "quality", "--clips", *clips, "--side", "2")
    assert "a | b: input" in out and "split at the cut" in out, out


def test_the_scene_cut_benchmark_judges_synthetic_footage_window_by_window():
    out = _bench("bench_scene_cuts.py", "footage", "--only", "cut_at_8", "flash_at_9")
    # a cut on the first frame two windows share, and a flash: both told right
    assert "ok  cut_at_8             true [8] found [8]" in out and "ok  flash_at_9" in out, out
    assert out.endswith("true cuts found 1, missed 0, false positives 0\n"), out


def test_the_scene_cut_benchmark_times_the_thumbnails_and_the_measures_per_window(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (9, 36, 64, 3), dtype=np.uint8)
    (tmp_path / "videos" / "noise").mkdir(parents=True)
    np.save(tmp_path / "videos" / "noise" / "frames.npy", frames)
    out = _bench("bench_scene_cuts.py", "cost", "--sources", str(tmp_path), "--window", "4", "--size", "128x72")
    assert "noise 0-4: thumbnails " in out and "noise 4-8: thumbnails " in out and "noise 8-" not in out, out
    assert "2 windows of 4 frames at 128x72, one thread" in out and "ms per new frame" in out, out


def test_the_run_benchmark_times_whole_runs_of_a_generated_clip():
    out = _bench("bench_run.py", "--model", "dstnet-s", "--size", "64x48", "--frames", "8", "--device", "cpu",
                 "--precision", "fp32", "--variants", "default", "pageable")  # fmt: skip
    assert out.startswith("dstnet-s (random weights), 64x48, 8 frames of H.264"), out
    assert "\ndefault: 8 frames, " in out and "\npageable: 8 frames, " in out and "torch.float32" in out, out


def test_the_estimate_benchmark_sets_info_estimates_figure_against_the_restore_path():
    sizes = "64x48,48x32"
    out = _bench("bench_estimate.py", "--model", "dstnet-s", "--sizes", sizes, "--frames", "12", "--device", "cpu")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["64x48"], ["48x32"])]
    assert [row[0] for row in rows] == ["64x48", "48x32"]
    assert all(float(row[1]) > 0 and float(row[2]) > 0 and float(row[3]) > 0 for row in rows)


def test_the_startup_benchmark_times_a_whole_run_and_the_weights_loading():
    out = _bench("bench_startup.py", "--models", "dstnet-s", "--repeat", "1")
    assert out.startswith("dstnet-s: deblur run of one 64x48 frame ") and "loading the weights" in out, out


def test_the_startup_benchmark_times_the_command_line_where_no_model_runs():
    out = _bench("bench_startup.py", "--models", "--commands", "--repeat", "1")
    lines = [line.split(":")[0] for line in out.splitlines()]
    assert lines == ["deblur --version", "deblur --help", "deblur run --help", "deblur info one.mp4",
                     "deblur run missing.mp4 -o out.mp4", "deblur models"], out  # fmt: skip


def test_the_still_benchmark_sorts_steps_by_where_windows_meet_and_measures_a_still_clip():
    from bench_still import flicker, step_kinds

    # 20 frames in windows of 8 sharing 2 (frames 0-7, 6-13, 12-19): frames 6, 7, 12 and 13 are blended.
    kinds = step_kinds(20, 8, 2)
    assert len(kinds) == 19 and kinds[0] == kinds[18] == "end"
    assert [t for t, k in enumerate(kinds) if k == "handover"] == [5, 6, 7, 11, 12, 13], kinds
    still = torch.full((4, 3, 8, 8), 0.5)
    assert flicker(still, ["end", "inside", "end"]) == {"inside": (0.0, 0.0), "end": (0.0, 0.0)}
    jump = still.clone()
    jump[2:] += 2 / 255
    assert flicker(jump, ["end", "handover", "end"])["handover"] == pytest.approx((2.0, 2.0))

    out = _bench("bench_still.py", "--clips", "1", "--frames", "5", "--size", "64x48")
    assert out.startswith("Deblurrer('dstnet-s'") and "5 frames 64x48" in out, out
    assert "sharp: PSNR out vs in" in out and "blurred: gain, alone" in out and "sharp: flicker end, p99.9" in out, out


def test_the_keyframe_benchmark_sizes_encodes_against_the_keyframe_interval():
    from keyframe_cost import encoded_size, panning_texture

    frames = panning_texture(24, size=(48, 64))
    assert frames.shape == (24, 48, 64, 3) and np.array_equal(frames[1][:, :-2], frames[0][:, 2:])  # it pans
    assert encoded_size(frames, 25.0, 2, 18) > encoded_size(frames, 25.0, 250, 18)  # keyframes cost bytes
    out = _bench("keyframe_cost.py", "--synthetic", "12", "--every", "4")
    assert out.startswith("panning texture: 12 frames 640x360, CRF 18: ") and "a keyframe every   4 frames: " in out


def test_the_aligned_benchmark_finds_shifts_and_puts_every_frame_back_where_it_was(tmp_path):
    import bench_aligned
    from tests import media

    scene = torch.rand(3, 80, 96, generator=torch.Generator().manual_seed(0))
    steps = [(0, 0), (3, -5), (-2, 4), (6, 1)]  # frame k is frame k-1 moved by steps[k] (rows, columns)
    moved = np.cumsum(np.array(steps), axis=0)
    frames = torch.stack([torch.roll(scene, (-int(dy), -int(dx)), (1, 2)) for dy, dx in moved])
    shifts = bench_aligned.shifts_onto_middle(frames)
    # rolling frame k by shifts[k] lands it on the middle frame (index 2)
    assert (shifts == moved - moved[2]).all(), shifts
    same = SimpleNamespace(restore=lambda canvas: canvas)  # a model that changes nothing: the frames come back
    assert torch.equal(bench_aligned.restore_aligned(same, frames, shifts), frames)

    for name in ("a", "b"):
        for kind in ("blurred", "sharp"):
            (tmp_path / name / kind).mkdir(parents=True)
            for k, frame in enumerate(frames[:, :, :48, :64]):
                media.write_image(tmp_path / name / kind / f"{k:03d}.png", (frame.permute(1, 2, 0) * 255).byte().numpy())
    out = _bench("bench_aligned.py", str(tmp_path))
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["sequence", "input", "as", "is"] and len(lines) == 3, out
    assert lines[1].split()[0] == "a" and lines[1].split()[1] == "inf", out  # sharp frames as input


def test_the_content_benchmark_scores_each_clip_and_the_blurred_ones_mean(tmp_path):
    from render_content import SCENES, WORDS, describe

    from tests import media

    assert describe("cups_pan08") == "cups, pan 8 px"
    assert describe("text_stab09") == "text, stabilised hand shake of about 9 px"
    assert describe("my_clip") == "my_clip" and describe("street") == "street"
    made = {m for _, motions in SCENES.values() for m in motions if not m.startswith("pan")}
    assert made == set(WORDS)  # every motion the renderer makes has its words
    sharp = torch.rand(3, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    soft = (sharp + sharp.roll(1, -1) + sharp.roll(-1, -1)) / 3
    for name, blurred in (("cups_pan08", soft), ("cups_sharp", sharp)):
        for kind, frames in (("blurred", blurred), ("sharp", sharp)):
            (tmp_path / name / kind).mkdir(parents=True)
            for k, frame in enumerate(frames):
                image = (frame.permute(1, 2, 0) * 255).round().byte().numpy()
                media.write_image(tmp_path / name / kind / f"{k:03d}.png", image)
    # strength 0 writes the input: its PSNR and detail are the input's, and the sharp clip comes back exact
    out = _bench("bench_content.py", str(tmp_path), "--strength", "0", "--precision", "fp32")
    lines = out.splitlines()
    assert lines[0].startswith("Deblurrer('dstnet-s'") and lines[0].endswith("strength 0"), out
    pan, still, mean = (line.split() for line in lines[2:])
    assert pan[0] == "cups_pan08" and pan[1] == pan[2] and pan[3] == "+0.00" and pan[4] == pan[6], out
    assert float(pan[4].rstrip("%")) < 60, out  # a 3-px box blur keeps under 60% of noise's Laplacian energy
    assert still == ["cups_sharp", "inf", "inf", "100%", "->", "100%"], out
    assert mean[:4] == ["mean", "of", "1", "blurred"] and mean[4:] == pan[1:], out
    out = _bench("bench_content.py", str(tmp_path), "--markdown", "--precision", "fp32")
    rows = out.splitlines()[1:]
    assert rows[:2] == ["| scene, blur | input | output | gain | detail, input -> output |", "|---|---|---|---|---|"]
    assert rows[2].startswith("| cups, pan 8 px | ") and rows[3].startswith("| cups, still and sharp |  | "), out
    cells = rows[2].split(" | ")
    gain = float(cells[2].removesuffix(" dB")) - float(cells[1].removesuffix(" dB"))
    assert cells[1] != cells[2] and float(cells[3]) == pytest.approx(gain, abs=0.011), out  # the model ran
    out = _bench("bench_content.py", str(tmp_path), "--keep-detail", "--precision", "fp32")
    assert out.splitlines()[0].endswith("strength 1, keep-detail"), out


def test_the_held_out_clip_benchmarks_score_their_variants_on_the_same_clips(tmp_path):
    """bench_kept_detail and bench_ensemble on `deblur train --evaluate`'s clips, at a test's size (procedural scenes,
    from an empty source cache): the plain restoration scores alike in both, and each variant otherwise."""

    def scores(out: str) -> dict[str, list[str]]:
        rows = [line.split(": ", 1) for line in out.splitlines()]
        return {name.strip(): figures.split()[:6] for name, figures in rows}

    args = ["--sources", str(tmp_path), "--size", "64x48"]
    kept = scores(_bench("bench_kept_detail.py", *args))
    views = scores(_bench("bench_ensemble.py", *args, "--views", "id,id+h"))
    assert list(kept) == ["as restored", "--keep-detail"] and list(views) == ["id", "id+h"]
    assert kept["as restored"] == views["id"]  # the same clips, the same model: the same figures
    psnr, given = kept["as restored"][1], kept["as restored"][4]  # PSNR 27.082 dB (input 26.447, +0.635)
    assert given == kept["--keep-detail"][4] == views["id+h"][4]
    assert float(psnr) != float(given.rstrip(","))  # the model ran
    assert views["id+h"] != views["id"] and kept["--keep-detail"] != kept["as restored"]


def test_the_content_renderer_writes_a_dataset_evaluate_reads_blurred_along_its_pans(tmp_path, capsys):
    import bench_aligned
    import render_content

    from deblur_cli.datasets import find_sequences
    from deblur_cli.evaluate import check_frame_names
    from deblur_cli.filters import luma

    photos = tmp_path / "sources" / "photos" / "plasma"  # a source cache of one photo, laid out as the fetched one
    photos.mkdir(parents=True)
    blocks = np.random.default_rng(0).integers(0, 256, size=(15, 20, 3), dtype=np.uint8)  # edges both ways
    np.save(photos / "ColorfulCups.npy", blocks.repeat(8, axis=0).repeat(8, axis=1))
    args = ["--sources", str(tmp_path / "sources"), "--size", "64x48", "--frames", "3"]
    args += ["--only", "cups_sharp", "*_level08"]  # two of the clips
    for out in ("a", "b"):
        assert render_content.main([str(tmp_path / out), *args]) == 0
    pairs = find_sequences(tmp_path / "a")
    assert [p.name for p in pairs] == ["cups_level08", "cups_sharp"]
    clips = {}
    for pair in pairs:
        check_frame_names(pair)  # the frames pair one for one, as `deblur evaluate` checks before scoring
        clips[pair.name] = bench_aligned.read_frames(pair.blurred), bench_aligned.read_frames(pair.sharp)
        assert clips[pair.name][0].shape == (3, 3, 48, 64)
    assert torch.equal(*clips["cups_sharp"])  # the sharp frames are the input

    def energy(frames, axis):  # of the luma's differences between neighbours along the axis (-1 across, -2 down)
        return luma(frames).diff(dim=axis).square().mean().item()

    blurred, sharp = clips["cups_level08"]
    assert not torch.equal(blurred, sharp)
    across, down = (energy(blurred, axis) / energy(sharp, axis) for axis in (-1, -2))
    assert across < 0.4 * down, (across, down)  # a level pan smears edges across the rows more than down them
    for first in sorted((tmp_path / "a").rglob("*.png")):  # the same seed renders the same bytes
        assert first.read_bytes() == (tmp_path / "b" / first.relative_to(tmp_path / "a")).read_bytes(), first

    # --crf: the blurred frames through H.264 and back, close to the rendered ones; the sharp ones as rendered
    assert render_content.main([str(tmp_path / "c"), *args, "--crf", "18"]) == 0
    for pair in find_sequences(tmp_path / "c"):
        blurred, sharp = bench_aligned.read_frames(pair.blurred), bench_aligned.read_frames(pair.sharp)
        assert torch.equal(sharp, clips[pair.name][1])
        difference = (blurred - clips[pair.name][0]).abs()
        assert 0 < difference.mean() < 0.08, (pair.name, difference.mean())  # 4:2:0 chroma on random colour blocks

    capsys.readouterr()
    assert render_content.main([str(tmp_path / "a"), *args]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'a'} is not empty: render into a new or empty folder\n"
