"""A training run's state file (`last.pt`): written whole or not at all, read back with every setting
checked, and the settings a resumed run takes from the command line or keeps from the run."""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from deblur_cli.checkpoint import state_mismatch
from deblur_cli.errors import InputError, UsageError
from deblur_cli.files import output_error, written
from deblur_cli.model_specs import MODELS
from deblur_cli.train_config import TrainConfig

CHECKPOINT = "last.pt"  # full training state, for --resume
RESUME_HINT = "--resume continues from the last checkpoint"  # what a run stopped by a failed write may do


def save_state(path: Path, step: int, config: TrainConfig, model, ema, optimizer) -> None:
    state = {
        "step": step,
        "config": asdict(config),
        "model": model.state_dict(),
        "ema": ema.state_dict(),
        "optimizer": optimizer.state_dict(),
    }
    # written aside, then renamed: the last checkpoint stays whole, a second Ctrl-C or a full disk leaves no part
    with written(path, hint=RESUME_HINT) as temp:
        try:
            torch.save(state, temp)
        except RuntimeError:  # how torch's zip writer reports a failed write, in words of its own
            raise OSError("the write failed") from None


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Within the block, a failed write (a full disk, a folder made read-only) is an OutputError naming
    `path`, not an OSError without a file name."""
    try:
        yield
    except OSError as e:
        raise output_error(path, e, hint=RESUME_HINT) from None


def read_state(path: Path, needed: tuple[str, ...] = ("step", "config", "model", "ema", "optimizer")) -> dict:
    """The training state saved at `path` (read once per resume: config, weights, optimiser, step), which
    must hold `needed` (the EMA and the config alone: an evaluation); InputError for a file that is not such a
    state (cut short, another file)."""
    if not path.is_file():
        raise UsageError(f"nothing to resume: {path} does not exist", hint="drop --resume to start a new run")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch's message suggests weights_only=False, never to be done with a file: not passed on
        hint = _instead_of(path, needed)
        raise InputError(f"cannot read {path}: it is not a complete training checkpoint", hint=hint) from None
    missing = [key for key in needed if not isinstance(state, dict) or key not in state]
    if missing:
        hint = _instead_of(path, needed)
        raise InputError(f"{path} is not a training checkpoint of deblur (no {', '.join(missing)})", hint=hint)
    _check_stored_config(state["config"], path)
    step = state.get("step", 0)
    if type(step) is not int or step < 0:  # bool is an int too: compared by type
        raise _not_resumable(path, f"its step is {step!r}")
    return state


def _instead_of(checkpoint: Path, needed: tuple[str, ...]) -> str | None:
    """The hint for a checkpoint that cannot be read: the EMA weights the run exported beside it, under its
    model's name (of a Task of one's own: the newest weights file there, which each checkpoint rewrites), to
    score (`needed` without the optimiser: an evaluation) or to start a new run from."""
    found = sorted(checkpoint.parent.glob("*.safetensors"), key=lambda f: (f.stem not in MODELS, -f.stat().st_mtime))
    if "optimizer" not in needed:
        return f"evaluate the weights the run exported: --weights {shlex.quote(str(found[0]))}" if found else None
    exported = f", from the weights the run exported: --init {shlex.quote(str(found[0]))}" if found else ""
    return "start a new run with another --out" + exported


# Settings that runs begun before them do not store: such a run trained as their default says, or BEFORE_ADDED.
ADDED_LATER = (
    "gpu_synthesis", "echo", "precision", "init", "prior", "prior_sha256", "threads", "handheld", "clean_share",
    "stabilized", "decay_tables",
)  # fmt: skip
BEFORE_ADDED = {"decay_tables": True}  # where runs begun before them did other than the default (train._decay_groups)
STORED_BEFORE = {"amp": False}  # settings of older versions that a resume translates (amp: precision)
AT_LEAST_ZERO = ("warmup", "seed", "workers")  # the other whole numbers of a run are at least 1


def _check_stored_config(stored: object, path: Path) -> None:
    """InputError unless `stored`, the config in the checkpoint `path`, is one that some version of deblur
    wrote and this one can continue: every setting it knows and none other, each of its type, rather than
    a TypeError or a wrong run further on."""
    if not isinstance(stored, dict):
        raise _not_resumable(path, f"its config is {type(stored).__name__!r}, not a table of settings")
    defaults = {**asdict(TrainConfig()), **STORED_BEFORE}
    unknown = sorted(str(name) for name in stored if name not in defaults)
    if unknown:
        unknown_here = f"settings unknown here: {', '.join(unknown)}"
        raise _not_resumable(path, f"it was written by another version of deblur ({unknown_here})")
    missing = [name for name in asdict(TrainConfig()) if name not in stored and name not in ADDED_LATER]
    if missing:
        raise _not_resumable(path, f"its config has no {', '.join(missing)}")
    for name, value in stored.items():
        default = defaults[name]
        if name == "threads":  # a count, or None: torch's default
            fits = value is None or (type(value) is int and value >= 1)
        elif default is None:  # a file or a cache, or none
            fits = value is None or isinstance(value, str)
        elif isinstance(default, bool):
            fits = isinstance(value, bool)
        elif isinstance(default, int):
            fits = type(value) is int and value >= (0 if name in AT_LEAST_ZERO else 1)
        elif isinstance(default, float):
            fits = type(value) in (int, float) and math.isfinite(value)
        elif isinstance(default, tuple):  # val_size, (W, H)
            fits = isinstance(value, (list, tuple)) and len(value) == 2 and all(type(v) is int and v > 0 for v in value)
        else:
            fits = isinstance(value, type(default))
        if not fits:
            raise _not_resumable(path, f"its {name} is {value!r}")


def _not_resumable(path: Path, what: str) -> InputError:
    return InputError(
        f"{path} is not a run this version of deblur can resume: {what}",
        hint="continue it with the version that wrote it, or start a new run with another --out",
    )


# What a resumed run takes from the command line: its length and learning-rate schedule, the bookkeeping,
# where the photos are, the EMA (which does not feed back into training), and the CPU threads.
RESUMED_FREELY = (
    "steps", "lr", "warmup", "val_every", "val_clips", "val_size", "save_every", "workers", "gpu_synthesis",
    "sources", "ema", "precision", "threads",
)  # fmt: skip


# What defines the run's model and data stream: a resume that changed one would not continue the run.
RESUMED_FIXED = (
    "model", "crop", "frames", "batch", "seed", "echo", "prior", "init", "handheld", "clean_share", "stabilized"
)  # fmt: skip


def resumed_config(stored: dict, config: TrainConfig, path: Path, given: frozenset[str] | None = None) -> TrainConfig:
    """The config a resumed run trains with: the `stored` one, with those of RESUMED_FREELY in `given`
    (all, for None) taken from `config`. UsageError if one of RESUMED_FIXED in `given` differs."""
    stored = {**asdict(TrainConfig()), **BEFORE_ADDED, **stored}  # a field newer than the run: what the run did
    if "amp" in stored:  # runs from before `precision`: amp meant bf16/fp16 on CUDA only, i.e. "auto"
        stored["precision"] = "auto" if stored.pop("amp") else "fp32"
    stored["val_size"] = tuple(stored["val_size"])
    moved = (given is None or "prior" in given) and _moved_prior(stored, config.prior)
    changed = [
        name for name in RESUMED_FIXED
        if (given is None or name in given) and not _same_setting(name, stored[name], getattr(config, name))
        and not (name == "prior" and moved)
    ]  # fmt: skip
    if changed:
        options = ", ".join(as_option(name, stored[name]) for name in changed)
        raise UsageError(
            f"{path} is a run with {options}: a resume cannot change {'it' if len(changed) == 1 else 'them'}",
            hint=f"drop {', '.join(as_option(name) for name in changed)} to continue it, or give another --out",
        )
    free = [k for k in RESUMED_FREELY if given is None or k in given] + (["prior"] if moved else [])
    return TrainConfig(**{**stored, **{k: getattr(config, k) for k in free}})


def _moved_prior(stored: dict, prior: str | None) -> bool:
    """Whether --prior `prior` is a file holding what the run's own prior held (its SHA-256, as the run
    recorded it), at another path: the run's file moved with a project, or copied to another machine."""
    if prior is None or not stored.get("prior_sha256") or not Path(prior).is_file():
        return False
    from deblur_cli.weights.verify import file_digest

    return file_digest(Path(prior), "sha256") == stored["prior_sha256"]


