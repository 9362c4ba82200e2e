"""The training loop: synthetic clips on the fly, AdamW with warm-up and cosine decay, gradient clipping,
EMA weights, mixed precision (bf16 on GPUs and on CPUs with bf16 instructions), resumable checkpoints, held-out validation, a CSV log, and DDP when
launched by torchrun (WORLD_SIZE set).

A model plugs in through a `Task` (`train_tasks.py`: how to build it, its loss, how it restores a clip for
validation, how its weights are exported for inference); `train_state.py` writes and reads back the run's
state for --resume; `train_evaluate.py` scores weights without training (`--evaluate`).
"""

from __future__ import annotations

import copy
import csv
import math
import os
import shlex
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from deblur_cli import cpu_share
from deblur_cli.checkpoint import load_fitting, read_checkpoint
from deblur_cli.data.dataset import (
    FixedClips,
    TrainClips,
    sources_note,
    split_photos,
    split_videos,
)
from deblur_cli.data.workers import worker_context
from deblur_cli.devices import DTYPE_NAMES, precision_warning, resolve_dtype
from deblur_cli.errors import DeblurError, InputError, ModelError, UnknownModelError, UsageError
from deblur_cli.files import written
from deblur_cli.train_config import PRECISIONS, TrainConfig
from deblur_cli.train_state import (
    CHECKPOINT,
    RESUME_HINT,
    as_option,
    load_state,
    read_state,
    resume_changes,
    resumed_config,
    save_state,
    writing,
)
from deblur_cli.train_tasks import (
    DIFFUSION_TASKS,
    Task,
    check_frames,
    get_task,
    prior_file,
    procedural_note,
    trained_model_of,
    validate,
    weights_file,
)

LOG = "log.csv"


@dataclass(frozen=True)
class Progress:
    """What the loop reports to its callback after a step (and after each validation)."""

    step: int
    steps: int
    loss: float
    lr: float
    seconds_per_step: float
    validation: dict[str, float] | None = None  # psnr_in, psnr, ssim_in, ssim when just validated


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class TrainResult:
    """What a run leaves: its exported weights, its last validation figures ({} if none yet), and
    whether it reached the step it was asked for (--steps, or --until) rather than being stopped, and
    whether this is the process that speaks for the run (rank 0 under torchrun; the others say nothing)."""

    weights: Path
    validation: dict[str, float]
    reached: bool = True
    main: bool = True


