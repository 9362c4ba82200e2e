"""WTSA weight files: safetensors whose metadata holds the model and diffusion configs.

A model of the "residual" condition corrects a DSTNet's estimate; that DSTNet (its prior) travels in
the same file, under the key prefix `prior.`, so the pair can never be mismatched.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from deblur_cli.checkpoint import (
    ARCH_KEY,
    build_to_fit,
    check_architecture,
    check_fit,
    config_from_json,
    config_from_metadata,
    read_checkpoint,
    read_metadata,
    save_checkpoint,
)
from deblur_cli.diffusion.schedule import DiffusionConfig
from deblur_cli.dstnet_weights import (
    ARCHITECTURE as DSTNET,
    build_dstnet,
    check_dstnet_state,
    config_from_state_dict,
    dstnet_config,
)
from deblur_cli.errors import WeightsError
from deblur_cli.models.dstnet import DSTNet, DSTNetConfig
from deblur_cli.models.wtsa_unet import WTSA_VARIANTS, WTSAConfig, WTSAUNet, learned_frames
from deblur_cli.wording import count

ARCHITECTURE = "wtsa"
WEIGHTS_OF = "a WTSA diffusion model's"  # what a file of another architecture is said not to hold
PRIOR_PREFIX = "prior."


def save_wtsa(
    model: WTSAUNet,
    path: str | Path,
    *,
    diffusion: DiffusionConfig,
    prior: DSTNet | None = None,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Write the model's weights with {"model": WTSAConfig, "diffusion": DiffusionConfig} as the config,
    and, for the "residual" condition, its `prior` (required then, refused otherwise)."""
    _check_prior(diffusion, prior is not None, path)
    config = {"model": dataclasses.asdict(model.config), "diffusion": dataclasses.asdict(diffusion)}
    state = dict(model.state_dict())
    if prior is not None:
        config["prior"] = {"architecture": DSTNET, "config": dataclasses.asdict(prior.config)}
        state.update({PRIOR_PREFIX + k: v for k, v in prior.state_dict().items()})
    save_checkpoint(state, path, architecture=ARCHITECTURE, config=config, extra=extra, dtype=dtype)


def is_wtsa_file(path: str | Path) -> bool:
    """Whether `path` is a safetensors file whose metadata names the WTSA architecture.

    WeightsError if a .safetensors file cannot be read; other files are not WTSA files.
    """
    return Path(path).suffix.lower() == ".safetensors" and read_metadata(path).get(ARCH_KEY) == ARCHITECTURE


def variant_of(path: str | Path) -> str:
    """The name of the WTSA variant whose model config a WTSA file's metadata holds (WTSA_VARIANTS), else
    the architecture's. The file is not checked further: loading it says what is wrong."""
    config = _stated_config(path)
    return next((name for name, variant in WTSA_VARIANTS.items() if variant == config), ARCHITECTURE)


def held_model(path: str | Path) -> str | None:
    """The model a WTSA weights file holds, by the model config in its metadata, after every check `load_wtsa`
    makes of the file (`read_facts`: WeightsError where loading would refuse it, so a file is never said to hold
    a model it does not): the name of its variant (WTSA_VARIANTS), else its stages written out; None where the
    metadata holds no model config."""
    if _stated_config(path) is None:
        return None
    config = read_facts(path)[0]
    known = (name for name, variant in WTSA_VARIANTS.items() if variant == config)
    paper = WTSAConfig()  # a size of one's own: what differs from the paper's, in full
    own = [
        f"{f.name}={_listed(getattr(config, f.name))}"
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != getattr(paper, f.name)
    ]
    return next(known, f"WTSA({', '.join(own)})")


def _stated_config(path: str | Path) -> WTSAConfig | None:
    """The model config a WTSA file's metadata holds; None where it holds none."""
    stored = config_from_metadata(read_metadata(path), ARCHITECTURE, Path(path).name)
    if not isinstance(stored, dict) or not isinstance(stored.get("model"), dict):
        return None
    return config_from_json(WTSAConfig, stored["model"], Path(path).name)


