"""A --weights file given for a model: checked before a command that restores with several does any work
(`check_weights`), and weights of another size than the model named: `-m dstnet-s --weights GOPRO.pth` runs the
file's model (a dstnet) under the name given, and every command, and `load`, says so."""

from __future__ import annotations

from pathlib import Path

from deblur_cli.errors import DeblurError
from deblur_cli.model_specs import MODELS, model_spec
from deblur_cli.weights import load_registry, named_entry
from deblur_cli.weights.registry import CONFIG_FIELDS


def held_elsewhere(name: str, weights: str | Path | None) -> str | None:
    """ "FILE holds a dstnet model, not dstnet-s" where a --weights file holds another size of model `name`'s
    architecture than `name` says: the file's model runs, under the name given. A DSTNet file's size is
    read as loading reads it (metadata, else the tensor shapes: an official .pth too), a WTSA file's from
    its metadata, each after the checks loading makes of the file (`held_model`), a registry entry's from the
    config weights.toml states (`-m dstnet --weights dstnet-s`). None when it fits, for a WTSA file whose metadata
    holds no config or an entry that states none, and for weights that are not of that architecture, cannot be
    read or that loading refuses (building them says what is wrong)."""
    held = _held(name, weights)
    return None if held is None else f"{held[0]} holds {held[1]}, not {name}"


def runs_under(name: str, weights: str | Path | None) -> str | None:
    """held_elsewhere's warning as run, demo and load give it: the file's model runs, under the name given."""
    held = _held(name, weights)
    if held is None:
        return None
    return f"{held[0]} holds {held[1]}, not {name}: the file's model runs, under the name {name}"


def labelled_as(name: str, weights: str | Path | None, label: str) -> str | None:
    """held_elsewhere's warning as evaluate and bench give it, whose tables and JSON name the file's scores by
    `label`: they measure the file's model."""
    held = held_elsewhere(name, weights)
    return None if held is None else f"{held}: its scores are labelled {label} but measure the file's model"


def check_weights(
    name: str, weights: str | Path, *, cache_dir: str | Path | None = None, offline: bool | None = None
) -> None:
    """WeightsError, before a command that restores with several weights does any work, where `weights` is no
    file nor registry entry (`named_entry`), a registry entry that is not here when `offline` (None: as
    HF_HUB_OFFLINE says; the error resolving it gives), or a safetensors file of another architecture than model
    `name`'s (its metadata read, not its tensors): a mistyped or swapped last one would stop it after hours of the
    first."""
    from deblur_cli import dstnet_weights, wtsa_weights
    from deblur_cli.checkpoint import check_architecture, read_metadata
    from deblur_cli.weights import resolve_weights
    from deblur_cli.weights.download import offline_from_env

    if named_entry(name, weights) is not None and (offline_from_env() if offline is None else offline):
        resolve_weights(name, weights=weights, cache_dir=cache_dir, offline=True)
    path = Path(weights).expanduser()
    if path.is_file() and path.suffix.lower() == ".safetensors":
        module = wtsa_weights if model_spec(name).architecture == "wtsa" else dstnet_weights
        check_architecture(read_metadata(path), module.ARCHITECTURE, path.name, module.WEIGHTS_OF)  # as loading does


def model_of_file(path: str | Path) -> str:
    """The model a weights file holds, read as loading reads it (its metadata, else its tensor shapes): a
    variant's name (dstnet-s, wtsa-s; dstnet for an official .pth), else its architecture's. WeightsError
    where it is unreadable."""
    from deblur_cli import dstnet_weights, wtsa_weights  # they import torch

    return (wtsa_weights if wtsa_weights.is_wtsa_file(path) else dstnet_weights).variant_of(path)


def _held(name: str, weights: str | Path | None) -> tuple[str, str] | None:
    """(how to name `weights`, the model it holds) for held_elsewhere, or None."""
    from deblur_cli import dstnet_weights, wtsa_weights  # they import torch

    if weights is None:
        return None
    architecture, path = model_spec(name).architecture, Path(weights).expanduser()
    try:
        if not path.is_file():  # a registry entry, or nothing (resolving it says so)
            label, held = str(weights), _entry_model(str(weights), architecture)
        elif wtsa_weights.is_wtsa_file(path) != (architecture == "wtsa"):
            return None
        else:
            label, held = path.name, (wtsa_weights if architecture == "wtsa" else dstnet_weights).held_model(path)
    except DeblurError:
        return None
    if held is None or held == name:
        return None
    return label, f"a {held} model" if held in MODELS else held  # else its size, written out


def _entry_model(name: str, architecture: str) -> str | None:
    """The model an entry of weights.toml of `architecture` holds: a DSTNet entry's by the config it states (its
    variant's name, else its size written out), a WTSA entry's by its file's metadata where the file is here
    (bundled, or downloaded); None for another entry, or one that does not state its whole size."""
    entry = load_registry().entries.get(name)
    if entry is None or entry.architecture != architecture:
        return None
    if architecture == "wtsa":
        from deblur_cli import wtsa_weights
        from deblur_cli.weights.cache import present_file

        path = present_file(entry)
        return None if path is None else wtsa_weights.held_model(path)
    if set(entry.config) != set(CONFIG_FIELDS[architecture]):  # the registry refuses other keys
        return None
    from deblur_cli.dstnet_weights import model_name
    from deblur_cli.models.dstnet import DSTNetConfig

    return model_name(DSTNetConfig(**entry.config))
