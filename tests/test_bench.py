"""The benchmark end to end on tiny clips, with stand-in restorers: rows, timing fields, JSON, PNG, CLI."""

from __future__ import annotations

import hashlib
import json
import math
import re

import av
import numpy as np
import pytest
import safetensors.torch
import torch
from typer.testing import CliRunner

import deblur_cli.restorers as restorers_module
from deblur_cli import __version__
from deblur_cli.bench import (
    BenchModel,
    BenchOptions,
    Clip,
    load_clip,
    restore_clip,
    run_bench,
    synthetic_clip,
)
from deblur_cli.cli.app import app, out
from deblur_cli.errors import InputError, UsageError, WeightsError
from deblur_cli.files import write_json
from deblur_cli.plot import HEIGHT, WIDTH, tick_labels, write_plot
from deblur_cli.span import Span
from tests.media import make_images, make_video, write_image
from deblur_cli.data.synth import synthesize_clip
from deblur_cli.stream import restore_stream
from deblur_cli.windows import WindowOptions
from tests.restorers import IdentityRestorer, MixingRestorer


class NoisyStandIn(IdentityRestorer):
    """A diffusion stand-in: its input plus seeded noise that shrinks with more steps and more samples,
    so its fidelity must rise along both sweeps."""

    def __init__(self, steps: int, samples: int):
        super().__init__()
        self.steps, self.samples = steps, samples

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        super().__call__(frames)
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn((self.samples, *frames.shape), generator=generator).mean(0)
        return (frames + noise * 0.2 / self.steps).clamp(0, 1)


def tiny_models(built: list | None = None) -> list[BenchModel]:
    def standin(steps: int, samples: int) -> NoisyStandIn:
        restorer = NoisyStandIn(steps, samples)
        if built is not None:
            built.append(restorer)
        return restorer

    return [
        BenchModel("identity", lambda steps, samples: IdentityRestorer(), diffusion=False),
        BenchModel("standin", standin, diffusion=True, window=2, overlap=1),
    ]


@pytest.fixture(scope="module")
def tiny_clip() -> Clip:
    return synthetic_clip(0, 3, (64, 48))


def test_bench_end_to_end_writes_json_and_a_png(tiny_clip, tmp_path):
    built: list[NoisyStandIn] = []
    calls = []
    options = BenchOptions(steps=(1, 4), samples=(1, 3), warmup=1, repeat=2)
    report = run_bench(tiny_clip, tiny_models(built), options, progress=lambda *a: calls.append(a))

    labels = [(r.model, r.steps, r.samples) for r in report.rows]
    assert labels == [
        ("input", None, None),
        ("identity", None, None),
        ("standin", 1, 1),
        ("standin", 1, 3),
        ("standin", 4, 1),
        ("standin", 4, 3),
    ]
    source, identity, *standin = report.rows
    assert source.sec_per_frame is None and source.psnr is not None and source.temporal is not None
    # the identity's output is the input, so its quality is the input's
    assert (identity.psnr, identity.ssim, identity.temporal) == (source.psnr, source.ssim, source.temporal)
    psnr = {(r.steps, r.samples): r.psnr for r in standin}
    assert psnr[(4, 1)] > psnr[(1, 1)] and psnr[(1, 3)] > psnr[(1, 1)] and psnr[(4, 3)] > psnr[(4, 1)]
    for row in report.rows[1:]:
        assert row.sec_per_frame > 0 and row.fps == pytest.approx(1 / row.sec_per_frame)
        assert row.peak_memory_mib is None or row.peak_memory_mib > 0
    # built once before any timing, unused with warm-up runs; then per row 1 warm-up + 2 timed runs, each
    # over windows of 2 frames with 1 shared: (0, 2) and (1, 3)
    assert built[0].calls == [] and all(r.calls == [(2, 3, 48, 64)] * 6 for r in built[1:])
    assert calls[-1] == (4 * 3 + 3, 4 * 3 + 3, "") and len(calls) == 5 * 3 + 1
    assert report.frames == 3 and (report.width, report.height) == (64, 48) and report.device == "cpu"
    assert any("NIQE left out" in note for note in report.notes) and all(r.niqe is None for r in report.rows)

    write_json(report, tmp_path / "bench.json")
    write_plot(report, tmp_path / "bench.png")
    data = json.loads((tmp_path / "bench.json").read_text())
    assert [row["model"] for row in data["rows"]] == [label[0] for label in labels]
    assert data["rows"][2]["psnr"] == pytest.approx(psnr[(1, 1)]) and data["frames"] == 3
    assert data["environment"]["torch"] == torch.__version__ and data["environment"]["numpy"] == np.__version__
    with av.open(str(tmp_path / "bench.png")) as container:
        image = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert image.shape == (HEIGHT, WIDTH, 3)
    blue = np.all(np.abs(image.astype(int) - (0, 114, 178)) < 8, axis=-1)  # the first series' colour
    assert blue.sum() > 100 and (image == 255).all(axis=-1).mean() > 0.5
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_the_report_says_how_its_figures_were_made(tiny_clip):
    """Each row names its restorer's identity (None for the input); the report deblur's version, the
    warm-up and timed runs, and what the caller says of the clip and the restorers."""

    class Named(IdentityRestorer):
        identity = {"model": "named", "dtype": "torch.float32"}

    models = [BenchModel("named", lambda steps, samples: Named(), diffusion=False)]
    report = run_bench(tiny_clip, models, BenchOptions(warmup=0, repeat=1), about={"seed": 3})
    assert [row.restorer for row in report.rows] == [None, Named.identity]
    assert report.settings == {"deblur": __version__, "warmup": 0, "repeat": 1, "seed": 3}


def test_every_model_is_built_before_any_timing(tiny_clip):
    """A builder's refusal (a weights file that does not fit) comes before the first timed row."""
    timed = []

    def refuses(steps, samples):
        raise WeightsError("w.safetensors does not fit")

    first = BenchModel("first", lambda steps, samples: IdentityRestorer(), diffusion=False)
    later = BenchModel("later", refuses, diffusion=False)
    with pytest.raises(WeightsError):
        run_bench(tiny_clip, [first, later], BenchOptions(warmup=0, repeat=1), progress=lambda *a: timed.append(a))
    assert all("start-up" in label for _, _, label in timed)  # no timed run began


def test_at_no_warm_up_each_model_first_makes_one_untimed_pass_over_a_window(tiny_clip):
    """The one-time start-up cost of a network's first call falls outside the timed rows: at --warmup 0
    each model restores the clip's first window once, at the fewest steps and samples, before its rows."""
    built: list[NoisyStandIn] = []
    calls = []
    options = BenchOptions(steps=(4, 1), samples=(2, 1), warmup=0, repeat=1)
    run_bench(tiny_clip, tiny_models(built)[1:], options, progress=lambda *a: calls.append(a))
    primer, *rows = built
    assert (primer.steps, primer.samples) == (1, 1) and primer.calls == [(2, 3, 48, 64)]  # one window of 2
    assert len(rows) == 4 and all(r.calls == [(2, 3, 48, 64)] * 2 for r in rows)  # the timed runs alone
    assert calls[0] == (0, 5, "standin start-up") and calls[-1] == (5, 5, "")


