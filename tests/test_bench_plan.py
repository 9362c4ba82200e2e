"""What `deblur bench` plans before any model loads: the models, the sweep's defaults by device, and their notes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deblur_cli.bench_plan as bench_plan
from deblur_cli.bench_plan import GPU_STEPS, Sweep, choose_models, plan_bench
from deblur_cli.errors import WeightsError
from deblur_cli.weights import resolve_weights

CPU, GPU = torch.device("cpu"), torch.device("cuda")  # a device is only named here: no GPU is needed


def test_a_gpu_takes_the_full_sweep_and_names_no_default():
    plan = plan_bench(choose_models(["wtsa-s"], [], device=GPU), {}, Sweep(), device=GPU)
    assert (plan.options.steps, plan.options.samples, plan.options.warmup, plan.options.repeat) == (
        GPU_STEPS,
        (1,),
        1,
        2,
    )
    assert plan.notes == () and plan.ignored is None


@pytest.mark.parametrize(
    "models, sweep, compile, options, note",
    [
        (
            ["wtsa-s"],
            Sweep(),
            False,
            ((5, 20), 0, 1),
            "--steps 5,20 --warmup 0 --repeat 1 (on a GPU: --steps 1,5,10,20,50 --warmup 1 --repeat 2)",
        ),
        # --steps only where a diffusion model takes it; --warmup not with --compile, which warms up on a CPU too
        (["dstnet-s"], Sweep(), True, ((5, 20), 1, 1), "--repeat 1 (on a GPU: --repeat 2)"),
        (["wtsa-s"], Sweep(steps=(3,), repeat=4), False, ((3,), 0, 4), "--warmup 0 (on a GPU: --warmup 1)"),
        (["wtsa-s"], Sweep(steps=(3,), warmup=2, repeat=1), False, ((3,), 2, 1), None),
    ],
)
def test_a_cpu_takes_lighter_defaults_and_names_those_it_took(models, sweep, compile, options, note):
    plan = plan_bench(choose_models(models, [], device=CPU), {}, sweep, device=CPU, compile=compile)
    assert (plan.options.steps, plan.options.warmup, plan.options.repeat) == options
    assert plan.notes == ((f"on a CPU, bench defaults to {note}",) if note else ())


def test_sampling_options_no_model_uses_are_warned_of_once_for_all():
    dstnet = choose_models(["dstnet-s", "dstnet"], [], device=CPU)
    plan = plan_bench(dstnet, {}, Sweep(samples=(2,), eta=0.5), device=GPU)
    assert plan.ignored.startswith(
        "--samples and --eta apply to the diffusion models (wtsa, wtsa-s); dstnet-s restores"
    )
    assert (
        plan_bench(choose_models(["dstnet-s", "wtsa-s"], [], device=CPU), {}, Sweep(samples=(2,)), device=GPU).ignored
        is None
    )


def test_the_default_models_are_those_with_weights_here(monkeypatch):
    monkeypatch.setattr(bench_plan, "has_local_weights", lambda name, cache_dir=None: name == "dstnet-s")
    defaults = choose_models([], [], device=GPU)
    assert defaults.defaults and list(defaults.specs) == ["dstnet-s", "wtsa-s"]
    plan = plan_bench(defaults, {}, Sweep(), device=GPU)
    assert list(plan.models) == ["dstnet-s"] and plan.notes == ("wtsa-s left out: no bundled or cached weights",)
    # a --weights file of one's own is weights here; a model named with -m is never left out
    assert list(plan_bench(defaults, {"wtsa-s": Path("w.safetensors")}, Sweep(), device=GPU).models) == [
        "dstnet-s",
        "wtsa-s",
    ]
    assert list(plan_bench(choose_models(["wtsa-s"], [], device=GPU), {}, Sweep(), device=GPU).models) == ["wtsa-s"]
    monkeypatch.setattr(bench_plan, "has_local_weights", lambda name, cache_dir=None: False)
    with pytest.raises(WeightsError, match="no default model has weights here"):
        plan_bench(defaults, {}, Sweep(), device=GPU)


def test_a_weights_file_alone_is_for_the_one_model_named_else_for_the_model_it_holds():
    held = str(resolve_weights("dstnet-s").path)
    alone = choose_models([], [held], device=CPU)
    assert alone.bare == {held: "dstnet-s"} and list(alone.specs) == ["dstnet-s"] and not alone.defaults
    assert choose_models(["dstnet"], [held], device=CPU).bare == {held: "dstnet"}
    both = choose_models(["wtsa-s", "auto"], [held], device=CPU)
    assert both.bare == {held: "dstnet-s"} and list(both.specs) == ["wtsa-s", "dstnet-s"] and both.auto == "dstnet-s"


def test_the_contenders_are_labelled_by_their_weights_and_swept_where_they_sample():
    plan = plan_bench(
        choose_models(["dstnet-s", "wtsa-s"], [], device=CPU),
        {"wtsa-s": Path("x/mine.safetensors")},
        Sweep(),
        device=CPU,
    )
    built = []
    dstnet, wtsa = plan.contenders(lambda *args: built.append(args))
    assert (dstnet.name, dstnet.diffusion, dstnet.window, dstnet.overlap) == ("dstnet-s", False, 10, 2)
    assert (wtsa.name, wtsa.diffusion, wtsa.window, wtsa.overlap) == ("wtsa-s (mine.safetensors)", True, 6, 2)
    wtsa.build(5, 2)
    assert built == [("wtsa-s", Path("x/mine.safetensors"), 5, 2)]