def _ignore_stop_signals(worker: int) -> None:
    """In each loader worker: Ctrl-C, SIGTERM and SIGHUP sent to the whole process group (`timeout`, a
    scheduler, a terminal) are the main process's to handle. It stops after the step and saves, then shuts
    the workers down; a worker killed by them would instead fail the step with torch's RuntimeError."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up to `lr`, then cosine decay to `min_lr` at `steps`."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min((step - config.warmup) / max(config.steps - config.warmup, 1), 1.0)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress))


class _Distributed:
    """The process group when torchrun launched us (WORLD_SIZE set), else a single process."""

    def __init__(self, device: torch.device):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        # torchrun sets WORLD_SIZE even for one process; the group is then real, only smaller
        self.active = "WORLD_SIZE" in os.environ and not dist.is_initialized()
        if self.active:
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        self.main = self.rank == 0

    def any(self, flag: bool, device: torch.device) -> bool:
        """Whether `flag` is set in any process: every rank takes the same branch (a stop asked of one)."""
        if not self.active:
            return flag
        value = torch.tensor([int(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def finish(self) -> None:
        """Wait for every rank at the end of a run that ended well, before the group closes: rank 0 validates and
        writes the last checkpoint after the others are done. Rank 0 once aborted in gloo's teardown after its
        run (`terminate called without an active exception`, one CI run of two, not reproduced since), likely as
        the other rank had closed the group and exited meanwhile. Not on the way out of an error, where another
        rank may never come."""
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active:
            dist.destroy_process_group()


def _device() -> torch.device:
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    until: int | None = None,
    callback: ProgressCallback | None = None,
    task: Task | None = None,
    should_stop: Callable[[], bool] | None = None,
    given: frozenset[str] | None = None,
    warn: Callable[[str], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train `config.model` into `out_dir`; returns the weights file and the last validation figures.

    out_dir receives `last.pt` (full state, every `save_every` steps and at the end), `log.csv`, and
    `<model>.safetensors` (EMA weights in float16, at every checkpoint). With `resume`, training
    continues from `last.pt` with the stored config's schedule (`steps` may be raised). `until` stops
    early, after that many steps in all, with state saved: a long run split into resumable pieces.
    `should_stop`, asked after every step, stops it likewise when it says so (the command's answer to
    Ctrl-C or SIGTERM), so that a stopped run loses no finished step. `task` replaces the TASKS entry
    (tests use a tiny stand-in model). On resuming, `given` names the fields of `config` the user set
    (the command line's; None: all of them): those of RESUMED_FREELY are taken, those of RESUMED_FIXED
    must equal the run's (UsageError otherwise), and every other field keeps the run's value. Without
    `resume`, a folder that holds a run, or weights under the name this run exports to, is refused, not
    overwritten; a `log.csv` found there is replaced. `config.threads`, where set, is torch's thread count
    from then on (torch.set_num_threads, for the whole process); unset, on a CPU, the count follows the cores
    other programs leave free (cpu_share.ThreadFit), between 1 and torch's count as the run starts, and `note`
    says each change.
    """
    out_dir = Path(out_dir)
    config = _absolute_paths(config)
    for name in ("lr", "ema"):  # the command line's float options take "inf" and "nan"
        if not math.isfinite(getattr(config, name)):
            raise UsageError(f"{as_option(name, getattr(config, name))} is not a number a run can train with")
    if config.handheld + config.stabilized > 1:  # shares of the same moving camera paths
        raise UsageError(
            f"--handheld {config.handheld} and --stabilized {config.stabilized} add up to more than 1: "
            "they are shares of the same moving camera paths",
            hint="lower one of them",
        )
    if out_dir.exists() and not out_dir.is_dir():  # mkdir's "File exists" said nothing of what to do
        raise UsageError(f"--out {out_dir} is a file, not a folder", hint="--out names the run's folder (made if missing)")
    in_the_way = next((p for p in out_dir.parents if p.exists() and not p.is_dir()), None)
    if in_the_way is not None:  # mkdir's "Not a directory", as a failure of the machine, exit 1
        raise UsageError(f"--out {out_dir}: {in_the_way} is a file, not a folder", hint="give --out a path of folders")
    if not resume:
        _check_new_run(out_dir, config)
    made = not out_dir.exists()
    device = _device()
    ddp = _Distributed(device)
    try:
        state = read_state(out_dir / CHECKPOINT) if resume else None
        # a run records what "auto" picks here, and a resume that does not give --precision keeps it
        if state is None or given is None or "precision" in given:
            precision = chosen_precision(config.precision, device)
            cpu_bf16 = device.type == "cpu" and config.precision == "auto" and precision == "bf16"
            if state is None and cpu_bf16 and note and ddp.main:
                note("this CPU runs bf16 natively: the run trains in bf16 autocast (--precision fp32: in float32)")
            config = replace(config, precision=precision)
        if state is not None:  # the run's own config decides its task (a residual model keeps its prior)
            before = resumed_config(state["config"], config, out_dir / CHECKPOINT, frozenset())  # as it was
            config = resumed_config(state["config"], config, out_dir / CHECKPOINT, given)
            if (changes := resume_changes(before, config)) and warn and ddp.main:  # said once, not found in the log
                chosen = ("sources", "val_size", "val_clips")  # what the validation clips are drawn from, and how
                clips = any(getattr(before, k) != getattr(config, k) for k in chosen)
                clips = "; the validation clips change with them" if clips else ""
                warn(f"this resume changes the run's settings: {'; '.join(changes)}{clips}")
        if state is not None and config.prior_sha256 and _gone(config.prior):  # before --prior's own error
            raise InputError(
                f"the run in {out_dir} was trained with --prior {config.prior}, which is no longer there",
                hint="give the same file at its new place with --prior (it is known by its SHA-256)",
            )
        if config.threads is not None:  # here, not in the command: a resume that does not give it keeps the run's
            torch.set_num_threads(config.threads)
        try:
            task = task or get_task(config.model, config.prior)
        except UnknownModelError as e:
            if state is None:  # --model named it
                raise
            raise ModelError(  # the run's own model (a Task of one's own, a newer release's): the command is right
                f"the run in {out_dir} is of model {config.model!r}, which this version of deblur cannot train",
                hint=e.hint,
            ) from None
        if config.prior is not None:
            config = _same_prior(config, out_dir / CHECKPOINT if state is not None else None)
        validation, reached = _train(
            config, out_dir, state, until, callback, task, device, ddp, should_stop, warn, note
        )
        ddp.finish()
        return TrainResult(out_dir / f"{config.model}.safetensors", validation, reached, ddp.main)
    except BaseException as e:  # a run that stops before writing anything leaves no empty folder it made
        if made and ddp.main and isinstance(e, KeyboardInterrupt) and not (out_dir / CHECKPOINT).exists():
            (out_dir / LOG).unlink(missing_ok=True)  # stopped at once before its first checkpoint: nothing saved
        if made and ddp.main and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise
    finally:
        ddp.close()


