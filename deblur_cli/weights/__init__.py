"""Weights: the weights.toml registry, downloads (Hub and pinned URLs), verification, cache and resolution."""

from deblur_cli.weights.cache import cache_root, cached_file, status
from deblur_cli.weights.download import download
from deblur_cli.weights.registry import Registry, WeightsEntry, load_registry
from deblur_cli.weights.resolve import (
    ResolvedWeights,
    has_local_weights,
    named_entry,
    resolve_weights,
)

__all__ = [
    "Registry",
    "ResolvedWeights",
    "WeightsEntry",
    "cache_root",
    "cached_file",
    "download",
    "has_local_weights",
    "load_registry",
    "named_entry",
    "resolve_weights",
    "status",
]