def _listed(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def load_wtsa(path: str | Path, *, variant: str | None = None) -> tuple[WTSAUNet, DiffusionConfig, DSTNet | None]:
    """Build the model a weight file describes and load it strictly, on the CPU in float32.

    Returns (model, diffusion config, prior): the prior is the DSTNet whose estimate a "residual"
    model corrects, else None. A file without WTSA metadata (a legacy .pth) needs `variant`, a key
    of WTSA_VARIANTS, and is taken to use the default DiffusionConfig.
    """
    found = _read(path, variant)
    prior = None
    if found.prior_state:
        prior = build_dstnet(found.prior_state, found.prior_config, name=f"the prior in {found.name}")
    model = build_to_fit(lambda: WTSAUNet(found.config), found.state, **found.fit)
    return model, found.diffusion, prior


def read_facts(path: str | Path, *, variant: str | None = None) -> tuple[WTSAConfig, bool, int]:
    """(model config, whether it corrects a DSTNet prior, frames its positional tables learned) of the model
    `load_wtsa` would build from a weights file, without building it, after the checks load_wtsa makes of the
    file: its config and prior, and every tensor against the model and the prior, on the meta device."""
    found = _read(path, variant)
    if found.prior_state:
        check_dstnet_state(found.prior_state, found.prior_config, name=f"the prior in {found.name}")
    check_fit(lambda: WTSAUNet(found.config), found.state, **found.fit)
    tables = [tensor for key, tensor in found.state.items() if _is_table(key)]
    return found.config, bool(found.prior_state), learned_frames(tables, found.config.max_frames)


@dataclasses.dataclass(frozen=True)
class _Read:
    """A WTSA weights file read and checked as far as it can be without a model: its tensors (float32), configs
    and prior's tensors, and what `checkpoint.build_to_fit` says of it (`fit`: name, described, hint)."""

    name: str
    state: dict[str, torch.Tensor]
    config: WTSAConfig
    diffusion: DiffusionConfig
    prior_state: dict[str, torch.Tensor]
    prior_config: DSTNetConfig | None
    fit: dict[str, str]


def _read(path: str | Path, variant: str | None) -> _Read:
    state, metadata = read_checkpoint(path)
    name = Path(path).name
    check_architecture(metadata, ARCHITECTURE, name, WEIGHTS_OF)
    stored = config_from_metadata(metadata, ARCHITECTURE, name)
    model_config, diffusion = _configs(stored, variant, name)
    if stored is None:
        _refuse_dstnet(state, name)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    prior_state = {k[len(PRIOR_PREFIX) :]: state.pop(k) for k in list(state) if k.startswith(PRIOR_PREFIX)}
    _check_prior(diffusion, bool(prior_state), path, described=stored is not None)
    prior_config = None
    if prior_state:
        described = (stored or {}).get("prior") or {}
        if not isinstance(described, dict) or described.get("architecture", DSTNET) != DSTNET:
            raise WeightsError(f"{name}: its metadata describes no DSTNet prior: {json.dumps(described)[:200]}")
        prior_config = dstnet_config(described["config"], name) if "config" in described else None
    # Each block holds a ResBlock and its WTSA modules, every one with tensors: a config of more blocks
    # than the file has tensors for is refused before it is built (building that many takes minutes).
    modules = len(model_config.channels) * model_config.blocks_per_stage * (1 + len(model_config.windows))
    if modules > len(state) and stored is None:  # no metadata: whatever file it is, not WTSA weights
        raise WeightsError(f"{name} does not hold WTSA weights: {count(len(state), 'tensor')}, "
                           f"where {variant} has {modules} modules or more", hint="give a WTSA checkpoint")  # fmt: skip
    if modules > len(state):
        raise WeightsError(f"{name}: its metadata describes a WTSA model of {modules} modules or more, its file "
                           f"holds {len(state)} tensors", hint="the file was edited or damaged")  # fmt: skip
    described = (
        "the WTSA model its metadata describes" if stored is not None
        else f"the WTSA model {variant} (the file has no config metadata: --model names the variant)"
    )  # fmt: skip
    fit = {"name": name, "described": described, "hint": "the file belongs to another architecture or variant"}
    return _Read(name, state, model_config, diffusion, prior_state, prior_config, fit)


def _is_table(key: str) -> bool:
    """Whether `key` names a positional table of the WTSA model (not of its prior)."""
    return key.endswith(".frame_pos") and not key.startswith(PRIOR_PREFIX)


def _configs(stored: object, variant: str | None, name: str) -> tuple[WTSAConfig, DiffusionConfig]:
    """The model and diffusion configs of file `name`: from its metadata's config `stored`, else (None) the
    paper's diffusion settings and `variant`'s model config; WeightsError where neither is usable."""
    if stored is not None:
        if not isinstance(stored, dict):
            raise WeightsError(f"{name}: the WTSA config in its metadata is not a JSON object")
        missing = [f"'{part}'" for part in ("model", "diffusion") if part not in stored]
        if missing:
            raise WeightsError(f"{name}: the WTSA config in its metadata is missing {' and '.join(missing)}")
        model = config_from_json(WTSAConfig, stored["model"], name)
        return model, config_from_json(DiffusionConfig, stored["diffusion"], name)
    if variant in WTSA_VARIANTS:
        return WTSA_VARIANTS[variant], DiffusionConfig()
    raise WeightsError(
        f"{name} has no WTSA config in its metadata",
        hint=f"name the variant it was trained as: one of {', '.join(WTSA_VARIANTS)}",
    )


def _refuse_dstnet(state: dict[str, torch.Tensor], name: str) -> None:
    """WeightsError if `state`, from a file without metadata (an official .pth), is a DSTNet's: said as
    such, rather than as tensors a WTSA model misses."""
    try:
        config_from_state_dict(state)
    except WeightsError:
        return
    raise WeightsError(
        f"{name} holds DSTNet weights, not a WTSA diffusion model's",
        hint="give it to a dstnet model: --model dstnet or --model dstnet-s (see `deblur models`)",
    )


def _check_prior(diffusion: DiffusionConfig, has_prior: bool, path: str | Path, described: bool = True) -> None:
    """WeightsError where the tensors and the diffusion settings disagree on a DSTNet prior; `described`:
    the settings are the file's metadata (else --model's variant's, the paper's: conditioned on the frames)."""
    residual = diffusion.condition == "residual"
    if residual and not has_prior:
        raise WeightsError(
            f"{Path(path).name}: a residual diffusion model needs the DSTNet it corrects (its prior), which it lacks",
            hint=_WHOLE_EXPORT,
        )
    if has_prior and not residual and not described:
        raise WeightsError(
            f"{Path(path).name} holds a DSTNet prior, which only a diffusion model that corrects it takes, and no "
            "metadata saying how it was trained (a residual model needs it)",
            hint=_WHOLE_EXPORT,
        )
    if has_prior and not residual:
        raise WeightsError(
            f"{Path(path).name} holds a DSTNet prior, which only a diffusion model that corrects it takes, but its "
            "config says it does not",
            hint=_WHOLE_EXPORT,
        )


_WHOLE_EXPORT = "use the .safetensors `deblur train` exported, whose config and tensors agree (not one edited)"