def _absolute_paths(config: TrainConfig) -> TrainConfig:
    """`config` with its files and cache as absolute paths: the run stores them, and a resume from
    another folder must find the same ones (an --init or --prior that names no file is a model name, kept)."""
    sources, init, prior = config.sources, config.init, config.prior
    return replace(
        config,
        sources=None if sources is None else str(Path(sources).absolute()),
        init=str(Path(init).absolute()) if init is not None and Path(init).is_file() else init,
        prior=str(Path(prior).absolute()) if prior is not None and Path(prior).is_file() else prior,
    )


def _gone(prior: str | None) -> bool:
    """Whether --prior `prior` named a file (an absolute path, as runs store them) that is not there now."""
    return prior is not None and Path(prior).is_absolute() and not Path(prior).exists()


def _same_prior(config: TrainConfig, checkpoint: Path | None) -> TrainConfig:
    """`config` with the SHA-256 of its prior's file; on resuming (`checkpoint` given), InputError if the
    file is not the one the run began with: the model would go on learning to correct another DSTNet."""
    from deblur_cli.weights.verify import file_digest

    digest = file_digest(Path(prior_file(config.prior)), "sha256")
    if checkpoint is not None and config.prior_sha256 not in (None, digest):  # None: a run from before the check
        raise InputError(
            f"--prior {config.prior} has changed since the run in {checkpoint.parent} began (its SHA-256 differs)",
            hint="put back the file the run began with, or start a new run with another --out",
        )
    return replace(config, prior_sha256=digest)


def _check_new_run(out_dir: Path, config: TrainConfig) -> None:
    """Refuse to start a run where it would overwrite what is there: another run (`last.pt`), or weights
    under the name this run exports to, --init's own file above all (fine-tuning in place would lose it)."""
    if (out_dir / CHECKPOINT).exists():
        raise UsageError(
            f"{out_dir} holds a training run ({CHECKPOINT})",
            hint="--resume continues it; another --out starts a new run beside it",
        )
    weights = out_dir / f"{config.model}.safetensors"
    if not weights.exists():
        return
    if config.init is not None and Path(config.init).is_file() and os.path.samefile(config.init, weights):
        raise UsageError(
            f"--init {config.init} is the file this run would write its weights to",
            hint="copy it out of the run folder and start from the copy, or give another --out",
        )
    raise UsageError(f"{weights} exists and a new run would replace it", hint="give another --out, or move the file away")