def test_the_report_names_models_below_the_built_in_clip_and_only_there(tiny_clip):
    """One procedural scene is a poor ground for "worse than the input": run_bench says so in the report (F12)."""
    options = BenchOptions(steps=(1,), warmup=0, repeat=1)
    below = [note for note in run_bench(tiny_clip, tiny_models(), options).notes if "scored below the input" in note]
    assert len(below) == 1 and below[0].startswith("standin scored below the input on the built-in clip")
    own = Clip(tiny_clip.blurred, tiny_clip.reference, tiny_clip.fps, "mine.mp4")
    assert not any("scored below" in note for note in run_bench(own, tiny_models(), options).notes)


def test_restore_clip_windows_and_pads_like_a_run():
    clip = torch.rand(5, 3, 30, 40, generator=torch.Generator().manual_seed(0))
    restorer = IdentityRestorer()
    restored = restore_clip(restorer, clip, window=3, overlap=1)
    assert torch.allclose(restored, clip, atol=1e-6)
    assert restorer.calls == [(3, 3, 32, 48)] * 2  # windows (0, 3) and (2, 5), padded to multiples of 16


def test_restore_clip_restores_each_scene_apart_as_a_run_does():
    """bench's figures are those of `deblur run`'s frames: a window across a scene cut is restored scene by
    scene. It restored across the cut (its own copy of the run's path), up to 13 of 255 levels off there."""
    first, second = synthesize_clip(0, frames=5, size=(96, 64))[0], synthesize_clip(1, frames=7, size=(96, 64))[0]
    clip = torch.cat([first, second])
    restored = restore_clip(MixingRestorer(), clip, window=8, overlap=2)
    run = restore_stream(iter(clip), MixingRestorer(), WindowOptions(window=8, overlap=2, tile=None), (64, 96))
    torch.testing.assert_close(restored, torch.stack(list(run)), rtol=0, atol=0)
    alone = restore_clip(MixingRestorer(), first, window=8, overlap=2)  # the first scene as if the clip ended there
    torch.testing.assert_close(restored[:5], alone, rtol=0, atol=1e-6)


def test_an_exact_frame_gives_an_infinite_psnr_written_as_infinity_with_a_note(tmp_path):
    """The mean of per-frame PSNR is infinite when one frame is exact: JSON says "Infinity" (null would
    read as "not measured"), and a note says how many frames are exact."""
    frames = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    reference = frames.clone()
    reference[1:] = 1 - reference[1:]
    report = run_bench(Clip(frames, reference, 25.0, "test"), [], BenchOptions())
    assert math.isinf(report.rows[0].psnr) and report.rows[0].temporal > 0
    assert "input: PSNR is infinite: 1 of 4 frames equals its reference" in report.notes
    write_json(report, tmp_path / "r.json")
    row = json.loads((tmp_path / "r.json").read_text())["rows"][0]
    assert row["psnr"] == "Infinity" and float(row["psnr"]) == math.inf and row["sec_per_frame"] is None


def test_notes_say_why_ssim_and_niqe_are_missing():
    """SSIM needs 11 pixels a side; NIQE is undefined on flat frames: notes say so, not just an en dash."""
    small = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    report = run_bench(Clip(small, small.flip(0), 25.0, "t"), [])
    assert report.rows[0].ssim is None
    assert "SSIM left out: its 11x11 window needs frames of 11 pixels a side or more" in report.notes
    textured = torch.rand(2, 3, 96, 192, generator=torch.Generator().manual_seed(5))
    one_flat = textured.clone()
    one_flat[1] = 0.5
    report = run_bench(Clip(one_flat, None, 25.0, "t"), [])
    assert report.rows[0].niqe is not None and "input: NIQE over 1 of 2 frames: the others are too flat for it" in report.notes[-1]
    report = run_bench(Clip(torch.full_like(textured, 0.5), None, 25.0, "t"), [])
    assert report.rows[0].niqe is None and "input: NIQE left out: every frame is too flat for it" in report.notes[-1]


def test_extra_metrics_and_no_reference_clips():
    frames = torch.rand(2, 3, 96, 192, generator=torch.Generator().manual_seed(2))
    mae = {"mae": lambda output, reference: float((output - reference).abs().mean())}
    with_reference = run_bench(Clip(frames, frames * 0.5, 25.0, "t"), tiny_models()[:1], extra_metrics=mae)
    assert with_reference.rows[1].extra["mae"] == pytest.approx(float((frames - frames * 0.5).abs().mean()), abs=3e-3)
    assert with_reference.rows[1].niqe is not None and with_reference.rows[1].niqe == with_reference.rows[0].niqe

    without = run_bench(Clip(frames, None, 25.0, "t"), tiny_models()[:1], extra_metrics=mae, notes=["mine"])
    assert all(r.psnr is None and r.ssim is None and r.temporal is None and r.extra == {} for r in without.rows)
    assert without.rows[0].niqe is not None
    assert without.notes[0] == "mine" and any("no reference clip" in note for note in without.notes)


def test_bad_options_are_refused(tiny_clip):
    with pytest.raises(ValueError, match="repeat"):
        run_bench(tiny_clip, [], BenchOptions(repeat=0))
    with pytest.raises(ValueError, match="positive"):
        run_bench(tiny_clip, [], BenchOptions(steps=(0,)))


def test_load_clip_reads_and_crops_pairs(tmp_path):
    make_images(tmp_path / "blurred", count=4, size=(64, 48))
    make_images(tmp_path / "sharp", count=4, size=(64, 48))
    make_images(tmp_path / "small", count=4, size=(32, 32))
    clip = load_clip(tmp_path / "blurred", tmp_path / "sharp", frames=3, size=(32, 16))
    assert clip.blurred.shape == (3, 3, 16, 32) and clip.reference.shape == (3, 3, 16, 32) and clip.fps == 25.0
    assert torch.equal(clip.blurred, clip.reference)  # make_images wrote the same pattern in both
    with pytest.raises(InputError, match="fewer than"):
        load_clip(tmp_path / "blurred", None, frames=5)
    with pytest.raises(InputError, match="has frames of 32x32"):
        load_clip(tmp_path / "blurred", tmp_path / "small", frames=2)
    with pytest.raises(UsageError, match="larger than the frames"):
        load_clip(tmp_path / "blurred", None, frames=2, size=(65, 48))


def test_a_clip_cut_short_is_named_with_a_hint_bench_can_follow(tmp_path):
    """Found in review: the hint named run's --end, which bench has not."""
    from tests.media import truncate

    cut = truncate(make_video(tmp_path / "whole.mkv", frames=30), 0.5)
    with pytest.raises(InputError, match="ends early") as info:
        load_clip(cut, None, frames=30)
    good = int(info.value.hint.rpartition("--frames ")[2])
    assert info.value.hint == f"re-copy the file, or bench the frames before the damage: --frames {good}"
    assert load_clip(cut, None, frames=good).blurred.shape[0] == good  # as the hint says


def test_load_clip_starts_where_told(tmp_path):
    make_images(tmp_path / "long", count=30, size=(32, 32))
    whole = load_clip(tmp_path / "long", None, frames=30)
    later = load_clip(tmp_path / "long", tmp_path / "long", frames=3, span=Span(1.0))
    assert torch.equal(later.blurred, whole.blurred[25:28]) and torch.equal(later.reference, whole.blurred[25:28])
    with pytest.raises(InputError, match="has 5 frames from 1 s, fewer than --frames \\(6\\)"):
        load_clip(tmp_path / "long", None, frames=6, span=Span(1.0))


