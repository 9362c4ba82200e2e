"""What `deblur bench` runs, decided before any model loads: the sweep and how each row is timed (lighter on a
CPU), and the notes that say which defaults the device took. `bench.run_bench` runs it; the command prints it.
No torch at import: the command line reads the defaults for its help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deblur_cli.run_options import ignored_sampling_note

if TYPE_CHECKING:
    from deblur_cli.bench import BenchOptions

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
        given = [option for option, value in (("--steps", self.steps), ("--samples", self.samples)) if value]
        given += ["--eta"] if self.eta else []
        notes = [ignored_sampling_note(name, given) for name in models]
        return notes[0] if notes and all(notes) else None


def _light_warmup(cpu: bool, compile: bool) -> bool:
    """Whether a CPU skips the warm-up runs by default. With --compile a CPU warms up too: the start-up pass of
    --warmup 0 runs another restorer than a row's timed runs, which torch 2.3 compiles afresh (torch 2.13 reuses
    the first one's kernels)."""
    return cpu and not compile