def _init_weights(path: str, config: TrainConfig) -> dict[str, torch.Tensor]:
    """The tensors of --init `path` (a file, or a model name: its weights) that initialise the run's model.
    A residual WTSA file also holds the DSTNet it corrects (`prior.` tensors): the run's own --prior is
    that, so they are left out. Weights of a residual model start a residual run only, and weights of a
    direct one a direct run only: the same tensors, conditioned on another input, would fit without error
    and train from a wrong start."""
    from deblur_cli.wtsa_weights import PRIOR_PREFIX

    file = weights_file(path, "--init", fits=config.model)
    tensors, metadata = read_checkpoint(file)
    residual = any(key.startswith(PRIOR_PREFIX) for key in tensors)
    if residual and config.prior is None:
        if config.model in DIFFUSION_TASKS:
            hint = f"add --prior {shlex.quote(path)} (the DSTNet stored in it), or start from weights without one"
        elif (variant := metadata.get("variant")) in DIFFUSION_TASKS:  # -m left at its default, most likely
            hint = f"it is a {variant} model: -m {variant} with the --prior it was trained with (e.g. dstnet-s)"
        else:
            hint = f"start from weights of {config.model}"
        raise InputError(
            f"--init {path} holds a residual model (one that corrects a DSTNet prior, stored with it): "
            "this run trains without --prior",
            hint=hint,
        )
    if config.prior is not None and not residual:
        raise InputError(
            f"--init {path} holds no residual model (it has no DSTNet prior): this run, with --prior, trains one",
            hint="start from the weights of a run trained with --prior, or drop --prior",
        )
    held = trained_model_of(file, metadata)
    if held is not None and held != config.model:  # said before PyTorch's list of the tensors that do not fit
        raise InputError(
            f"--init {path} holds {held} weights, not {config.model}'s",
            hint=f"-m {held} trains that model; or start from {config.model}'s weights (`--init {config.model}`)",
        )
    return {key: value for key, value in tensors.items() if not key.startswith(PRIOR_PREFIX)}


def _check_run(config: TrainConfig, task: Task, device: torch.device) -> None:
    """The option combinations `task` cannot train with on `device` (UsageError), before anything is built."""
    check_frames(task, config.frames, config.model)
    if config.crop % task.multiple:
        below = config.crop // task.multiple * task.multiple
        nearest = [size for size in (below, below + task.multiple) if size > 0]
        raise UsageError(
            f"--crop must be a multiple of {task.multiple} for {config.model}",
            hint=f"--crop {' or '.join(str(size) for size in nearest)}",
        )
    if config.gpu_synthesis and (device.type == "cpu" or config.workers):
        raise UsageError(
            "--gpu-synthesis renders clips on the training GPU, in the training process"
            + (": there is no GPU here" if device.type == "cpu" else ", so it takes no --workers"),
            hint="drop --gpu-synthesis" if device.type == "cpu" else "drop --workers",
        )


def _build(
    config: TrainConfig, task: Task, device: torch.device, start: dict[str, torch.Tensor] | None
) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    """(the model, seeded by config.seed and loaded with `start`, the --init weights; its EMA copy; AdamW, with
    weight decay as `_decay_groups` says)."""
    torch.manual_seed(config.seed)
    model = task.build().to(device)
    if start is not None:
        load_fitting(model, start, name=f"--init {config.init}", described=config.model)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(_decay_groups(model, config), lr=config.lr, betas=(0.9, 0.99))
    return model, ema, optimizer


