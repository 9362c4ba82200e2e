"""Weights of another size than the model named: `-m dstnet-s --weights GOPRO.pth` runs the file's model (a
dstnet) under the name given, and every command, and `load`, says so."""

from __future__ import annotations

from pathlib import Path

from deblur_cli.errors import DeblurError
from deblur_cli.model_specs import MODELS, model_spec
from deblur_cli.weights import load_registry
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