def test_start_is_a_frame_of_the_input_and_the_reference_is_read_from_the_same_frame(tmp_path):
    """A 30 fps video against PNG frames (taken as 25 fps): --start 0.2 is frame 6 of both, not 6 and 5."""
    video = make_video(tmp_path / "blurred.mkv", frames=12, fps=30, size=(32, 32))
    make_images(tmp_path / "sharp", count=9, size=(32, 32))
    every_input, every_reference = (load_clip(path, None, frames=8).blurred for path in (video, tmp_path / "sharp"))
    later = load_clip(video, tmp_path / "sharp", frames=2, span=Span(0.2))
    assert torch.equal(later.blurred, every_input[6:8]) and torch.equal(later.reference, every_reference[6:8])
    with pytest.raises(InputError, match="sharp has 1 frame from 0.25 s"):
        load_clip(video, tmp_path / "sharp", frames=2, span=Span(0.25))  # frame 8: the reference's last


@pytest.fixture
def stand_in_models(monkeypatch):
    """`deblur bench` with the named models replaced by stand-ins: no weights needed."""

    def build(name, *, options, **kwargs):
        return IdentityRestorer() if name == "dstnet-s" else NoisyStandIn(options.steps, options.samples)

    monkeypatch.setattr(restorers_module, "build_restorer", build)


