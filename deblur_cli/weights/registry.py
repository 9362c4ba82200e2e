"""The weights registry: `weights.toml` parsed into frozen entries and validated once, when read.

Every table of the file is one checkpoint, except `[defaults]`, which maps a model name (`deblur run
--model NAME`) to its checkpoints in order of preference. Names, filenames and paths are checked here
so that nothing read from the file can point outside the cache or the package (see docs/weights.md).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from deblur_cli.errors import WeightsError, did_you_mean
from deblur_cli.weights.verify import Checksum

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI
    import tomli as tomllib

REGISTRY_FILE = "weights.toml"
DEFAULTS_TABLE = "defaults"
BUNDLED_DIR = "weights/bundled"  # inside the deblur_cli package

# The fields an entry's `config` may state, by architecture: DSTNetConfig's (models/ imports torch, which reading
# the registry does not; a test keeps the two equal). A WTSA file's config is nested: its metadata alone holds it.
CONFIG_FIELDS = {"dstnet": ("feat", "blocks"), "wtsa": ()}

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")  # no leading dot: rules out "." and ".."
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class UrlSource:
    """A file at a pinned URL (the commit is part of the URL, never a branch)."""

    url: str  # http(s) URL of the exact file
    filename: str  # its name in the cache folder: one safe path component

    kind = "url"


@dataclass(frozen=True)
class HubSource:
    """A file in a Hugging Face Hub repository at a fixed commit."""

    repo_id: str  # "owner/name"
    filename: str  # path inside the repository; safe relative parts only
    revision: str  # full 40-hex commit id: a branch or tag could move under us

    kind = "hf"


@dataclass(frozen=True)
class BundledSource:
    """A safetensors file shipped inside the deblur_cli package."""

    path: str  # relative to the package, under weights/bundled/

    kind = "bundled"

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


Source = UrlSource | HubSource | BundledSource


@dataclass(frozen=True)
class Quality:
    """A figure from the model card or paper; informational, shown by `deblur models --json`."""

    dataset: str  # evaluation set, e.g. "GoPro test"
    psnr: float | None  # dB
    ssim: float | None
    reference: str  # where the figure comes from


@dataclass(frozen=True)
class WeightsEntry:
    """One checkpoint of weights.toml."""

    name: str  # the table name; also the entry's folder in the cache
    description: str  # one line for people
    architecture: str  # "dstnet" or "wtsa": the model family the weights load into
    config: Mapping[str, Any]  # hyper-parameters as published (the loaded file's metadata is authoritative)
    source: Source
    checksum: Checksum | None  # None only for a bundled file not pinned yet; such an entry is never used
    size: int | None  # bytes of the source file; None where the publisher does not state it
    licence: str  # SPDX identifier or a short phrase
    training_data: str  # what the weights were trained on
    quality: Quality | None

    @property
    def needs_conversion(self) -> bool:
        """True for legacy checkpoints (.pth...) that are converted once to safetensors in the cache."""
        return not self.source.filename.endswith(".safetensors")


@dataclass(frozen=True)
class Registry:
    """All entries, and each model's checkpoints in order of preference."""

    entries: Mapping[str, WeightsEntry]  # by name, in file order
    defaults: Mapping[str, tuple[str, ...]]  # model name -> entry names, preferred first

    def entry(self, name: str) -> WeightsEntry:
        """The entry called `name`; WeightsError listing the known names otherwise, or, for a model's
        name (`dstnet`), that model's weights."""
        try:
            return self.entries[name]
        except KeyError:
            if name in self.defaults:
                names = self.defaults[name]
                hint = f"{name} is a model: its weights are {', '.join(names)} (`deblur download-weights {names[0]}`)"
            else:
                hint = (
                    f"{did_you_mean(name, self.entries)}known weights: {', '.join(self.entries)} (see `deblur models`)"
                )
            raise WeightsError(f"unknown weights {name!r}", hint=hint) from None

    def candidates(self, model: str) -> tuple[WeightsEntry, ...]:
        """The checkpoints registered for model `model`, preferred first."""
        if model not in self.defaults:
            raise WeightsError(
                f"no weights are registered for model {model!r}", hint="pass a weights file with --weights FILE"
            )
        return tuple(self.entries[name] for name in self.defaults[model])

    def models_using(self, name: str) -> tuple[str, ...]:
        """The model names that list entry `name` among their defaults."""
        return tuple(model for model, names in self.defaults.items() if name in names)

    def model_of(self, name: str) -> str:
        """The model that entry `name`'s weights run as: the first that lists it, else the model named as
        its architecture (dstnet, wtsa: the published sizes)."""
        users = self.models_using(name)
        return users[0] if users else self.entries[name].architecture


def load_registry(path: str | Path | None = None) -> Registry:
    """Parse a weights.toml; without `path`, the one shipped in the package (read once per process)."""
    if path is None:
        return _packaged_registry()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise WeightsError(f"cannot read {path}: {e.strerror}") from None
    return parse_registry(text, origin=str(path))


@functools.lru_cache(maxsize=1)
def _packaged_registry() -> Registry:
    text = resources.files("deblur_cli").joinpath(REGISTRY_FILE).read_text(encoding="utf-8")
    return parse_registry(text, origin=REGISTRY_FILE)


