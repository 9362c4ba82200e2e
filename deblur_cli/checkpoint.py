"""Reading and writing weight files: safetensors with the config in the metadata, legacy .pth safely.

Weights are data: nothing here builds a model or runs code from a file.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from deblur_cli.errors import OutputError, WeightsError
from deblur_cli import files
from deblur_cli.wording import some

ARCH_KEY = "architecture"
CONFIG_KEY = "config"
M = TypeVar("M", bound=torch.nn.Module)


def save_checkpoint(
    state_dict: dict[str, torch.Tensor],
    path: str | Path,
    *,
    architecture: str,
    config: dict,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Write `state_dict` as safetensors; metadata holds the architecture name and its config as JSON."""
    tensors = {}
    for key, value in state_dict.items():
        value = value.detach().to("cpu")
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous()
    metadata = {ARCH_KEY: architecture, CONFIG_KEY: json.dumps(config, sort_keys=True)}
    metadata.update(extra or {})
    path = Path(path)
    try:
        data = _sorted_metadata(save(tensors, metadata=metadata))
    except Exception as e:  # safetensors raises its own error types (SafetensorError, KeyError for a dtype)
        raise OutputError(f"cannot write {path}: {e}") from None
    files.write_bytes(path, data)  # atomic, with the usual permissions (safetensors' save_file writes 0600)


def _sorted_metadata(data: bytes) -> bytes:
    """safetensors bytes with the header's metadata in sorted order. safetensors writes it from a hash map,
    in an order that changes from one process to the next: equal weights would make unequal files (and
    SHA-256s, by which deblur names weights), without this. The tensors' order and bytes are kept."""
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    if "__metadata__" in header:
        header = {"__metadata__": dict(sorted(header.pop("__metadata__").items())), **header}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the tensors' data stays 8-byte aligned, as safetensors pads it
    return len(text).to_bytes(8, "little") + text + data[8 + length :]


_UNREADABLE = "the file is damaged or not a safetensors file: download or export it again"


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors file ({} if it has none)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types across versions
        raise WeightsError(f"cannot read weights file {path}: {e}", hint=_UNREADABLE) from None


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load (state_dict, metadata) from .safetensors, or from a legacy .pth/.pt via weights_only=True.

    A legacy file in BasicSR layout ({"params": ...} or {"params_ema": ...}) is unwrapped, EMA
    preferred, and a DataParallel `module.` prefix is stripped. Metadata is {} for .pth files.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.suffix.lower() == ".safetensors":
        try:
            state = load_file(str(path))
        except Exception as e:  # safetensors raises its own error types across versions
            raise WeightsError(f"cannot read weights file {path}: {e}", hint=_UNREADABLE) from None
        return state, read_metadata(path)
    if path.suffix.lower() in (".pth", ".pt", ".ckpt", ".bin"):
        try:
            raw = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # weights_only refuses pickled code, and a pickle that is no pickle
            # (torch's own message suggests weights_only=False, the one thing never to do with a file
            # from elsewhere: it is not passed on)
            raise WeightsError(
                f"cannot load {path} as plain tensors: not a PyTorch checkpoint, or one that holds more than tensors",
                hint="only state dicts of tensors are accepted; convert other files to safetensors",
            ) from None
        except Exception:  # the archive's reader fails: a download cut short (its zip directory is at the end)
            raise WeightsError(
                f"cannot load {path}: the file is damaged or incomplete (not a whole PyTorch file)",
                hint="download or export it again",
            ) from None
        return _unwrap_legacy(raw, path), {}
    raise WeightsError(f"unknown weights format: {path.name}", hint="use .safetensors or .pth")


def _unwrap_legacy(raw: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(raw, dict):
        for key in ("params_ema", "params", "state_dict"):
            if isinstance(raw.get(key), dict):
                raw = raw[key]
                break
    if isinstance(raw, dict) and {"step", "config", "ema"} <= raw.keys():  # train.py's last.pt
        raise WeightsError(
            f"{path} is a training run's checkpoint, not a weights file",
            hint="give the .safetensors file the run exported beside it (its EMA weights)",
        )
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors")
    prefix = "module."
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in raw.items()}


