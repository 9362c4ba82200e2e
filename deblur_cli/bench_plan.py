"""What `deblur bench` runs, decided before any model loads (`plan_bench`): the models (a weights file given alone
assigned to its model; the default models narrowed to those with weights here), the sweep and how each row is timed
(lighter on a CPU), and the notes that say what was left out or which defaults the device took. `bench.run_bench`
runs it; the command prints it. No torch at import: the command line reads the defaults for its help."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from deblur_cli.auto_model import AUTO, choose_model
from deblur_cli.errors import WeightsError
from deblur_cli.model_specs import ModelSpec, model_spec
from deblur_cli.run_options import ignored_sampling_note
from deblur_cli.weights import has_local_weights
from deblur_cli.wording import weights_label

if TYPE_CHECKING:
    import torch

    from deblur_cli.bench import BenchModel, BenchOptions
    from deblur_cli.restorer import Restorer

DEFAULT_MODELS = ("dstnet-s", "wtsa-s")  # the bundled ones

# One diffusion run is slow on a CPU (wtsa-s on the default 640x384 clip, fp32, the 2-core Xeon: about
# 1.5 s a frame per DDIM step; docs/bench.md), so a CPU sweeps fewer step counts and times each once,
# unless told otherwise.
GPU_STEPS, CPU_STEPS = (1, 5, 10, 20, 50), (5, 20)


def numbers(values: tuple[int, ...]) -> str:
    """Whole numbers as --steps and --samples take them: "1,5,10"."""
    return ",".join(map(str, values))


@dataclass(frozen=True)
class Sweep:
    """What to sweep and how to time each row, as asked: None where an option was left to its default, which
    depends on the device."""

    steps: tuple[int, ...] | None = None  # --steps: DDIM step counts
    samples: tuple[int, ...] | None = None  # --samples: sample counts
    warmup: int | None = None  # --warmup: untimed runs before timing
    repeat: int | None = None  # --repeat: timed runs
    eta: float = 0.0  # --eta: here only whether it was given

    def options(self, *, cpu: bool, compile: bool) -> BenchOptions:
        """The BenchOptions asked, each default the one for the device (`cpu`) and `compile`."""
        from deblur_cli.bench import BenchOptions  # imports torch

        steps = (CPU_STEPS if cpu else GPU_STEPS) if self.steps is None else self.steps
        samples = (1,) if self.samples is None else self.samples
        warmup = (0 if _light_warmup(cpu, compile) else 1) if self.warmup is None else self.warmup
        repeat = (1 if cpu else 2) if self.repeat is None else self.repeat
        return BenchOptions(steps, samples, warmup, repeat)

    def defaults_note(self, *, cpu: bool, compile: bool, diffusion: bool) -> list[str]:
        """A note naming the lighter defaults a CPU took, those left unset that matter here (--steps only with a
        `diffusion` model), each with its option and its value on a GPU; none when all were given, or on a GPU."""
        if not cpu:
            return []
        defaulted = {
            "--steps": self.steps is None and diffusion,
            "--warmup": self.warmup is None and _light_warmup(cpu, compile),
            "--repeat": self.repeat is None,
        }
        values = {"--steps": (numbers(CPU_STEPS), numbers(GPU_STEPS)), "--warmup": (0, 1), "--repeat": (1, 2)}
        used = [option for option, unset in defaulted.items() if unset]
        if not used:
            return []
        here = " ".join(f"{option} {values[option][0]}" for option in used)
        there = " ".join(f"{option} {values[option][1]}" for option in used)
        return [f"on a CPU, bench defaults to {here} (on a GPU: {there})"]

    def ignored(self, models: list[str]) -> str | None:
        """A warning where no model of `models` samples, so that the sampling options given do nothing; else None."""
        given = [
            option for option, value in (("--steps", self.steps), ("--samples", self.samples)) if value is not None
        ]
        given += ["--eta"] if self.eta else []
        notes = [ignored_sampling_note(name, given) for name in models]
        return notes[0] if notes and all(notes) else None


def _light_warmup(cpu: bool, compile: bool) -> bool:
    """Whether a CPU skips the warm-up runs by default. With --compile a CPU warms up too: the start-up pass of
    --warmup 0 runs another restorer than a row's timed runs, which torch 2.3 compiles afresh (torch 2.13 reuses
    the first one's kernels)."""
    return cpu and not compile


