"""One-time conversion of a verified legacy checkpoint (.pth) to safetensors with its config in the metadata."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from deblur_cli.errors import WeightsError
from deblur_cli.weights.registry import WeightsEntry


def convert_checkpoint(source: Path, target: Path, entry: WeightsEntry) -> None:
    """Read `source` as plain tensors (torch.load(weights_only=True)) and write `target` as safetensors.

    The config is read from the tensor shapes and must agree with the one weights.toml states.
    Only architectures with a shape-to-config reader can be converted (today: dstnet).
    """
    # torch is imported here, not at module level: listing or downloading weights does not need it
    from deblur_cli.checkpoint import read_checkpoint, save_checkpoint

    state, _ = read_checkpoint(source)
    config = _config_from_state_dict(entry, state)
    for key, stated in entry.config.items():
        if config[key] != stated:  # the registry takes only the config's fields
            raise WeightsError(
                f"{entry.name}: the checkpoint has {key}={config[key]}, weights.toml says {stated}",
                hint="weights.toml or the source is wrong; the file was not converted",
            )
    save_checkpoint(
        state,
        target,
        architecture=entry.architecture,
        config=config,
        extra={"converted_from": source.name, "source_checksum": str(entry.checksum)},
    )


def _config_from_state_dict(entry: WeightsEntry, state: dict) -> dict:
    if entry.architecture != "dstnet":
        raise WeightsError(
            f"{entry.name}: cannot convert {entry.source.filename}: no converter for {entry.architecture!r} weights",
            hint="publish these weights as .safetensors with the config in the metadata",
        )
    from deblur_cli.dstnet_weights import config_from_state_dict

    config = config_from_state_dict(state)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
