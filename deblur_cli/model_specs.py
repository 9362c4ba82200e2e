"""The model names and what each one's windows default to: plain data, no torch, so that the command
line can list and check them without loading PyTorch (restorers.py builds the models)."""

from __future__ import annotations

from dataclasses import dataclass

from deblur_cli.errors import UnknownModelError, did_you_mean


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
MAX_SEED = 2**64 - 1  # the diffusion models' seed: torch's generators and NumPy's SeedSequence take 64 bits
# Samples averaged at most: each is a whole DDIM run, so a stray extra digit meant hours before any output
MAX_SAMPLES = 64


def model_spec(name: str) -> ModelSpec:
    """The spec of a model name; ModelError listing the known names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        hint = f"{did_you_mean(name, MODELS)}choose one of: {', '.join(MODELS)}"
        raise UnknownModelError(f"unknown model {name!r}", hint=hint) from None
