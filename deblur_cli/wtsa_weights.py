"""WTSA weight files: safetensors whose metadata holds the model and diffusion configs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from deblur_cli.checkpoint import config_from_metadata, read_checkpoint, save_checkpoint
from deblur_cli.diffusion.schedule import DiffusionConfig
from deblur_cli.errors import WeightsError
from deblur_cli.models.wtsa_unet import WTSA_VARIANTS, WTSAConfig, WTSAUNet

ARCHITECTURE = "wtsa"


def save_wtsa(
    model: WTSAUNet,
    path: str | Path,
    *,
    diffusion: DiffusionConfig,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Write the model's weights with {"model": WTSAConfig, "diffusion": DiffusionConfig} as the config."""
    config = {"model": dataclasses.asdict(model.config), "diffusion": dataclasses.asdict(diffusion)}
    save_checkpoint(model.state_dict(), path, architecture=ARCHITECTURE, config=config, extra=extra, dtype=dtype)


def load_wtsa(path: str | Path, *, variant: str | None = None) -> tuple[WTSAUNet, DiffusionConfig]:
    """Build the model a weight file describes and load it strictly, on the CPU in float32.

    A file without WTSA metadata (a legacy .pth) needs `variant`, a key of WTSA_VARIANTS, and is
    taken to use the default DiffusionConfig.
    """
    state, metadata = read_checkpoint(path)
    stored = config_from_metadata(metadata, ARCHITECTURE)
    if stored is not None:
        model_config = _build(WTSAConfig, stored.get("model"), path)
        diffusion = _build(DiffusionConfig, stored.get("diffusion"), path)
    elif variant in WTSA_VARIANTS:
        model_config, diffusion = WTSA_VARIANTS[variant], DiffusionConfig()
    else:
        raise WeightsError(
            f"{Path(path).name} has no WTSA config in its metadata",
            hint=f"name the variant it was trained as: one of {', '.join(WTSA_VARIANTS)}",
        )
    model = WTSAUNet(model_config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # torch puts a title line, then one line per mismatch; the first says enough
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise WeightsError(
            f"{Path(path).name} does not fit the WTSA model its config describes: {lines[min(1, len(lines) - 1)]}",
            hint="the file belongs to another architecture or variant",
        ) from None
    return model.eval(), diffusion


def _build(cls: type, fields: object, path: str | Path):
    """A config dataclass from its JSON dict (lists become tuples); WeightsError if it does not fit."""
    if not isinstance(fields, dict):
        raise WeightsError(f"{Path(path).name}: WTSA config metadata lacks a {cls.__name__}")
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{Path(path).name}: unusable {cls.__name__} in metadata: {e}") from None