@dataclass(frozen=True)
class BenchModels:
    """The models bench was asked to run, before their --weights MODEL=FILE pairs are read."""

    specs: dict[str, ModelSpec]  # by name, in order, each once (-m auto: the model it stands for)
    auto: str | None  # what -m auto stands for here; None without it
    bare: dict[str, str]  # each --weights FILE given alone: the model it is for
    defaults: bool  # neither -m nor a FILE alone: DEFAULT_MODELS, narrowed to those with weights here (plan_bench)


def choose_models(
    named: Sequence[str], bare: Sequence[str], *, device: torch.device, cache_dir: str | Path | None = None
) -> BenchModels:
    """The models of -m's names (`named`, those of -m a,b apart) and the weights files given alone (`bare`), as run
    and evaluate take a file alone: with one -m, for that model; else for the model the file holds (and, without -m,
    those models alone); with neither, DEFAULT_MODELS. ModelError for an unknown name, before any work."""
    one = named[0] if len(named) == 1 and named[0] != AUTO else None
    bare_for = {value: one or choose_model(AUTO, device=device, weights=value) for value in bare}
    names = list(named) or list(dict.fromkeys(bare_for.values())) or list(DEFAULT_MODELS)
    chosen = {name: choose_model(name, device=device, cache_dir=cache_dir) for name in names}
    specs = {name: model_spec(name) for name in dict.fromkeys(chosen.values())}
    return BenchModels(specs, chosen.get(AUTO), bare_for, defaults=not named and not bare_for)


@dataclass(frozen=True)
class BenchPlan:
    """What bench runs: the models, each one's weights file where given, how the rows are swept and timed, and
    the notes and the warning that say what was left out, defaulted or given for nothing."""

    models: dict[str, ModelSpec]  # those that run, in order
    weights: dict[str, Path]  # the --weights file of a model, where given
    options: BenchOptions
    notes: tuple[str, ...]  # the models left out, the defaults a CPU took
    ignored: str | None  # a warning: no model here samples, and sampling options were given

    def contenders(self, build: Callable[[str, Path | None, int, int], Restorer]) -> list[BenchModel]:
        """The models to run_bench, each labelled with its weights file where given, built as
        `build(name, weights, steps, samples)`, swept by steps and samples where it is a diffusion model."""
        from deblur_cli.bench import BenchModel  # imports torch

        return [
            BenchModel(
                weights_label(name, self.weights.get(name)),
                partial(build, name, self.weights.get(name)),
                diffusion=spec.architecture == "wtsa",
                window=spec.window,
                overlap=spec.overlap,
            )
            for name, spec in self.models.items()
        ]


def plan_bench(
    models: BenchModels,
    weights: dict[str, Path],
    sweep: Sweep,
    *,
    device: torch.device,
    compile: bool = False,
    cache_dir: str | Path | None = None,
) -> BenchPlan:
    """The plan of a bench of `models` with the weights files `weights` (by model), sweeping as `sweep` asks on
    `device` (`compile`: --compile). The default models are narrowed to those that run here without a download,
    a note naming each left out; WeightsError where none is left."""
    specs, notes = models.specs, []
    if models.defaults:
        runnable = [name for name in specs if name in weights or has_local_weights(name, cache_dir)]
        notes += [f"{name} left out: no bundled or cached weights" for name in specs if name not in runnable]
        if not runnable:
            raise WeightsError(
                "no default model has weights here", hint="see `deblur models`, or pass --model and --weights"
            )
        specs = {name: specs[name] for name in runnable}
    cpu = device.type == "cpu"
    diffusion = any(spec.architecture == "wtsa" for spec in specs.values())
    notes += sweep.defaults_note(cpu=cpu, compile=compile, diffusion=diffusion)
    return BenchPlan(specs, weights, sweep.options(cpu=cpu, compile=compile), tuple(notes), sweep.ignored(list(specs)))