def config_from_metadata(metadata: dict[str, str], architecture: str, name: str) -> dict | None:
    """The config dict stored by save_checkpoint, or None if the file has none for `architecture`;
    `name` names the file in errors."""
    if metadata.get(ARCH_KEY) != architecture or CONFIG_KEY not in metadata:
        return None
    try:
        return json.loads(metadata[CONFIG_KEY])
    except json.JSONDecodeError:
        raise WeightsError(
            f"{name}: the config in its metadata is not JSON", hint="the file was edited or damaged"
        ) from None


def config_from_json(cls: type, stored: object, where: str):
    """An instance of the config dataclass `cls` from its JSON dict, checked field by field: a file's
    metadata is data from elsewhere. Each value must have its field's type (lists become tuples), and
    every number in a model config is a positive count or scale. WeightsError naming `where` if not."""
    fields = {field.name: field for field in dataclasses.fields(cls)}
    if not isinstance(stored, dict):
        raise WeightsError(f"{where}: the {cls.__name__} in its metadata is not a JSON object")
    unknown = sorted(set(stored) - set(fields))
    if unknown:
        raise WeightsError(f"{where}: the {cls.__name__} in its metadata has unknown fields {', '.join(unknown)}")
    values = {
        name: _checked_value(value, fields[name].default, f"{where}: {cls.__name__}.{name}")
        for name, value in stored.items()
    }
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{where}: unusable {cls.__name__} in its metadata: {e}") from None


def _checked_value(value: object, default: object, where: str) -> object:
    """`value` if it fits a field whose default is `default`, lists as tuples; WeightsError otherwise."""

    def positive_int(v: object) -> bool:
        return type(v) is int and v >= 1

    if isinstance(default, str):
        fits = isinstance(value, str)
    elif type(default) is int:
        fits = positive_int(value)
    elif isinstance(default, float):
        fits = type(value) in (int, float) and _finite_in_float32(value) and value > 0
        value = float(value) if fits else value
    elif isinstance(default, tuple):
        fits = isinstance(value, (list, tuple)) and len(value) > 0 and all(positive_int(v) for v in value)
        value = tuple(value) if fits else value
    else:  # a field of a kind configs do not have yet
        fits = False
    if not fits:
        raise WeightsError(f"{where} = {json.dumps(value)} in its metadata is not a usable {type(default).__name__}")
    return value


_FLOAT32_MAX = torch.finfo(torch.float32).max


def _finite_in_float32(value: int | float) -> bool:
    """Whether `value` stays finite as a float32, the dtype the models compute in: 1e200 is finite in Python and
    infinite there (a diffusion scale of 1e200 made every frame black, and the run succeeded). NaN compares false;
    an int is compared exactly, never converted (10**400 would overflow a float)."""
    return abs(value) <= _FLOAT32_MAX


def check_architecture(metadata: dict[str, str], architecture: str, name: str, what: str) -> None:
    """WeightsError if a file's metadata names another architecture than `architecture` (`what`, in
    words, for the message); files without one (official .pth files) pass."""
    from deblur_cli.model_specs import MODELS

    found = metadata.get(ARCH_KEY, architecture)
    if found != architecture:
        models = [model for model, spec in MODELS.items() if spec.architecture == found]
        known = sorted({spec.architecture for spec in MODELS.values()})
        if models:
            hint = f"give it to a {found} model: --model {' or --model '.join(models)} (see `deblur models`)"
        else:
            hint = f"deblur runs {' and '.join(known)} weights only (see `deblur models`)"
        raise WeightsError(f"{name} holds {found} weights, not {what}", hint=hint)


def non_finite(state: dict[str, torch.Tensor]) -> str | None:
    """The name of the first tensor of `state` that holds NaN or an infinity; None where all are finite."""
    return next((key for key, tensor in state.items() if tensor.is_floating_point() and not tensor.isfinite().all()), None)


def build_to_fit(make: Callable[[], M], state: dict[str, torch.Tensor], *, name: str, described: str, hint: str) -> M:
    """`make()`, a model in eval mode holding `state` (loaded strictly), after `check_fit`: a config read
    from a file's metadata cannot make deblur allocate a model the file does not fill. WeightsError naming
    `name` (the file) and `described` (the model) otherwise. The caller's random numbers are left as they were: the
    layers' random initialisation, which `state` replaces, draws from a copy of the generator."""
    check_fit(make, state, name=name, described=described, hint=hint)
    with torch.random.fork_rng(devices=[]):
        model = make()
    _load_strictly(model, state, name=name, described=described, hint=hint)
    return model.eval()