def _decay_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """AdamW's parameter groups: weight decay on the weights of two or more dimensions, none on biases and norms,
    nor on the tables a module names, among its own parameters, in its `no_weight_decay` (positions: decay would
    pull what they encode back to zero, which Swin and ViT avoid too). Runs begun before that exemption
    (`config.decay_tables`) keep decaying the tables: a resume must rebuild the groups the run's optimiser state
    was saved with."""
    exempt = set()
    if not config.decay_tables:
        exempt = {id(getattr(m, name)) for m in model.modules() for name in getattr(m, "no_weight_decay", ())}
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim >= 2 and id(p) not in exempt else no_decay).append(p)
    return [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _data(
    config: TrainConfig,
    *,
    step: int,
    resumed: bool,
    ddp: _Distributed,
    device: torch.device,
    warn: Callable[[str], None] | None,
) -> tuple[Iterator[list[torch.Tensor]], FixedClips]:
    """(this process's training batches from `step` on, the validation clips), with the notes on the data found."""
    train_photos, val_photos = split_photos(config.sources)
    train_videos, _ = split_videos(config.sources)
    sources_said = sources_note(config.sources, train_photos, (config.crop, config.crop), resumed=resumed)
    if sources_said and warn and ddp.main:
        warn(sources_said)
    stream = TrainClips(
        train_photos, frames=config.frames, crop=config.crop, seed=config.seed, batch=config.batch,
        start=(step // config.echo) * config.batch, rank=ddp.rank, world_size=ddp.world_size, videos=train_videos,
        handheld_share=config.handheld, stabilized_share=config.stabilized, clean_share=config.clean_share,
        device=device if config.gpu_synthesis else "cpu",
    )  # fmt: skip
    on_cpu = not config.gpu_synthesis
    context = worker_context(TrainClips.__module__, __name__) if config.workers else None  # not fork: see workers.py
    loader = iter(DataLoader(stream, batch_size=config.batch, num_workers=config.workers,
                             pin_memory=on_cpu and device.type == "cuda", worker_init_fn=_ignore_stop_signals,
                             multiprocessing_context=context))  # fmt: skip
    # the default stream whatever --handheld, --stabilized and --clean-share: runs trained on other streams validate
    # on one set
    val_set = FixedClips(val_photos, count=config.val_clips, frames=config.frames, size=config.val_size, seed=1)
    if val_set.procedural and warn and ddp.main:
        warn(procedural_note(config.sources, config.val_size))
    return loader, val_set


def _train(
    config: TrainConfig,
    out_dir: Path,
    state: dict | None,
    until: int | None,
    callback: ProgressCallback | None,
    task: Task,
    device: torch.device,
    ddp: _Distributed,
    should_stop: Callable[[], bool] | None = None,
    warn: Callable[[str], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> tuple[dict[str, float], bool]:
    """(the last validation figures, whether the run reached its last step rather than being stopped)."""
    _check_run(config, task, device)
    half = autocast_dtype(config.precision, device)
    if half is not None and warn and ddp.main and (slow := precision_warning(half, device)):
        warn(slow)  # --precision bf16 on a CPU that emulates it: many times slower, and silent
    # before the folder is made
    start = _init_weights(config.init, config) if config.init is not None and state is None else None
    out_dir.mkdir(parents=True, exist_ok=True)
    model, ema, optimizer = _build(config, task, device, start)
    step = 0
    ckpt_path = out_dir / CHECKPOINT
    saved: list[int] = []  # the step of the last checkpoint, once there is one

    def checkpoint() -> None:  # the training state to resume from, and the EMA weights as users load them
        save_state(ckpt_path, step, config, model, ema, optimizer)
        saved[:] = [step]
        with writing(out_dir / f"{config.model}.safetensors"):
            task.export(ema, out_dir / f"{config.model}.safetensors")

    if state is not None:
        step = load_state(state, model, ema, optimizer, ckpt_path)
        saved[:] = [step]
        _truncate_log(out_dir / LOG, step)
    elif ddp.main:  # a log left in the folder belongs to no run of it: this one's starts at step 1
        (out_dir / LOG).unlink(missing_ok=True)
    stop = config.steps if until is None else min(until, config.steps)
    if step >= stop:  # a resume that asks for no more steps: said, rather than a silent success
        if warn and ddp.main:
            by_until = until is not None and until < config.steps
            asked = f"--until {until}" if by_until else f"--steps {config.steps}"
            more = "a higher --until, or none, goes on" if by_until else "a higher --steps lengthens it"
            warn(f"the run in {out_dir} is already at step {step} ({asked}): nothing to train; {more}")
        return {}, True
    if ddp.active:
        # The depthwise 3x3 weights' gradients come out with another stride on their size-1 dimension than the
        # weights have, which DDP reports from every process: a copy of a few kilobytes a step, and nothing wrong.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    train_model = nn.parallel.DistributedDataParallel(model) if ddp.active else model

    scaler = torch.amp.GradScaler("cuda", enabled=half == torch.float16)
    autocast = (lambda: torch.autocast(device.type, dtype=half)) if half else nullcontext

    loader, val_set = _data(config, step=step, resumed=state is not None, ddp=ddp, device=device, warn=warn)
    generator = torch.Generator(device)  # the loss's random draws (a diffusion model's timesteps and noise)

    def stop_asked() -> bool:  # before the last step; every rank gets the same answer
        return should_stop is not None and step < stop and ddp.any(bool(should_stop()), device)

    # threads that follow the cores other programs leave free: on a CPU, unless --threads fixes them
    most = torch.get_num_threads()
    fitted = device.type == "cpu" and config.threads is None and not ddp.active and most > 1
    fit = cpu_share.ThreadFit(most) if fitted else None
    last_val: dict[str, float] = {}
    spent, timed = 0.0, 0  # seconds in the steps of the window, and their count: no validation or checkpoint
    batch = None
    while step < stop:
        began = time.perf_counter()
        if batch is None or step % config.echo == 0:
            batch = [x.to(device, non_blocking=True) for x in next(loader)]
        blurred, sharp = (echo_view(x, step % config.echo, step // config.echo) for x in batch)
        lr = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        generator.manual_seed(loss_seed(config.seed, ddp.rank, step))  # so a resumed run draws as an unbroken one
        with autocast():
            loss = task.loss(train_model, blurred, sharp, config, generator)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        # a float16 scaler skips the step on its own when gradients overflow; otherwise the weights would be
        # lost to NaN from here on, so the run stops and keeps its last checkpoint, taken before
        diverged = not torch.isfinite(loss.detach()) or (not scaler.is_enabled() and not torch.isfinite(norm))
        if ddp.any(bool(diverged), device):
            if saved and saved[0] < step:  # steps of the lower rate lie between it and this one
                hint = f"{ckpt_path} keeps step {saved[0]}: --resume with a lower --lr"
            elif saved:  # this step is the first from it, and the same whatever the rate: resuming fails again
                hint = f"{ckpt_path} keeps step {saved[0]}, from which this step fails whatever --lr: start a new run"
                hint += " with a lower --lr"
            else:
                hint = "lower --lr"
            raise DeblurError(
                f"training diverged at step {step + 1}: the loss or its gradients are not finite", hint=hint
            )
        scaler.step(optimizer)
        scaler.update()
        _update_ema(ema, model, config.ema, step)
        step += 1
        loss = float(loss.detach())  # waits for the device: the step is done
        spent, timed = spent + time.perf_counter() - began, timed + 1
        seconds = spent / timed
        validation = None
        # every --val-every steps and at the run's end, not at the end of a --until piece (one more validation
        # per piece, minutes for a diffusion model); the same on every rank
        due = step % config.val_every == 0 or step == config.steps
        # a stop request already made is not kept waiting by a validation (minutes, for a diffusion model)
        stopping = due and stop_asked()
        if ddp.main and due and not stopping:
            # given up if a stop is asked meanwhile (this rank's own request: the others do not validate), but for
            # the run's last step, which ends the run whatever is asked
            validation = validate(task, ema, val_set, device, abandon=lambda: step < stop and _asked(should_stop))
            last_val = validation or last_val
        if ddp.main:
            _log(out_dir / LOG, step, loss, lr, seconds, validation)
            if callback:
                callback(Progress(step, config.steps, loss, lr, seconds, validation))
            if step % config.save_every == 0 or step == stop:
                checkpoint()
        if step % 50 == 0:  # a rolling window, so the figure follows the current speed
            spent, timed = 0.0, 0
        if fit is not None and (threads := fit.poll()) is not None:
            torch.set_num_threads(threads)
            if note:
                note(fit.said("training", f"step {step + 1}", fixed_by="--threads N"))
        if stopping or stop_asked():
            if ddp.main and step % config.save_every:  # the steps since the last checkpoint are kept
                checkpoint()
            return last_val, False
    return last_val, True


def _asked(should_stop: Callable[[], object] | None) -> bool:
    return should_stop is not None and bool(should_stop())


def loss_seed(seed: int, rank: int, step: int) -> int:
    """The seed of the loss's random draws at `step` in process `rank` of run `seed`: a function of the
    three alone (no two triples share a seed, as a sum such as seed·1000 + rank + step would)."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, dtype=np.uint64)[0]) >> 1


def echo_view(clips: torch.Tensor, reuse: int, batch_index: int) -> torch.Tensor:
    """Use `reuse` (0 = the batch as synthesised) of a batch of square clips (B, T, C, S, S) under data
    echoing: each reuse is a different one of the 15 other views that keep blur physically valid (the 8
    flips and transposes of the square, each also played backwards), in an order drawn from the batch's
    index, so consecutive batches do not repeat the same sequence."""
    if reuse == 0:
        return clips
    order = torch.randperm(15, generator=torch.Generator().manual_seed(batch_index))
    view = int(order[(reuse - 1) % 15]) + 1  # 1..15, bits: flip W, flip H, transpose, reverse time
    if view & 1:
        clips = clips.flip(-1)
    if view & 2:
        clips = clips.flip(-2)
    if view & 4:
        clips = clips.transpose(-1, -2)
    if view & 8:
        clips = clips.flip(1)
    return clips


def chosen_precision(precision: str, device: torch.device) -> str:
    """--precision `precision` as a new run records it: "auto" becomes the name of what `deblur run`'s auto
    runs in on `device` (devices.resolve_dtype): bf16 on CUDA GPUs with native bf16, else fp16 (with loss
    scaling); bf16 on CPUs with bf16 instructions (AVX512-BF16, AMX), where a step of dstnet-s measured 1.3 to
    1.6 times as fast as in fp32 with the same validation (training.md); fp32 on other CPUs, which emulate bf16,
    and on MPS.
    Any other name is kept (autocast_dtype checks it)."""
    if precision != "auto":
        return precision
    return DTYPE_NAMES[resolve_dtype("auto", device)]


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a run, or None for plain float32.

    "auto" is what runs begun by earlier versions recorded (new runs record chosen_precision's name), and it
    keeps its meaning then: bf16 on CUDA (fp16 on GPUs without it) and fp32 on every CPU.
    """
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}", hint=f"choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp16" and device.type != "cuda":
        raise UsageError("fp16 training needs a CUDA GPU", hint="use --precision bf16 or fp32 on a CPU")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


@torch.no_grad()
def _update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    # a shorter memory early on, or the first thousand steps of random weights dominate for long
    d = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1 - d)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def _log(path: Path, step: int, loss: float, lr: float, seconds: float, validation: dict | None) -> None:
    new = not path.exists()
    with writing(path), path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["step", "loss", "lr", "seconds_per_step", "psnr_in", "psnr", "ssim_in", "ssim"])
        v = validation or {}
        writer.writerow(
            [step, f"{loss:.6f}", f"{lr:.3e}", f"{seconds:.3f}"]
            + [f"{v[k]:.4f}" if k in v else "" for k in ("psnr_in", "psnr", "ssim_in", "ssim")]
        )


def _truncate_log(path: Path, step: int) -> None:
    """Drop the rows of steps after `step`: they were logged by a run stopped before its next checkpoint."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    # a row that is no step's (a blank line an editor added) is dropped with the steps after `step`
    kept = rows[:1] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) <= step]
    with written(path, hint=RESUME_HINT) as temp, temp.open("w", newline="") as f:
        csv.writer(f).writerows(kept)