def test_a_missing_weights_file_stops_bench_before_any_model_runs(monkeypatch, tmp_path):
    built = []
    monkeypatch.setattr(restorers_module, "build_restorer", lambda name, **k: built.append(name) or IdentityRestorer())
    args = ["bench", "-m", "dstnet-s,wtsa-s", "--size", "32x32", "--frames", "2"]
    args += ["--weights", "wtsa-s=nosuch.safetensors"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and built == []
    assert "error: --weights nosuch.safetensors: no such file, and no weights of that name" in result.stderr


def test_cli_prints_a_table_and_writes_json_and_plot(stand_in_models, tmp_path):
    args = ["bench", "-m", "dstnet-s,wtsa-s", "--steps", "1,2", "--size", "64x48", "--frames", "3"]  # as -m a -m b
    args += ["--warmup", "0", "--repeat", "1", "--json", str(tmp_path / "b.json"), "--plot", str(tmp_path / "b.png")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wtsa-s" in result.stdout and "dstnet-s" in result.stdout and "PSNR" in result.stdout
    assert "LPIPS left out" in result.stderr
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    expected = [("input", None), ("dstnet-s", None), ("wtsa-s", 1), ("wtsa-s", 2)]
    assert [(r["model"], r["steps"]) for r in rows] == expected
    assert (tmp_path / "b.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_stopped_sweep_shows_and_writes_the_rows_it_measured(monkeypatch, tmp_path):
    """Found in review (research52 F10): Ctrl-C during a long sweep printed only 'interrupted' and wrote no JSON,
    losing the rows already measured."""

    class Stopped(NoisyStandIn):
        def __call__(self, frames):
            if self.steps == 2:
                raise KeyboardInterrupt
            return super().__call__(frames)

    def build(name, *, options, **kwargs):
        return IdentityRestorer() if name == "dstnet-s" else Stopped(options.steps, options.samples)

    monkeypatch.setattr(restorers_module, "build_restorer", build)
    args = ["bench", "-m", "dstnet-s,wtsa-s", "--steps", "1,2", "--size", "64x48", "--frames", "3"]
    args += ["--warmup", "1", "--repeat", "1", "--json", str(tmp_path / "b.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    assert "dstnet-s" in result.stdout and "wtsa-s" in result.stdout  # the table of the rows measured
    assert "stopped during wtsa-s steps=2 samples=1: 2 of 3 rows were measured" in result.stderr
    assert result.stderr.rstrip().endswith("interrupted")
    written = json.loads((tmp_path / "b.json").read_text())
    assert written["complete"] is False
    assert [(r["model"], r["steps"]) for r in written["rows"]] == [("input", None), ("dstnet-s", None), ("wtsa-s", 1)]


def test_cli_json_names_the_settings_and_a_row_with_weights_of_ones_own(tmp_path):
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    torch.manual_seed(0)
    mine = tmp_path / "mine.safetensors"
    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), mine)
    args = ["bench", "-m", "dstnet-s", "--weights", f"dstnet-s={mine}", "--size", "64x48", "--frames", "2"]
    args += ["--device", "cpu", "--precision", "fp32", "--seed", "5", "--json", str(tmp_path / "b.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["settings"] == {
        "deblur": __version__, "warmup": 0, "repeat": 1, "seed": 5, "precision": "fp32", "compile": False,
        "reference": None, "start": None,
    }
    row = report["rows"][1]
    assert row["model"] == "dstnet-s (mine.safetensors)" and row["model"] in result.stdout
    assert row["restorer"]["weights_sha256"] == hashlib.sha256(mine.read_bytes()).hexdigest()
    assert row["restorer"]["dtype"] == "torch.float32" and report["rows"][0]["restorer"] is None


def test_cli_warns_of_weights_of_another_size_than_the_model_named(stand_in_models, tmp_path):
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNET_VARIANTS, DSTNet, DSTNetConfig

    small = tmp_path / "small.safetensors"
    save_dstnet(DSTNet(DSTNET_VARIANTS["dstnet-s"]), small)
    args = ["bench", "--size", "64x48", "--frames", "2", "-q"]
    result = CliRunner().invoke(app, [*args, "-m", "dstnet", "--weights", f"dstnet={small}"])
    assert result.exit_code == 0, result.output
    said = "warning: small.safetensors holds a dstnet-s model, not dstnet: its scores are labelled dstnet"
    said += " (small.safetensors)"
    assert said + " but measure the file's model" in result.stderr.replace("\n", " ")
    result = CliRunner().invoke(app, [*args, "-m", "dstnet-s", "--weights", f"dstnet-s={small}"])
    assert result.exit_code == 0 and "warning" not in result.stderr
    plain = tmp_path / "plain.safetensors"  # no metadata: its size is read from its tensors, as loading does
    safetensors.torch.save_file(DSTNet(DSTNET_VARIANTS["dstnet-s"]).state_dict(), plain)
    result = CliRunner().invoke(app, [*args, "-m", "dstnet-s", "--weights", f"dstnet-s={plain}"])
    assert result.exit_code == 0 and "warning" not in result.stderr, result.stderr
    official = tmp_path / "GOPRO.pth"  # the official layout, no metadata: the full size
    torch.save({"params": DSTNet(DSTNET_VARIANTS["dstnet"]).state_dict()}, official)
    result = CliRunner().invoke(app, [*args, "-m", "dstnet-s", "--weights", f"dstnet-s={official}"])
    said = "warning: GOPRO.pth holds a dstnet model, not dstnet-s: its scores are labelled dstnet-s (GOPRO.pth)"
    assert said in result.stderr
    own = tmp_path / "own.safetensors"  # a size of one's own
    save_dstnet(DSTNet(DSTNetConfig(feat=16, blocks=3)), own)
    result = CliRunner().invoke(app, [*args, "-m", "dstnet-s", "--weights", f"dstnet-s={own}"])
    assert "warning: own.safetensors holds DSTNet(feat=16, blocks=3), not dstnet-s: its scores" in result.stderr


def test_registry_weights_of_another_size_are_named():
    """Found in review: `-m dstnet --weights dstnet-s` ran the small model as dstnet without a word."""
    from deblur_cli.held_weights import held_elsewhere

    assert held_elsewhere("dstnet", "dstnet-s") == "dstnet-s holds a dstnet-s model, not dstnet"
    assert held_elsewhere("dstnet-s", "dstnet-gopro") == "dstnet-gopro holds a dstnet model, not dstnet-s"
    assert held_elsewhere("dstnet", "dstnet-gopro") is None and held_elsewhere("dstnet-s", "dstnet-s") is None
    # a WTSA entry states no config: its file's metadata says, where the file is here (found in review: it
    # ran the bundled wtsa-s as wtsa without a word)
    assert held_elsewhere("wtsa", "wtsa-s") == "wtsa-s holds a wtsa-s model, not wtsa"
    assert held_elsewhere("wtsa-s", "wtsa-s") is None and held_elsewhere("wtsa-s", "wtsa") is None  # no file yet
    assert held_elsewhere("dstnet", "no-such-entry") is None  # resolving it says what is wrong


def test_an_entry_not_downloaded_is_refused_offline_before_any_model_runs_and_without_a_warning(tmp_path):
    """Found in review: bench warned that dstnet-gopro's row "measures the file's model", then stopped at its build:
    the entry was not downloaded, and --offline fetches nothing."""
    args = ["bench", "-m", "dstnet-s", "--weights", "dstnet-s=dstnet-gopro", "--offline", "--cache-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--size", "64x48", "--frames", "2", "-q"])
    assert result.exit_code == 1 and "warning" not in result.stderr, result.stderr
    assert "weights 'dstnet-gopro' for model dstnet-s are not downloaded (offline)" in result.stderr


def test_wtsa_weights_of_another_size_are_named(tmp_path):
    from deblur_cli.held_weights import held_elsewhere
    from deblur_cli.models.wtsa_unet import WTSA_VARIANTS, WTSAConfig, WTSAUNet
    from deblur_cli.diffusion.schedule import DiffusionConfig
    from deblur_cli.wtsa_weights import save_wtsa

    own = WTSAConfig(channels=(16, 32), heads=(1, 1), windows=(2,))
    for config, held in ((WTSA_VARIANTS["wtsa-s"], None), (WTSA_VARIANTS["wtsa"], "a wtsa model"),
                         (own, "WTSA(channels=[16, 32], windows=[2], heads=[1, 1])")):  # fmt: skip
        path = tmp_path / "w.safetensors"
        save_wtsa(WTSAUNet(config), path, diffusion=DiffusionConfig())
        said = held and f"w.safetensors holds {held}, not wtsa-s"
        assert held_elsewhere("wtsa-s", path) == said
    # a file loading refuses is not said to hold a model (found in review: its NaN was refused after the warning)
    model = WTSAUNet(own)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    save_wtsa(model, tmp_path / "nan.safetensors", diffusion=DiffusionConfig())
    assert held_elsewhere("wtsa-s", tmp_path / "nan.safetensors") is None


def test_cli_reads_lpips_weights_even_without_a_reference_and_says_lpips_needs_one(stand_in_models, tmp_path):
    from tests.test_metrics import random_lpips_state

    make_images(tmp_path / "blurred", count=2, size=(32, 32))
    args = ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "blurred"), "--frames", "2", "-q"]
    missing = CliRunner().invoke(app, [*args, "--lpips-weights", str(tmp_path / "nope.pth")])
    assert missing.exit_code == 1 and "LPIPS weights not found" in missing.stderr
    torch.save(random_lpips_state(), tmp_path / "lpips.pth")
    result = CliRunner().invoke(app, [*args, "--lpips-weights", str(tmp_path / "lpips.pth")])
    assert result.exit_code == 0 and "LPIPS left out: it compares with the sharp clip, which --reference gives" in result.stderr


def test_cli_json_names_the_reference_and_the_start(stand_in_models, tmp_path):
    make_images(tmp_path / "blurred", count=30, size=(32, 32))
    make_images(tmp_path / "sharp", count=30, size=(32, 32))
    args = ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "blurred"), "--reference", str(tmp_path / "sharp")]
    args += ["--start", "1", "--frames", "2", "--json", str(tmp_path / "b.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "b.json").read_text())["settings"]
    assert settings["reference"] == str(tmp_path / "sharp") and settings["start"] == 1.0


def test_cli_start_takes_a_timecode_of_the_input(stand_in_models, tmp_path):
    """An image sequence is labelled from 00:00:00:00 at its first frame: 00:00:01:05 is frame 30 at 25 fps."""
    make_images(tmp_path / "blurred", count=40, size=(32, 32))
    args = ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "blurred"), "--start", "00:00:01:05"]
    result = CliRunner().invoke(app, [*args, "--frames", "2", "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "b.json").read_text())["settings"]["start"] == 1.2


def test_an_input_shorter_than_the_default_frames_is_benched_whole(stand_in_models, tmp_path):
    """Found by review (research52 F8): a 5-frame --input was refused for the default --frames 8, which the user
    had not asked for; --frames given is still held to."""
    make_images(tmp_path / "blurred", count=5, size=(32, 32))
    make_images(tmp_path / "sharp", count=5, size=(32, 32))
    args = ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "blurred"), "--reference", str(tmp_path / "sharp")]
    result = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    said = f"note: {tmp_path / 'blurred'} has 5 frames, fewer than the default --frames 8: all 5 frames benched"
    assert said in " ".join(result.stderr.split())
    assert json.loads((tmp_path / "b.json").read_text())["frames"] == 5
    refused = CliRunner().invoke(app, [*args, "--frames", "8"])
    assert refused.exit_code == 1 and "has 5 frames, fewer than --frames (8)" in refused.stderr
    assert "hint: --frames 5 or fewer\n" in refused.stderr
    make_images(tmp_path / "short", count=3, size=(32, 32))  # the reference must hold the frames taken
    result = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "short")])
    assert result.exit_code == 1 and "short has 3 frames, fewer than the 5 of the input" in result.stderr  # review52
    assert "hint: --frames 3 or fewer" in result.stderr
    make_images(tmp_path / "one", count=1, size=(32, 32))  # not "all 1 frame"
    result = CliRunner().invoke(app, ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "one")])
    assert result.exit_code == 0, result.output
    assert "has 1 frame, fewer than the default --frames 8: that frame benched" in " ".join(result.stderr.split())


def test_json_rows_name_the_temporal_error_flicker_too(stand_in_models, tmp_path):
    """Found by review (research52 F7): bench's rows said "temporal" where evaluate's JSON says "flicker"."""
    make_images(tmp_path / "blurred", count=3, size=(32, 32))
    make_images(tmp_path / "sharp", count=3, size=(32, 32))
    args = ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "blurred"), "--reference", str(tmp_path / "sharp")]
    result = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "b.json"), "-q"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert all(row["flicker"] == row["temporal"] is not None for row in rows)
    assert list(rows[0])[list(rows[0]).index("temporal") + 1] == "flicker"


