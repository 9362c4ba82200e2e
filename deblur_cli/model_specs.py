"""The model names, what each one's windows default to, and the limits of the diffusion models' sampling
options: plain data, no torch, so that the command line can list and check them without loading PyTorch
(restorers.py builds the models)."""

from __future__ import annotations

from dataclasses import dataclass

from deblur_cli.errors import UnknownModelError, UsageError, did_you_mean


@dataclass(frozen=True)
class ModelSpec:
    architecture: str  # "dstnet" or "wtsa"
    window: int  # default frames per temporal window
    overlap: int  # default frames shared by consecutive windows
    summary: str  # one line for `deblur --help` and docs


MODELS: dict[str, ModelSpec] = {
    "dstnet": ModelSpec("dstnet", 10, 2, "DSTNet, official size (64 features, 15 blocks): fast, deterministic"),
    "dstnet-s": ModelSpec("dstnet", 10, 2, "DSTNet small: the practical default on a CPU"),
    "wtsa": ModelSpec("wtsa", 6, 2, "WTSA video diffusion, the paper's size: sharper texture, needs a GPU"),
    "wtsa-s": ModelSpec("wtsa", 6, 2, "WTSA video diffusion, small: samples on a CPU, slowly"),
}
# The diffusion models' sampling limits, which the command line's options and the library's entries share
MAX_STEPS = 1000  # DDIM steps at most: one per training timestep
MAX_SEED = 2**64 - 1  # torch's generators and NumPy's SeedSequence take 64 bits
MAX_SAMPLES = 64  # samples averaged at most: each is a whole DDIM run, so a stray extra digit meant hours


def check_sampling(steps: int, eta: float, samples: int, seed: int | None = 0) -> None:
    """UsageError for sampling options the command line refuses: steps from 1 to MAX_STEPS, eta from 0 to 1,
    samples from 1 to MAX_SAMPLES, a seed from 0 to MAX_SEED (None: unseeded)."""
    if not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"--steps {steps} must be from 1 to {MAX_STEPS}")
    if not 0 <= eta <= 1:  # nan too
        raise UsageError(f"--eta {eta:g} must be from 0 (deterministic) to 1 (DDPM's noise)")
    if not 1 <= samples <= MAX_SAMPLES:
        raise UsageError(f"--samples {samples} must be from 1 to {MAX_SAMPLES}")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed {seed} must be from 0 to 2^64 - 1 ({MAX_SEED})")


def model_spec(name: str) -> ModelSpec:
    """The spec of a model name; ModelError listing the known names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        hint = f"{did_you_mean(name, MODELS)}choose one of: {', '.join(MODELS)}"
        raise UnknownModelError(f"unknown model {name!r}", hint=hint) from None