def parse_registry(text: str, *, origin: str = REGISTRY_FILE) -> Registry:
    """Parse and validate the text of a weights.toml; WeightsError naming the table and field on any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise WeightsError(f"{origin}: not valid TOML: {e}") from None
    raw_defaults = data.pop(DEFAULTS_TABLE, {})
    entries = {}
    for name, table in data.items():
        where = f"{origin}: [{name}]"
        if not isinstance(table, dict):
            raise WeightsError(f"{where}: expected a table")
        if not _NAME.fullmatch(name):
            raise WeightsError(f"{where}: names are lowercase letters, digits, '.', '_' and '-'")
        entries[name] = _parse_entry(name, _Table(table, where))
    defaults = _parse_defaults(raw_defaults, entries, f"{origin}: [{DEFAULTS_TABLE}]")
    return Registry(MappingProxyType(entries), MappingProxyType(defaults))


class _Table:
    """Reads fields out of one TOML table, naming the table in every error and refusing unknown keys."""

    def __init__(self, data: dict, where: str):
        self.data = dict(data)
        self.where = where

    def error(self, key: str, problem: str) -> WeightsError:
        return WeightsError(f"{self.where} {key}: {problem}")

    def take(self, key: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
        if key not in self.data:
            if required:
                raise self.error(key, "missing")
            return None
        value = self.data.pop(key)
        # bool is an int in Python; a flag is never a valid size or figure
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.error(key, f"expected {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self.take(key, str, required=required)
        if value is not None and not value.strip():
            raise self.error(key, "empty")
        return value

    def done(self) -> None:
        if self.data:
            raise WeightsError(f"{self.where}: unknown field(s) {', '.join(sorted(self.data))}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if set(kinds) == {int, float}:
        return "a number"
    names = {str: "a string", int: "an integer", float: "a number", dict: "a table", list: "a list", bool: "true/false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _parse_entry(name: str, t: _Table) -> WeightsEntry:
    source = _parse_source(t)
    raw_checksum = t.text("checksum", required=source.kind != "bundled")
    checksum = None
    if raw_checksum is not None:
        try:
            checksum = Checksum.parse(raw_checksum)
        except ValueError as e:
            raise t.error("checksum", str(e)) from None
    size = t.take("size", int, required=False)
    if size is not None and size <= 0:
        raise t.error("size", "must be a positive number of bytes")
    description, architecture = t.text("description"), t.text("architecture")
    config = t.take("config", dict, required=False) or {}
    for key, value in config.items():
        if not isinstance(value, (str, int, float, bool)):
            raise t.error(f"config.{key}", "values are strings, numbers or true/false")
        fields = CONFIG_FIELDS.get(architecture)
        if fields is not None and key not in fields:
            takes = f"configs take {', '.join(fields)}" if fields else "entries state none"
            raise t.error(f"config.{key}", f"unknown ({architecture} {takes})")
    entry = WeightsEntry(
        name=name,
        description=description,
        architecture=architecture,
        config=MappingProxyType(dict(config)),
        source=source,
        checksum=checksum,
        size=size,
        licence=t.text("licence"),
        training_data=t.text("training_data"),
        quality=_parse_quality(t),
    )
    t.done()
    return entry


def _parse_source(t: _Table) -> Source:
    kind = t.text("source")
    if kind == "url":
        url = t.text("url")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            raise t.error("url", "must be an http(s) URL without a fragment")
        filename = t.text("filename", required=False) or unquote(parts.path.rsplit("/", 1)[-1])
        return UrlSource(url=url, filename=_safe_path(t, "filename", filename, max_parts=1))
    if kind == "hf":
        repo_id = t.text("repo_id")
        if not _REPO_ID.fullmatch(repo_id) or ".." in repo_id:
            raise t.error("repo_id", "must be 'owner/name'")
        revision = t.text("revision")
        if not _COMMIT.fullmatch(revision):
            raise t.error("revision", "must be a full 40-hex commit id (a branch or tag can move)")
        return HubSource(repo_id=repo_id, filename=_safe_path(t, "filename", t.text("filename")), revision=revision)
    if kind == "bundled":
        path = _safe_path(t, "path", t.text("path"))
        if not path.startswith(BUNDLED_DIR + "/") or not path.endswith(".safetensors"):
            raise t.error("path", f"bundled weights are .safetensors files under {BUNDLED_DIR}/")
        return BundledSource(path=path)
    raise t.error("source", f"must be 'url', 'hf' or 'bundled', got {kind!r}")


def _safe_path(t: _Table, key: str, value: str, *, max_parts: int | None = None) -> str:
    """A relative '/'-separated path whose every part is a plain name: it cannot leave the folder it is joined to."""
    parts = value.split("/")
    if (max_parts is not None and len(parts) > max_parts) or not all(_PATH_PART.fullmatch(p) for p in parts):
        raise t.error(key, f"{value!r} is not a plain relative file name (no '..', no absolute paths)")
    return value


def _parse_quality(t: _Table) -> Quality | None:
    raw = t.take("quality", dict, required=False)
    if raw is None:
        return None
    q = _Table(raw, f"{t.where} quality")
    psnr = q.take("psnr", (int, float), required=False)
    ssim = q.take("ssim", (int, float), required=False)
    quality = Quality(
        dataset=q.text("dataset"),
        psnr=None if psnr is None else float(psnr),
        ssim=None if ssim is None else float(ssim),
        reference=q.text("reference"),
    )
    q.done()
    return quality


def _parse_defaults(raw: object, entries: dict[str, WeightsEntry], where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise WeightsError(f"{where}: expected a table of model = entry name(s)")
    defaults = {}
    for model, value in raw.items():
        names = (value,) if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) for n in names):
            raise WeightsError(f"{where} {model}: expected an entry name or a non-empty list of them")
        for name in names:
            if name not in entries:
                raise WeightsError(f"{where} {model}: no entry named {name!r}")
        architectures = {entries[n].architecture for n in names}
        if len(architectures) > 1:
            listed = ", ".join(sorted(architectures))
            raise WeightsError(f"{where} {model}: entries of different architectures ({listed})")
        defaults[model] = tuple(names)
    return defaults