def resume_changes(before: TrainConfig, after: TrainConfig) -> list[str]:
    """What a resume changes of the run's settings (RESUMED_FREELY), as the options say them: "--lr 0.0002,
    now 0.0001", "--val-size 32x32, now 48x32", "--cpu-synthesis, now --gpu-synthesis"."""
    changes = []
    for name in RESUMED_FREELY:
        old, new = getattr(before, name), getattr(after, name)
        if _same_setting(name, old, new):
            continue
        if name == "gpu_synthesis":
            changes.append(f"--{'gpu' if old else 'cpu'}-synthesis, now --{'gpu' if new else 'cpu'}-synthesis")
        else:
            changes.append(f"{as_option(name)} {_as_given(old)}, now {_as_given(new)}")
    return changes


def _as_given(value: object) -> str:
    """A setting's value as its option takes it: a size as WxH; none given as "unset"."""
    if value is None:
        return "unset"
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return f"{value[0]}x{value[1]}"
    return str(value)


def _same_setting(name: str, stored: object, given: object) -> bool:
    if name in ("init", "prior") and stored is not None and given is not None:  # files, named as the user chose
        return stored == given or Path(str(stored)).resolve() == Path(str(given)).resolve()
    return stored == given


def as_option(name: str, value: object = "") -> str:
    """`name`, a field of TrainConfig, as its command-line option with `value` ("no --prior" for None)."""
    option = "--" + name.replace("_", "-")
    return f"no {option}" if value is None else f"{option} {value}".rstrip()


