"""DSTNet weights: build a model from an official-layout state dict or our safetensors, and save one.

The official release (github.com/xuboming8/DSTNet) ships BasicSR .pth files; ours are safetensors with
`architecture = "dstnet"` and the config in the metadata. Both hold the same key names.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import torch

from deblur_cli.checkpoint import (
    build_to_fit,
    check_architecture,
    check_fit,
    config_from_json,
    config_from_metadata,
    read_checkpoint,
    read_metadata,
    save_checkpoint,
)
from deblur_cli.errors import WeightsError
from deblur_cli.models.dstnet import DSTNET_VARIANTS, DSTNet, DSTNetConfig

ARCHITECTURE = "dstnet"
WEIGHTS_OF = "DSTNet's"  # what a file of another architecture is said not to hold
_FIRST_CONV = "feat_extractor.weight"
_TRUNK_BLOCK = re.compile(r"forward_propagation\.resblock_bcakward2d\.main\.0\.(\d+)\.conv1\.weight")
_LARGE_LAYOUT_KEY = "up.weight"  # only in the official large model (GOPRO_Large.pth)


def config_from_state_dict(state: dict[str, torch.Tensor]) -> DSTNetConfig:
    """The config an official-layout state dict was made for: feat from the first conv, blocks from the trunk."""
    if _LARGE_LAYOUT_KEY in state:
        raise WeightsError(
            "these are weights of the large DSTNet layout (GOPRO_Large.pth), which is not supported",
            hint="use the GOPRO, DVD or BSD checkpoint",
        )
    first = state.get(_FIRST_CONV)
    if first is None or first.ndim != 5 or first.shape[1:] != (3, 1, 3, 3):
        raise WeightsError(
            f"not DSTNet weights: no {_FIRST_CONV} of shape (feat, 3, 1, 3, 3)",
            hint="pass a DSTNet checkpoint (official .pth or our .safetensors)",
        )
    indices = sorted(int(m.group(1)) for key in state if (m := _TRUNK_BLOCK.fullmatch(key)))
    if not indices or indices != list(range(len(indices))):
        raise WeightsError(
            "not DSTNet weights: the propagation residual blocks are missing or not numbered 0..n-1",
            hint="pass a DSTNet checkpoint (official .pth or our .safetensors)",
        )
    return DSTNetConfig(feat=first.shape[0], blocks=len(indices))


def _config_from_metadata(metadata: dict[str, str], where: str) -> DSTNetConfig | None:
    stored = config_from_metadata(metadata, ARCHITECTURE, where)
    return None if stored is None else dstnet_config(stored, where)


def dstnet_config(stored: object, where: str = "the weights file") -> DSTNetConfig:
    """A DSTNetConfig from its JSON dict, checked (`checkpoint.config_from_json`); `where` names the file."""
    return config_from_json(DSTNetConfig, stored, where)


def variant_of(path: str | Path) -> str:
    """The name of the DSTNet variant a weights file holds (DSTNET_VARIANTS), else the architecture's: a width and
    depth of one's own. Its size is read as loading reads it: from the metadata, else from the tensor shapes
    (which only then are loaded: an official .pth of dstnet-s's size is dstnet-s). The file is not checked
    further: loading it says what is wrong. WeightsError where it is unreadable or not DSTNet weights."""
    name = Path(path).name
    config = _config_from_metadata(read_metadata(path), name) if Path(path).suffix.lower() == ".safetensors" else None
    if config is None:
        config = config_from_state_dict(read_checkpoint(path)[0])
    held = model_name(config)
    return held if held in DSTNET_VARIANTS else ARCHITECTURE


def held_model(path: str | Path) -> str:
    """The model a DSTNet weights file holds (`model_name`), after every check `load_dstnet` makes of the file
    (`check_dstnet`): WeightsError where loading would refuse it, so a file is never said to hold a model it
    does not (metadata edited to describe another size, tensors missing or not finite)."""
    return model_name(check_dstnet(path))


def model_name(config: DSTNetConfig) -> str:
    """The name of the variant `config` is (DSTNET_VARIANTS), else the config written out."""
    known = (name for name, variant in DSTNET_VARIANTS.items() if variant == config)
    return next(known, f"DSTNet(feat={config.feat}, blocks={config.blocks})")


def load_dstnet(path: str | Path) -> DSTNet:
    """A DSTNet in eval mode on the CPU, float32, from .pth (official/BasicSR) or .safetensors weights.

    The config comes from the file's metadata when it has one, else from the tensor shapes; loading
    is strict. WeightsError if the file is unreadable or does not fit the architecture.
    """
    state, metadata = read_checkpoint(path)
    name = Path(path).name
    check_architecture(metadata, ARCHITECTURE, name, WEIGHTS_OF)
    return build_dstnet(state, _config_from_metadata(metadata, name), name=name)


def check_dstnet(path: str | Path) -> DSTNetConfig:
    """The config of the DSTNet `load_dstnet` would build from a weights file, after the checks it makes of the
    file, without building it: WeightsError where it would fail (another architecture, a tensor missing, of
    another shape, or not finite)."""
    state, metadata = read_checkpoint(path)
    name = Path(path).name
    check_architecture(metadata, ARCHITECTURE, name, WEIGHTS_OF)
    return check_dstnet_state(state, _config_from_metadata(metadata, name), name=name)


def check_dstnet_state(
    state: dict[str, torch.Tensor], config: DSTNetConfig | None = None, *, name: str
) -> DSTNetConfig:
    """`build_dstnet`'s checks of `state` without building it: the config its shapes say (which `config`, from
    a file's metadata, must be), every tensor fitting that DSTNet and finite (WeightsError naming `name`)."""
    config = _fitted_config(state, config, name)
    check_fit(lambda: DSTNet(config), state, name=name, described=_described(config), hint=_HINT)
    return config


def build_dstnet(state: dict[str, torch.Tensor], config: DSTNetConfig | None = None, *, name: str) -> DSTNet:
    """A DSTNet in eval mode holding `state` (loaded strictly); the config is read from the shapes if None.
    `name` says where the tensors came from, in errors. A config given (from a file's metadata) must be
    the one the shapes say, checked before anything is built (`checkpoint.build_to_fit`)."""
    config = _fitted_config(state, config, name)
    return build_to_fit(lambda: DSTNet(config), state, name=name, described=_described(config), hint=_HINT)


_HINT = "the file must hold a complete DSTNet state dict with the official key names"


def _described(config: DSTNetConfig) -> str:
    return f"DSTNet(feat={config.feat}, blocks={config.blocks})"


def _fitted_config(state: dict[str, torch.Tensor], config: DSTNetConfig | None, name: str) -> DSTNetConfig:
    """The config `state`'s shapes say, which a `config` given (from the file's metadata) must be."""
    try:
        from_shapes = config_from_state_dict(state)
    except WeightsError as e:  # say which file
        raise WeightsError(f"{name}: {e}", hint=e.hint) from None
    if config is not None and config != from_shapes:
        raise WeightsError(
            f"{name}: its metadata describes DSTNet(feat={config.feat}, blocks={config.blocks}), its tensors "
            f"DSTNet(feat={from_shapes.feat}, blocks={from_shapes.blocks})",
            hint="the file was edited or damaged; the metadata and the tensors must agree",
        )
    return from_shapes


def save_dstnet(
    model: DSTNet, path: str | Path, *, extra_metadata: dict[str, str] | None = None, half: bool = False
) -> None:
    """Write the model's state dict as safetensors (float16 if `half`) with its config in the metadata."""
    save_checkpoint(
        model.state_dict(),
        path,
        architecture=ARCHITECTURE,
        config=asdict(model.config),
        extra=extra_metadata,
        dtype=torch.float16 if half else None,
    )
