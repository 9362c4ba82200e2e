"""What `--model auto`, the default, runs: a model practical on the device, with its weights already here.

`auto` never downloads: a model joins the choice once its weights are bundled or cached
(`deblur download-weights NAME`). Given `--weights`, the weights decide the model instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deblur_cli.errors import UnknownModelError, WeightsError, did_you_mean
from deblur_cli.model_specs import MODELS
from deblur_cli.weights.registry import Registry, load_registry
from deblur_cli.weights.resolve import has_local_weights

if TYPE_CHECKING:  # importing torch takes seconds; the command line checks its arguments without it
    import torch

AUTO = "auto"

# Per device type, the models `auto` tries, best first; the last one is bundled, so the list always ends
# in a model that runs. A model goes ahead of another only on a measurement or a published figure
# (docs/models.md, "Which model runs by default"):
# - CPU and MPS: dstnet-s, 0.71 s per 720p frame in bf16 on the 2-core CPU, where the published-size
#   dstnet takes 4.28 s (docs/dstnet.md).
# - CUDA: the published DSTNet when its official weights are downloaded (34.16 dB on GoPro, Pan et al.
#   2023). The diffusion models are not listed: none has measured better than DSTNet yet.
PREFERENCE: dict[str, tuple[str, ...]] = {
    "cpu": ("dstnet-s",),
    "mps": ("dstnet-s",),
    "cuda": ("dstnet", "dstnet-s"),
}


def choose_model(
    name: str,
    *,
    device: torch.device,
    weights: str | Path | None = None,
    cache_dir: str | Path | None = None,
    registry: Registry | None = None,
) -> str:
    """The model `name` stands for: `name` itself unless it is "auto"; ModelError for an unknown name.

    For "auto": with `weights`, the model those weights are for (a registry entry's model, or a file's:
    the named variant its metadata's config is, such as dstnet-s, else its architecture; a safetensors
    file that says "wtsa" is WTSA, anything else is tried as DSTNet); without,
    the first model of PREFERENCE[device.type] whose weights are bundled or cached.
    """
    if name in MODELS:
        return name
    if name != AUTO:
        known = [AUTO, *MODELS]
        raise UnknownModelError(
            f"unknown model {name!r}", hint=f"{did_you_mean(name, known)}choose one of: {', '.join(known)}"
        )
    registry = registry or load_registry()
    if weights is not None:
        return _model_of_weights(Path(weights).expanduser(), registry)
    preference = PREFERENCE.get(device.type, PREFERENCE["cpu"])
    for model in preference:
        if has_local_weights(model, cache_dir, registry):
            return model
    return preference[-1]  # loading it then says which weights are missing


def _model_of_weights(weights: Path, registry: Registry) -> str:
    from deblur_cli import dstnet_weights, wtsa_weights  # imports torch

    if weights.is_file():  # the variant its metadata describes (dstnet-s, wtsa-s), else the architecture
        try:
            return (wtsa_weights if wtsa_weights.is_wtsa_file(weights) else dstnet_weights).variant_of(weights)
        except WeightsError:
            return "dstnet"  # unreadable: loading it reports what is wrong with it
    entry = registry.entries.get(str(weights))
    if entry is None:
        return "dstnet-s"  # neither a file nor a registry entry: resolving it says so
    return registry.model_of(entry.name)