def test_a_model_below_the_built_in_clip_gets_a_note_that_one_scene_swings(stand_in_models, tmp_path):
    args = ["bench", "-m", "dstnet-s,wtsa-s", "--steps", "1,2", "--size", "64x48", "--frames", "3", "--repeat", "1"]
    result = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    note = "wtsa-s scored below the input on the built-in clip, which is one procedural scene"  # once for 2 rows
    assert note in " ".join(result.stderr.split()) and "dstnet-s scored" not in result.stderr  # the identity equals it
    assert any(note in line for line in json.loads((tmp_path / "b.json").read_text())["notes"])
    make_images(tmp_path / "blurred", count=3, size=(32, 32))  # one's own footage: the figure is the finding
    args = ["bench", "-m", "wtsa-s", "--steps", "1", "--input", str(tmp_path / "blurred"), "--frames", "3"]
    result = CliRunner().invoke(app, [*args, "--reference", str(tmp_path / "blurred")])
    assert result.exit_code == 0, result.output
    assert "scored below" not in result.stderr


FORMATS = {"peak_memory_mib": "{:.0f}", "psnr": "{:.2f}", "ssim": "{:.4f}", "temporal": "{:.3f}"}


@pytest.mark.parametrize("columns", [45, 60, 80])
def test_the_table_cuts_no_figure_on_a_narrow_terminal(stand_in_models, tmp_path, monkeypatch, columns):
    """The label column folds (a long weights file name too); every figure of the JSON is in the table whole,
    and every table keeps the model column (at 45 columns the quality table lost it: rows without labels)."""
    monkeypatch.setattr(out, "width", columns)
    monkeypatch.chdir(tmp_path)
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNET_VARIANTS, DSTNet

    save_dstnet(DSTNet(DSTNET_VARIANTS["dstnet-s"]), tmp_path / "dstnet-s-finetuned-gopro-epoch300.safetensors")
    args = ["bench", "-m", "dstnet-s", "-m", "wtsa-s", "--steps", "1,2", "--size", "64x48", "--frames", "2", "-q"]
    args += ["--weights", "dstnet-s=dstnet-s-finetuned-gopro-epoch300.safetensors", "--json", str(tmp_path / "b.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    shown = result.stdout.split()
    assert "…" not in result.stdout and max(len(line) for line in result.stdout.splitlines()) <= columns
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    for row in rows:
        for key, fmt in FORMATS.items():
            if row[key] is not None:
                assert fmt.format(row[key]) in shown, (columns, key, row)
        if row["fps"] is not None:  # trailing zeros kept ("50.0" beside "29.4"), whole from 100 on
            assert ("{:.0f}" if row["fps"] >= 99.95 else "{:#.3g}").format(row["fps"]) in shown
        if row["sec_per_frame"] is not None:  # the same, four digits, whole from 1000 on
            assert ("{:.0f}" if row["sec_per_frame"] >= 999.95 else "{:#.4g}").format(row["sec_per_frame"]) in shown
    assert "dstnet-s-finetuned-gopro-epoch300.safetensors" in "".join(shown)  # folded, not cut
    assert "table needs" not in result.stderr
    headers = [line.split() for line in result.stdout.splitlines() if "steps" in line.split()]
    assert len(headers) == result.stdout.count("input") >= 1 and all(h[0] == "model" for h in headers)


def test_the_table_names_units_repeats_and_precision(tmp_path):
    from deblur_cli.bench import BenchReport, BenchRow
    from deblur_cli.cli.bench import _print_table

    rows = [
        BenchRow("input", psnr=25.0),
        BenchRow("dstnet-s", sec_per_frame=0.02, fps=50.0, psnr=26.0),
        BenchRow("wtsa-s", sec_per_frame=3.930284, fps=0.2544, psnr=26.5),  # review: printed 3.93 under 3.097
    ]
    rows[1].restorer = {"dtype": "torch.float32"}
    report = BenchReport("clip", 2, 64, 48, "cpu", "rss", rows, [], {"repeat": 3})
    with out.capture() as captured:
        _print_table(report)
    shown = captured.get()
    assert "PSNR" in shown and "dB ↑" in shown and " 50.0 " in shown
    assert " 0.02000 " in shown and " 3.930 " in shown and " 0.254 " in shown  # trailing zeros kept
    assert "s/frame: the median of 3 timed runs, in float32; memory: rss" in " ".join(shown.split())


def test_a_terminal_too_narrow_for_the_table_is_named_with_a_hint(stand_in_models, monkeypatch):
    monkeypatch.setattr(out, "width", 30)  # too narrow for the labels and a single figure
    result = CliRunner().invoke(app, ["bench", "-m", "dstnet-s", "--size", "64x48", "--frames", "2", "-q"])
    assert result.exit_code == 0, result.output
    # how many columns depends on the figures, the times among them (digits more on a loaded machine)
    assert re.search(r"the table needs 3\d columns and the terminal has 30", result.stderr), result.stderr
    assert "--json" in result.stderr


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["-m", "nope"], 2, "unknown model"),
        (["--reference", "x.mp4"], 2, "--reference needs --input"),
        (["--start", "1"], 2, "--start needs --input"),
        (["--steps", "1,a"], 2, "comma-separated"),
        (["--steps", ""], 2, "--steps takes comma-separated whole numbers like 1,5,10, got ''"),
        (["--samples", ""], 2, "--samples takes comma-separated whole numbers like 1,5,10, got ''"),
        (["--samples", "0"], 2, "at least 1"),
        (["-m", "wtsa-s", "--steps", "1,5000"], 2, "--steps values must be at most 1000, got '1,5000'"),
        (["-m", "wtsa-s", "--samples", "1,100000"], 2, "--samples values must be at most 64, got '1,100000'"),
        (["--plot", "plot.jpg"], 2, "--plot writes a PNG image; plot.jpg does not end in .png"),
        (["--json", ""], 2, "error: --json is empty\nhint: name a file, or leave --json out"),
        (["--plot", ""], 2, "error: --plot is empty\nhint: name a file, or leave --plot out"),
        (["--weights", "wtsa=w.safetensors"], 2, "not benchmarked\nhint: add --model wtsa"),
        (["--weights", "dsntet-s=w.safetensors"], 2, "not a model\nhint: did you mean 'dstnet-s'? models: dstnet, "),
        (["-m", "auto,wtsa-s", "--weights", "auto=w.safetensors"], 2, "--weights takes a model's name, not auto (-m auto is"),
        (["-m", "dstnet-s", "--weights", "auto=w.safetensors"], 2, "hint: e.g. --weights dstnet-s=w.safetensors"),
        (["-m", "dstnet-s", "--weights", "dstnet-s=a.pth", "--weights", "dstnet-s=b.pth"], 2, "names dstnet-s twice"),
    ],
)
def test_cli_refuses_bad_options(stand_in_models, args, code, message):
    result = CliRunner().invoke(app, ["bench", *args])
    assert result.exit_code == code and message in result.stderr