def load_fitting(model: M, state: dict[str, torch.Tensor], *, name: str, described: str, hint: str | None = None) -> M:
    """`model`, a model already built (a training run's), holding `state` (loaded strictly), after the checks
    `check_fit` makes: WeightsError naming `name` (the file) and `described` (the model) where `state` does not fit
    it or is not finite, rather than PyTorch's list of every tensor that does not fit, or a training run whose
    first step "diverges" and a validation that scores NaN. `hint` (default: give weights of `described`) follows
    a mismatch."""
    hint = hint or f"give weights of {described}"
    _check_state(model.state_dict(), state, name=name, described=described, hint=hint)
    _load_strictly(model, state, name=name, described=described, hint=hint)  # copy_ casts float16 to the model's dtype
    return model


def _load_strictly(model: torch.nn.Module, state: dict[str, torch.Tensor], *, name: str, described: str,
                   hint: str) -> None:  # fmt: skip
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # a module's own check of what it loads (HaarWavelet's fixed filter bank)
        reasons = [line.strip() for line in str(e).splitlines()[1:] if line.strip()] or [str(e)]
        raise WeightsError(f"{name} does not fit {described}: {reasons[0]}", hint=hint) from None


def check_fit(make: Callable[[], torch.nn.Module], state: dict[str, torch.Tensor], *, name: str, described: str,
              hint: str) -> None:  # fmt: skip
    """WeightsError unless every tensor of `state` fits the model `make()` makes, in keys, shapes and kinds of
    number (`not_floating`), and is finite: the model is made on the meta device, where its tensors take no
    memory."""
    try:
        with torch.device("meta"):
            skeleton = make()
    except (RuntimeError, ValueError, TypeError, ZeroDivisionError) as e:
        raise WeightsError(f"{name}: cannot build {described}: {e}") from None
    _check_state(skeleton.state_dict(), state, name=name, described=described, hint=hint)


def _check_state(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], *, name: str, described: str,
                 hint: str) -> None:  # fmt: skip
    """The checks of `check_fit` and `load_fitting`: `state` against a model's own `expected` tensors."""
    if (problem := state_mismatch(expected, state)) is not None:
        raise WeightsError(f"{name} does not fit {described}: {problem}", hint=hint)
    if (problem := not_floating(expected, state)) is not None:
        raise WeightsError(f"{name} does not fit {described}: {problem}", hint=NOT_FLOATING_HINT)
    if (broken := non_finite(state)) is not None:  # they would make every frame black (NaN is written as 0)
        raise WeightsError(
            f"{name} holds NaN or infinite values ({broken})",
            hint="the file is damaged, or its training diverged: use another file, or train again",
        )


NOT_FLOATING_HINT = "a quantised (integer) export does not run: give float32, float16 or bfloat16 weights"


def state_mismatch(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str | None:
    """The first way `state` differs from `expected` in keys or shapes (a missing key, an extra one, a
    shape), or None when every tensor fits. `expected` may live on the meta device."""
    missing = [key for key in expected if key not in state]
    if missing:
        return f"missing {some(missing, 1)}"
    extra = [key for key in state if key not in expected]
    if extra:
        return f"unexpected {some(extra, 1)}"
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            return f"{key} has shape {tuple(state[key].shape)}, the model's is {tuple(tensor.shape)}"
    return None


def not_floating(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str | None:
    """The first tensor of `state` that holds integers, bool or complex numbers where its counterpart in `expected`
    (same keys: `state_mismatch` first) is floating point, said as a problem; None where there is none. Any
    floating-point dtype fits (a float16 file loads into float32); the others do not: loading casts them silently,
    and integer weights (a quantised export) truncated to whole numbers made a model that did almost nothing."""
    for key, tensor in expected.items():
        if tensor.is_floating_point() and not state[key].is_floating_point():
            return f"{key} is {str(state[key].dtype).removeprefix('torch.')}, the model's is floating point"
    return None