def load_state(state: dict, model, ema, optimizer, path: Path) -> int:
    """Load a saved training state, read from `path`, into the given objects; returns its step."""
    _load_weights(model, state["model"], "model", path)
    _load_weights(ema, state["ema"], "EMA", path)
    _check_optimizer_groups(state["optimizer"], optimizer, path)
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"])


def _load_weights(module: torch.nn.Module, stored: object, part: str, path: Path) -> None:
    """`stored`, the `part` weights ("model", "EMA") of the checkpoint `path`, loaded into `module`; InputError
    where they do not fit it, which torch's load_state_dict raised as a traceback: a weight added, removed or
    reshaped in this version of deblur's model since the run began."""
    expected = module.state_dict()
    fits = isinstance(stored, dict) and all(isinstance(value, torch.Tensor) for value in stored.values())
    problem = state_mismatch(expected, stored) if fits else "they are not a table of tensors"
    if problem is None:
        try:
            module.load_state_dict(stored, strict=True)
            return
        except RuntimeError as e:  # a module's own check of what it loads (HaarWavelet's fixed filter bank)
            problem = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))
    raise InputError(
        f"{path} cannot be resumed by this version of deblur: its {part} weights do not fit this version's model "
        f"({problem}; the model has changed since the run began)",
        hint="resume it with the version of deblur that began it, or start a new run with another --out",
    )


def _check_optimizer_groups(stored: object, optimizer, path: Path) -> None:
    """InputError unless `stored`, the optimiser state of the checkpoint `path`, holds parameter groups of the sizes
    of `optimizer`'s, which torch's load_state_dict needs (its ValueError came out as a traceback). They differ where
    this version of deblur groups the model's weights for weight decay otherwise than the one that began the run: a
    table a module names in its `no_weight_decay` since (train._decay_groups)."""
    try:
        stored_sizes = [len(group["params"]) for group in stored["param_groups"]]  # type: ignore[index]
    except (KeyError, TypeError):
        stored_sizes = None
    sizes = [len(group["params"]) for group in optimizer.param_groups]
    if stored_sizes == sizes:
        return
    held = "no parameter groups" if stored_sizes is None else f"parameter groups of {_counts(stored_sizes)} tensors"
    raise InputError(
        f"{path} cannot be resumed by this version of deblur: its optimiser state holds {held}, where this version "
        f"trains the model with groups of {_counts(sizes)} (it gives weight decay to other weights than the version "
        "that began the run)",
        hint="resume it with the version of deblur that began it, or " + _instead_of(path, ("optimizer",)),
    )


def _counts(sizes: list[int]) -> str:
    """Group sizes as a sentence says them: "2 and 1", "3, 2 and 1"."""
    words = [str(size) for size in sizes]
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)