def test_a_weights_file_alone_is_benched_as_the_model_it_holds(tmp_path):
    """Found in review: `deblur bench --weights FILE`, the next command after training, was refused (MODEL=FILE),
    where run and evaluate take the file alone."""
    from deblur_cli.weights import resolve_weights

    mine = tmp_path / "mine.safetensors"
    mine.write_bytes(resolve_weights("dstnet-s").path.read_bytes())
    args = ["bench", "--weights", str(mine), "--size", "32x32", "--frames", "2", "--json", str(tmp_path / "b.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert [row["model"] for row in rows] == ["input", "dstnet-s (mine.safetensors)"]  # it alone, without -m
    both = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "c.json"), "-m", "dstnet-s,wtsa-s", "--steps", "1"])
    assert both.exit_code == 0, both.output
    labels = [row["model"] for row in json.loads((tmp_path / "c.json").read_text())["rows"]]
    assert labels[1] == "dstnet-s (mine.safetensors)" and labels[2] == "wtsa-s"
    # found in review: with one -m, the file went to its own model and was "not benchmarked"; run takes it for -m
    one = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "d.json"), "-m", "dstnet"])
    assert one.exit_code == 0 and "holds a dstnet-s model, not dstnet" in " ".join(one.stderr.split()), one.output
    # and a folder named with "=" (a sweep's lr=1e-4) is a path, not MODEL=FILE
    (tmp_path / "lr=1e-4").mkdir()
    swept = mine.rename(tmp_path / "lr=1e-4" / "mine.safetensors")
    result = CliRunner().invoke(app, ["bench", "--weights", str(swept), *args[3:-1], str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output


def test_a_weights_hint_gives_benchs_form_of_the_option():
    """The shared hints say `--weights FILE`, which bench refuses (it takes MODEL=FILE): a second round trip."""
    result = CliRunner().invoke(app, ["bench", "-m", "wtsa", "--size", "64x48", "--frames", "2", "--device", "cpu"])
    assert result.exit_code == 1 and "hint: pass weights of your own with --weights wtsa=FILE" in result.stderr


def test_cli_refuses_an_output_that_names_an_input_or_the_other_output(stand_in_models, tmp_path):
    """--json or --plot naming the input, the reference, a weights file or the other output is refused
    before any work; the file is left as it was."""
    video = make_video(tmp_path / "victim.mkv", frames=3, size=(32, 32))
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"weights")
    sharp = make_images(tmp_path / "sharp", count=1, size=(32, 32))[0]
    before = video.read_bytes(), sharp.read_bytes()
    clip = ["--input", str(video), "--frames", "2", "-m", "dstnet-s"]
    cases = [
        ([*clip, "--json", str(video)], f"--json {video} is also --input"),
        ([*clip, "--reference", str(sharp), "--plot", str(sharp)], f"--plot {sharp} is also --reference"),
        ([*clip, "--weights", f"dstnet-s={weights}", "--json", str(weights)], f"--json {weights} is also --weights dstnet-s"),
        ([*clip, "--json", str(tmp_path / "same.png"), "--plot", str(tmp_path / "same.png")], "is also --json"),
        # each LPIPS file, not only the last one given
        ([*clip, "--lpips-weights", str(weights), "--lpips-weights", str(video), "--json", str(weights)],
         f"--json {weights} is also --lpips-weights {weights}"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, ["bench", *args])
        assert result.exit_code == 2 and message in result.stderr and "hint: give" in result.stderr, result.output
    assert (video.read_bytes(), sharp.read_bytes()) == before and weights.read_bytes() == b"weights"
    assert not (tmp_path / "same.png").exists()


def test_cli_refuses_an_output_that_is_or_would_be_a_frame_of_an_input_folder(stand_in_models, tmp_path):
    """A frame folder is read frame by frame: --json or --plot naming one of its frames, a link to one, or
    a new image in it would change the data set; each is refused before any work."""
    blurred = make_images(tmp_path / "blurred", count=3, size=(32, 32))
    sharp = make_images(tmp_path / "sharp", count=3, size=(32, 32))
    (tmp_path / "link.png").hardlink_to(sharp[1])
    before = [p.read_bytes() for p in blurred + sharp]
    clip = ["--input", str(tmp_path / "blurred"), "--reference", str(tmp_path / "sharp"), "--frames", "2", "-m", "dstnet-s"]
    cases = [
        ["--plot", str(blurred[2])],
        ["--json", str(sharp[0])],
        ["--plot", str(tmp_path / "link.png"), "--force"],
        ["--plot", str(tmp_path / "blurred" / "9999.png")],
        ["--input", str(tmp_path / "blurred" / "*.png"), "--json", str(blurred[0])],
        ["--input", str(tmp_path / "blurred" / "*.png"), "--json", str(tmp_path / "blurred" / "9999.png")],  # new
        ["--input", str(tmp_path / "b*" / "*.png"), "--plot", str(tmp_path / "blurred" / "9999.png")],
    ]
    for args in cases:
        result = CliRunner().invoke(app, ["bench", *clip, *args])
        assert result.exit_code == 2 and "a frame of --" in result.stderr and "hint: give" in result.stderr, result.output
    assert [p.read_bytes() for p in blurred + sharp] == before
    assert not (tmp_path / "blurred" / "9999.png").exists()
    elsewhere = ["--input", str(tmp_path / "blurred" / "*.png"), "--frames", "2", "-m", "dstnet-s", "-q"]
    result = CliRunner().invoke(app, ["bench", *elsewhere, "--plot", str(tmp_path / "sharp" / "9999.png")])
    assert result.exit_code == 0, result.output  # an image the pattern does not name
    result = CliRunner().invoke(app, ["bench", *elsewhere, "--plot", str(tmp_path / "blurred" / ".plot.png")])
    assert result.exit_code == 0, result.output  # nor a hidden one, which * does not match in glob


def test_cli_replaces_an_existing_json_or_plot_only_with_force(stand_in_models, tmp_path):
    keep = tmp_path / "keep.png"
    keep.write_bytes(b"mine")
    args = ["bench", "-m", "dstnet-s", "--size", "32x32", "--frames", "2", "-q", "--plot", str(keep)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and f"error: --plot {keep} exists" in result.stderr
    assert "hint: pass --force to replace it" in result.stderr and keep.read_bytes() == b"mine"
    result = CliRunner().invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert keep.read_bytes().startswith(b"\x89PNG")


def test_cli_sweeps_less_on_a_cpu_unless_told(stand_in_models, tmp_path):
    """On a CPU the defaults are --steps 5,20 --warmup 0 --repeat 1, said in a note; given values win."""
    base = ["bench", "-m", "wtsa-s", "--size", "64x48", "--frames", "2", "--device", "cpu"]
    result = CliRunner().invoke(app, [*base, "--json", str(tmp_path / "a.json")])
    assert result.exit_code == 0, result.output
    assert "on a CPU, bench defaults to --steps 5,20 --warmup 0 --repeat 1 (on a GPU: --steps 1,5,10,20,50 --warmup 1 --repeat 2)" in result.stderr
    report = json.loads((tmp_path / "a.json").read_text())
    assert [r["steps"] for r in report["rows"] if r["model"] == "wtsa-s"] == [5, 20]
    result = CliRunner().invoke(app, [*base, "--steps", "3", "--warmup", "1", "--repeat", "1", "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0 and "defaults to" not in result.stderr
    assert [r["steps"] for r in json.loads((tmp_path / "b.json").read_text())["rows"] if r["model"] == "wtsa-s"] == [3]


def test_cli_names_only_the_cpu_defaults_it_used_and_sweep_options_no_model_uses(stand_in_models):
    """Without a diffusion model --steps and --samples do nothing: a warning says so, as `deblur run`'s
    does; the CPU note names only the defaults taken, each with its option."""
    base = ["bench", "-m", "dstnet-s", "--size", "64x48", "--frames", "2", "--device", "cpu", "-q"]
    result = CliRunner().invoke(app, [*base, "--steps", "3", "--samples", "2", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    assert "warning: --steps and --samples apply to the diffusion models (wtsa, wtsa-s); dstnet-s restores" in result.stderr
    assert "note: on a CPU, bench defaults to --warmup 0 (on a GPU: --warmup 1)" in result.stderr
    result = CliRunner().invoke(app, [*base, "--warmup", "0", "--repeat", "1"])
    assert "warning" not in result.stderr and "defaults to" not in result.stderr
    result = CliRunner().invoke(app, [*base[:1], "-m", "wtsa-s", *base[3:], "--steps", "1"])
    assert "warning" not in result.stderr and "defaults to --warmup 0 --repeat 1 (on a GPU: --warmup 1 --repeat 2)" in result.stderr


def test_cli_compile_warms_up_on_a_cpu_too(stand_in_models, tmp_path, monkeypatch):
    """--warmup 0 would leave the compiling in the timed runs where torch compiles each restorer afresh
    (torch 2.3): with --compile the default is --warmup 1 on a CPU as well, and a given 0 is warned of."""
    from deblur_cli.models import compiling

    monkeypatch.setattr(compiling, "BACKEND", "eager")
    base = ["bench", "-m", "dstnet-s", "--size", "64x48", "--frames", "2", "--device", "cpu", "--compile"]
    result = CliRunner().invoke(app, [*base, "--json", str(tmp_path / "a.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "a.json").read_text())["settings"]["warmup"] == 1
    assert "--warmup 0" not in result.stderr and "defaults to --repeat 1 (on a GPU: --repeat 2)" in result.stderr
    result = CliRunner().invoke(app, [*base, "--warmup", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert "warning: --compile with --warmup 0: the timed runs may include compiling" in result.stderr


def test_the_plot_draws_what_is_finite_and_leaves_out_the_rest(tmp_path):
    import math

    from deblur_cli.bench import BenchReport, BenchRow
    from deblur_cli.plot import write_plot

    rows = [
        BenchRow("input", psnr=math.inf, niqe=math.nan),  # an exact input, a flat one
        BenchRow("dstnet-s", sec_per_frame=0.5, fps=2.0, psnr=30.0, niqe=math.nan),
        BenchRow("wtsa-s", steps=5, samples=1, sec_per_frame=2.0, fps=0.5, psnr=math.inf, niqe=4.0),
    ]
    write_plot(BenchReport("clip", 2, 64, 48, "cpu", "rss", rows, []), tmp_path / "p.png")  # was OverflowError
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_the_plot_keeps_long_labels_whole_and_point_labels_inside_their_panels_and_apart(monkeypatch):
    """Legend entries too long for one line go on further lines, each series named; a point's label stays
    inside its panel and clear of the labels of other series at the same speed."""
    import deblur_cli.plot as plot
    from deblur_cli.bench import BenchReport, BenchRow

    texts, panels = [], []

    class Recording(plot._Canvas):
        def text(self, x, y, text, colour, anchor="left"):
            texts.append((x, y, text, colour, anchor))
            super().text(x, y, text, colour, anchor)

        def rect_outline(self, x0, y0, x1, y1, colour):
            panels.append((x0, y0, x1, y1))
            super().rect_outline(x0, y0, x1, y1, colour)

    monkeypatch.setattr(plot, "_Canvas", Recording)
    dstnet = "dstnet-s (dstnet-s-finetuned-gopro-epoch300.safetensors)"
    wtsa = "wtsa-s (wtsa-s-finetuned-on-gopro-long-run-v2.safetensors)"
    rows = [BenchRow("input", psnr=30.0, niqe=5.0), BenchRow(dstnet, sec_per_frame=2.0, psnr=31.0, niqe=4.0)]
    rows += [  # two series at the same speeds, their points almost on top of each other
        BenchRow(wtsa, steps=s, samples=n, sec_per_frame=0.05 * s, psnr=30.5 + 0.01 * n, niqe=4.5)
        for s in (1, 2)
        for n in (1, 2)
    ]
    plot.render(BenchReport("clip", 2, 64, 48, "cpu", "rss", rows, []))

    legend = " ".join(text for _, y, text, colour, _ in texts if colour == plot._BLACK and y < panels[0][1] - 30)
    for label in (dstnet, f"{wtsa}, 1 sample (points: steps)", f"{wtsa}, 2 samples (points: steps)"):
        assert label in legend
    advance = 12  # output pixels a character
    assert all(x + len(text) * advance <= WIDTH for x, _, text, _, anchor in texts if anchor == "left")
    tags = [(x, y, text) for x, y, text, colour, _ in texts if colour in plot._PALETTE]
    assert sorted(text for _, _, text in tags) == ["1", "1", "1", "1", "2", "2", "2", "2", "dstnet-s", "dstnet-s"]
    boxes = [(x, y, x + len(text) * advance, y + 18) for x, y, text in tags]
    for left, top, right, bottom in boxes:
        assert any(a <= left and right <= c and b <= top and bottom <= d for a, b, c, d in panels)
    assert not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3] for i, a in enumerate(boxes) for b in boxes[:i])


def test_bench_seed_is_range_checked(stand_in_models):
    for seed in ("-1", str(2**64)):
        result = CliRunner().invoke(app, ["bench", "--seed", seed])
        assert result.exit_code == 2 and "--seed" in result.output and "Traceback" not in result.output
    # the largest seed torch's generators take, as `deblur run` takes (bench stopped at 2**63 - 1)
    largest = CliRunner().invoke(app, ["bench", "-m", "dstnet-s", "--size", "64x48", "--frames", "2", "-q",
                                       "--seed", str(2**64 - 1)])  # fmt: skip
    assert largest.exit_code == 0 and f"seed {2**64 - 1}" in largest.stdout, largest.output


@pytest.mark.parametrize("crop", ["1x1", "5x3", "15x16", "16x15"])
def test_cli_refuses_frames_smaller_than_the_models_multiple(stand_in_models, tmp_path, crop):
    """A crop of --input below 16x16, the multiple the models pad to, would measure mostly padding (and
    PSNR and flicker of a pixel or two): refused as the built-in clip's size is, naming the minimum."""
    make_images(tmp_path / "blurred", count=2, size=(32, 32))
    clip = ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "blurred"), "--frames", "2", "-q"]
    for args in ([*clip, "--size", crop], ["bench", "-m", "dstnet-s", "--frames", "2", "-q", "--size", crop]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and f"--size must be at least 16x16, got '{crop}'" in result.stderr, args
        assert "Traceback" not in result.output
    assert CliRunner().invoke(app, [*clip, "--size", "16x16"]).exit_code == 0


def test_cli_refuses_an_input_whose_frames_are_smaller_than_the_models_multiple(stand_in_models, tmp_path):
    make_images(tmp_path / "tiny", count=2, size=(12, 20))
    result = CliRunner().invoke(app, ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "tiny"), "--frames", "2"])
    assert result.exit_code == 1 and f"{tmp_path / 'tiny'} has frames of 12x20; bench needs 16x16 or more" in result.stderr
    assert "Traceback" not in result.output


def test_the_legend_names_the_blurry_input_only_where_its_line_is_drawn(monkeypatch):
    import deblur_cli.plot as plot
    from deblur_cli.bench import BenchReport, BenchRow

    texts = []

    class Recording(plot._Canvas):
        def text(self, x, y, text, colour, anchor="left"):
            texts.append(text)
            super().text(x, y, text, colour, anchor)

    monkeypatch.setattr(plot, "_Canvas", Recording)
    model = BenchRow("dstnet-s", sec_per_frame=0.5, fps=2.0, psnr=70.0, niqe=4.0)
    for psnr, niqe, drawn in ((math.inf, math.nan, False), (None, None, False), (30.0, None, True), (None, 5.0, True)):
        texts.clear()
        plot.render(BenchReport("clip", 2, 192, 96, "cpu", "rss", [BenchRow("input", psnr=psnr, niqe=niqe), model], []))
        assert ("blurry input (no speed)" in texts) == drawn, (psnr, niqe)
        assert ("input" in texts) == drawn  # the line's own label


def test_cli_says_when_the_plot_has_nothing_to_draw(stand_in_models, tmp_path, monkeypatch):
    """No reference (no PSNR) and frames too small for NIQE: the plot's panels are empty, and a note says so."""
    make_images(tmp_path / "blurred", count=2, size=(64, 48))
    (tmp_path / "sharp").mkdir()
    for i in range(2):  # black: not the blurred frames, so that PSNR is finite
        write_image(tmp_path / "sharp" / f"{i}.png", np.zeros((48, 64, 3), np.uint8))
    args = ["bench", "-m", "dstnet-s", "--input", str(tmp_path / "blurred"), "--frames", "2", "-q"]
    monkeypatch.chdir(tmp_path)  # the note names the plot as given: a long path folds the line (tests53 F1)
    result = CliRunner().invoke(app, [*args, "--plot", "empty.png"])
    assert result.exit_code == 0, result.output
    assert "note: --plot empty.png shows no figure: no finite PSNR or NIQE to draw" in result.stderr
    assert (tmp_path / "empty.png").read_bytes().startswith(b"\x89PNG")  # written all the same, as asked
    result = CliRunner().invoke(app, [*args, "--reference", str(tmp_path / "sharp"), "--plot", str(tmp_path / "psnr.png")])
    assert result.exit_code == 0 and "shows no figure" not in result.stderr


def test_the_niqe_note_says_what_makes_a_frame_too_flat():
    """A frame with one 96x96 block of detail and one of a single luma level has no NIQE, though it is not
    flat (a restored black frame with a faint smudge, PSNR 75 dB): the note says what NIQE lacked."""
    frames = torch.zeros(2, 3, 96, 192)
    frames[:, :, :, :96] = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(6))
    report = run_bench(Clip(frames, None, 25.0, "t"), [])
    assert report.rows[0].niqe is None
    assert "every frame is flat" not in " ".join(report.notes)
    assert (
        "input: NIQE left out: every frame is too flat for it (fewer than 2 of its 96x96 blocks have detail; "
        "a block of one 8-bit luma level has none)" in report.notes
    )


def test_the_table_title_counts_one_frame_in_the_singular():
    from typer.testing import CliRunner

    from deblur_cli.cli import app

    shown = CliRunner().invoke(app, ["bench", "--frames", "1", "--size", "64x48", "-m", "dstnet-s"])
    assert shown.exit_code == 0, shown.output
    assert "seed 0: 1 frame 64x48 on" in shown.stdout, shown.stdout  # it said "1 frames"


def test_tick_labels_tell_each_tick_apart_and_say_its_value():
    from deblur_cli.plot import _linear_ticks

    _, _, ticks = _linear_ticks(20.68, 20.92)  # a step sweep whose PSNR spans a quarter of a dB
    labels = tick_labels(ticks)
    assert labels[:3] == ["20.65", "20.70", "20.75"] and len(set(labels)) == len(labels), labels
    assert [float(text) for text in labels] == pytest.approx(ticks, abs=1e-9)
    assert tick_labels(_linear_ticks(3.0, 7.0)[2]) == ["2", "3", "4", "5", "6", "7", "8"]
    assert tick_labels([-0.0, 0.5, 1.0]) == ["0.0", "0.5", "1.0"]
    assert tick_labels([1000.0, 1500.0, 2000.0]) == ["1000", "1500", "2000"]


def test_the_built_in_clip_is_blurred_whatever_its_seed_and_size():
    # training's almost still camera paths (a quarter of draws) gave clips with next to no blur: seed 0 at
    # 160x96 was 53 dB from its sharp frames, so every model seemed to lose quality on it
    from deblur_cli.bench import synthetic_clip
    from deblur_cli.metrics import psnr

    for seed, size in [(0, (160, 96)), (0, (256, 160)), (0, (320, 192)), (1, (160, 96)), (2, (160, 96))]:
        clip = synthetic_clip(seed, 8, size)
        assert float(psnr(clip.blurred, clip.reference).mean()) < 35, (seed, size)


def test_eta_is_the_samplers_for_every_diffusion_row(tmp_path):
    """Found in review: bench had no --eta, so deterministic and ancestral sampling could not be compared."""
    args = ["bench", "--size", "32x32", "--frames", "2", "--steps", "1", "--json"]
    result = CliRunner().invoke(app, [*args, tmp_path / "r.json", "-m", "wtsa-s", "--eta", "0.5"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert [row["restorer"]["eta"] for row in rows if row.get("restorer")] == [0.5]
    assert "DDIM eta 0.5" in " ".join(result.stdout.split())  # the table's caption says so too
    result = CliRunner().invoke(app, [*args, tmp_path / "d.json", "-m", "dstnet-s", "--eta", "0.5"])
    assert "--steps and --eta apply to the diffusion models" in " ".join(result.stderr.split()), result.output


def test_a_log_gets_no_empty_line_for_the_bar(tmp_path):
    """A bench run whose stderr is a log (not a terminal) got an empty line where the bar was."""
    result = CliRunner().invoke(app, ["bench", "-m", "dstnet-s", "--size", "32x32", "--frames", "2"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("note: "), result.stderr[:80]


def test_cli_takes_an_output_that_an_input_file_named_like_a_glob_would_match(stand_in_models, tmp_path):
    """Found in review: an image named with a glob's characters (shot[1].png) is that file, not a pattern, as
    `deblur run` reads it; --plot shot1.png, which the name would match as a pattern, was refused as one of its
    frames."""
    shot = write_image(tmp_path / "shot[1].png", np.full((32, 32, 3), 128, np.uint8))
    plot = tmp_path / "shot1.png"
    args = ["--input", str(shot), "--frames", "1", "-m", "dstnet-s", "-q", "--plot", str(plot)]
    result = CliRunner().invoke(app, ["bench", *args])
    assert result.exit_code == 0, result.output
    assert plot.read_bytes().startswith(b"\x89PNG")
