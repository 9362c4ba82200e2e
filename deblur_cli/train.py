"""The training loop: synthetic clips on the fly, AdamW with warm-up and cosine decay, gradient clipping,
EMA weights, mixed precision (bf16 on GPU, optionally on CPU), resumable checkpoints, held-out validation, a CSV log, and DDP when
launched by torchrun (WORLD_SIZE set).

A model plugs in through a `Task`: how to build it, its loss, how it restores a clip for validation,
and how its weights are exported for inference.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

from deblur_cli.checkpoint import read_checkpoint, state_mismatch
from deblur_cli.data.dataset import (
    FixedClips,
    FixedVideoClips,
    SharpInputClips,
    TrainClips,
    sources_note,
    split_photos,
    split_videos,
)
from deblur_cli.errors import DeblurError, InputError, ModelError, OutputError, UsageError, WeightsError
from deblur_cli.files import check_writable, drop
from deblur_cli.metrics.psnr import psnr
from deblur_cli.metrics.ssim import ssim
from deblur_cli.tiles import crop_to, pad_to_multiple
from deblur_cli.train_config import PRECISIONS, TrainConfig

CHECKPOINT = "last.pt"  # full training state, for --resume
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


@dataclass(frozen=True)
class Task:
    """How one model family trains, validates and exports."""

    build: Callable[[], nn.Module]  # a freshly initialised model
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor, TrainConfig, torch.Generator], torch.Tensor]
    restore: Callable[[nn.Module, torch.Tensor], torch.Tensor]  # (B, T, 3, H, W) -> same, for validation
    export: Callable[[nn.Module, Path], None]  # half-precision inference weights
    multiple: int = 1  # crops must be multiples of this; validation clips are padded to it
    prior: Callable[[torch.Tensor], torch.Tensor] | None = None  # a residual model's DSTNet estimate, (B, T, 3, H, W)
    max_frames: int | None = None  # most frames per clip the model takes (None: any number)


def charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean sqrt((x - y)² + eps²): L1 that stays smooth at zero."""
    return torch.sqrt((x - y).square() + eps * eps).mean()


def fft_l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean L1 distance between the 2-D spectra (real and imaginary parts) of x and y, (..., H, W)."""
    fx, fy = torch.fft.rfft2(x.float()), torch.fft.rfft2(y.float())
    return (torch.view_as_real(fx) - torch.view_as_real(fy)).abs().mean()


def _dstnet_task(variant: str, prior: str | None) -> Task:
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNET_VARIANTS, MULTIPLE, DSTNet

    if prior is not None:
        raise UsageError("--prior applies to the diffusion models (wtsa, wtsa-s) only")
    config = DSTNET_VARIANTS[variant]

    def loss(model, blurred, sharp, cfg, generator):
        out = model(blurred)
        return charbonnier(out, sharp) + cfg.fft_weight * fft_l1(out, sharp)

    return Task(
        build=lambda: DSTNet(config),
        loss=loss,
        restore=lambda model, blurred: model(blurred),
        export=lambda model, path: save_dstnet(model, path, extra_metadata={"variant": variant}, half=True),
        multiple=MULTIPLE,
    )


VALIDATION_DDIM_STEPS = 10  # validation tracks progress; `deblur run` samples with 20 by default
# x0 = 2·scale·(sharp − estimate) for the residual condition. The bundled dstnet-s leaves an RMS error of
# about 0.047 on training clips (measured on 24 clips of 128 px); 6 lifts the correction to an RMS near
# 0.56, the scale of 2·sharp − 1.
RESIDUAL_SCALE = 6.0


def _wtsa_task(variant: str, prior_spec: str | None, ddim_steps: int = VALIDATION_DDIM_STEPS) -> Task:
    from deblur_cli.diffusion.loss import diffusion_loss
    from deblur_cli.diffusion.sample import sample
    from deblur_cli.diffusion.schedule import DiffusionConfig
    from deblur_cli.models.dstnet import MULTIPLE as PRIOR_MULTIPLE
    from deblur_cli.models.wtsa_unet import WTSA_VARIANTS, WTSAUNet
    from deblur_cli.wtsa_weights import save_wtsa

    config = WTSA_VARIANTS[variant]
    multiple = 2 ** (len(config.channels) - 1)  # as WTSAUNet.multiple: one halving per stage after the first
    if prior_spec is None:
        prior, diffusion = None, DiffusionConfig()
    else:
        prior = _load_prior(prior_spec).requires_grad_(False)
        diffusion = DiffusionConfig(condition="residual", scale=RESIDUAL_SCALE)
        multiple = math.lcm(multiple, PRIOR_MULTIPLE)

    @torch.no_grad()
    def condition(blurred: torch.Tensor) -> torch.Tensor:
        """What the model is conditioned on: the blurry clip, or the prior's estimate of its sharp frames."""
        if prior is None:
            return blurred
        prior.to(blurred.device)  # a no-op once there
        return prior(blurred).clamp(0, 1).to(blurred.dtype)

    def restore(model, blurred):
        generator = torch.Generator(blurred.device).manual_seed(0)
        return sample(model, condition(blurred), steps=ddim_steps, generator=generator, diffusion=diffusion)

    return Task(
        build=lambda: WTSAUNet(config),
        loss=lambda model, blurred, sharp, cfg, generator: diffusion_loss(
            model, sharp, condition(blurred), diffusion=diffusion, generator=generator
        ),
        restore=restore,
        export=lambda model, path: save_wtsa(
            model, path, diffusion=diffusion, prior=prior, extra={"variant": variant}, dtype=torch.float16
        ),
        multiple=multiple,
        max_frames=config.max_frames,
        prior=None if prior is None else condition,
    )


def _load_prior(spec: str) -> nn.Module:
    """The DSTNet a residual diffusion model corrects: a DSTNet weights file, a residual WTSA file (its
    prior), or a model name resolved as `deblur run` does."""
    from deblur_cli.dstnet_weights import load_dstnet
    from deblur_cli.wtsa_weights import is_wtsa_file, load_wtsa

    spec = _prior_file(spec)
    if is_wtsa_file(spec):
        prior = load_wtsa(spec)[2]
        if prior is None:
            raise UsageError(f"--prior {spec} is a WTSA model without a DSTNet prior")
        return prior
    return load_dstnet(spec)


def _prior_file(spec: str) -> str:
    """The weights file of --prior `spec`: the file it names, or a DSTNet model name's weights."""
    if not Path(spec).is_file():
        from deblur_cli.restorers import model_spec
        from deblur_cli.weights import resolve_weights

        try:
            architecture = model_spec(spec).architecture
        except ModelError:
            raise UsageError(
                f"--prior {spec}: no such file, and not a model name", hint="give a DSTNet weights file or dstnet/dstnet-s"
            ) from None
        if architecture != "dstnet":
            raise UsageError(f"--prior must be a DSTNet, not {spec!r}")
        try:
            spec = str(resolve_weights(spec).path)
        except WeightsError as e:  # its hint names `deblur run`'s option; train takes the file here
            e.hint = e.hint and e.hint.replace("with --weights", "with --prior FILE")
            raise
    return spec


TASKS: dict[str, Callable[..., Task]] = {  # (prior, **options) -> Task
    "dstnet": lambda prior: _dstnet_task("dstnet", prior),
    "dstnet-s": lambda prior: _dstnet_task("dstnet-s", prior),
    "wtsa": lambda prior, **options: _wtsa_task("wtsa", prior, **options),
    "wtsa-s": lambda prior, **options: _wtsa_task("wtsa-s", prior, **options),
}
DIFFUSION_TASKS = ("wtsa", "wtsa-s")


def get_task(name: str, prior: str | None = None, *, ddim_steps: int | None = None) -> Task:
    """The Task of a model name in TASKS; `prior` (diffusion models only) makes it a residual model, and
    `ddim_steps` (diffusion models only) is what its validation samples with (VALIDATION_DDIM_STEPS if None)."""
    if name not in TASKS:
        raise ModelError(f"cannot train {name!r}", hint=f"trainable models: {', '.join(TASKS)}")
    if ddim_steps is not None and name not in DIFFUSION_TASKS:
        raise UsageError(f"--ddim-steps applies to the diffusion models ({', '.join(DIFFUSION_TASKS)}), not {name}")
    try:
        return TASKS[name](prior, **({} if ddim_steps is None else {"ddim_steps": ddim_steps}))
    except ImportError as e:
        raise ModelError(f"model {name!r} is not available in this build: {e}") from None


def _ignore_stop_signals(worker: int) -> None:
    """In each loader worker: Ctrl-C, SIGTERM and SIGHUP sent to the whole process group (`timeout`, a
    scheduler, a terminal) are the main process's to handle. It stops after the step and saves, then shuts
    the workers down; a worker killed by them would instead fail the step with torch's RuntimeError."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def _check_frames(task: Task, frames: int, name: str) -> None:
    if task.max_frames is not None and frames > task.max_frames:
        raise UsageError(
            f"--frames {frames} is more than {name} takes: at most {task.max_frames} frames per clip",
            hint=f"--frames {task.max_frames} or fewer (its positional table has {task.max_frames} rows)",
        )


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
    overwritten; a `log.csv` found there is replaced.
    """
    out_dir = Path(out_dir)
    config = _absolute_paths(config)
    for name in ("lr", "ema"):  # the command line's float options take "inf" and "nan"
        if not math.isfinite(getattr(config, name)):
            raise UsageError(f"{_as_option(name, getattr(config, name))} is not a number a run can train with")
    if out_dir.exists() and not out_dir.is_dir():  # mkdir's "File exists" said nothing of what to do
        raise UsageError(f"--out {out_dir} is a file, not a folder", hint="--out names the run's folder (made if missing)")
    if not resume:
        _check_new_run(out_dir, config)
    made = not out_dir.exists()
    device = _device()
    ddp = _Distributed(device)
    try:
        state = _read_state(out_dir / CHECKPOINT) if resume else None
        if state is not None:  # the run's own config decides its task (a residual model keeps its prior)
            config = _resumed_config(state["config"], config, out_dir / CHECKPOINT, given)
        task = task or get_task(config.model, config.prior)
        if config.prior is not None:
            config = _same_prior(config, out_dir / CHECKPOINT if state is not None else None)
        validation, reached = _train(config, out_dir, state, until, callback, task, device, ddp, should_stop, warn)
        return TrainResult(out_dir / f"{config.model}.safetensors", validation, reached, ddp.main)
    except BaseException:  # a run that stops before writing anything leaves no empty folder it made
        if made and ddp.main and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise
    finally:
        ddp.close()


def _absolute_paths(config: TrainConfig) -> TrainConfig:
    """`config` with its files and cache as absolute paths: the run stores them, and a resume from
    another folder must find the same ones (a --prior that names no file is a model name, kept)."""
    sources, init, prior = config.sources, config.init, config.prior
    return replace(
        config,
        sources=None if sources is None else str(Path(sources).absolute()),
        init=None if init is None else str(Path(init).absolute()),
        prior=str(Path(prior).absolute()) if prior is not None and Path(prior).is_file() else prior,
    )


def _same_prior(config: TrainConfig, checkpoint: Path | None) -> TrainConfig:
    """`config` with the SHA-256 of its prior's file; on resuming (`checkpoint` given), InputError if the
    file is not the one the run began with: the model would go on learning to correct another DSTNet."""
    from deblur_cli.weights.verify import file_digest

    digest = file_digest(Path(_prior_file(config.prior)), "sha256")
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
    if config.init is not None and Path(config.init).exists() and os.path.samefile(config.init, weights):
        raise UsageError(
            f"--init {config.init} is the file this run would write its weights to",
            hint="copy it out of the run folder and start from the copy, or give another --out",
        )
    raise UsageError(f"{weights} exists and a new run would replace it", hint="give another --out, or move the file away")


def _init_weights(path: str, config: TrainConfig) -> dict[str, torch.Tensor]:
    """The tensors of --init `path` that initialise the run's model. A residual WTSA file also holds the
    DSTNet it corrects (`prior.` tensors): the run's own --prior is that, so they are left out. Weights of
    a residual model start a residual run only, and weights of a direct one a direct run only: the same
    tensors, conditioned on another input, would fit without error and train from a wrong start."""
    from deblur_cli.wtsa_weights import PRIOR_PREFIX

    tensors = read_checkpoint(path)[0]
    residual = any(key.startswith(PRIOR_PREFIX) for key in tensors)
    if residual and config.prior is None:
        raise InputError(
            f"--init {path} holds a residual model (one that corrects a DSTNet prior, stored with it): "
            "this run trains without --prior",
            hint="add the --prior it was trained with, or start from the weights of a model without one"
            if config.model in DIFFUSION_TASKS else f"start from weights of {config.model}",
        )
    if config.prior is not None and not residual:
        raise InputError(
            f"--init {path} holds no residual model (it has no DSTNet prior): this run, with --prior, trains one",
            hint="start from the weights of a run trained with --prior, or drop --prior",
        )
    return {key: value for key, value in tensors.items() if not key.startswith(PRIOR_PREFIX)}


def _train(
    config, out_dir, state, until, callback, task, device, ddp, should_stop=None, warn=None
) -> tuple[dict[str, float], bool]:
    """(the last validation figures, whether the run reached its last step rather than being stopped)."""
    _check_frames(task, config.frames, config.model)
    if config.crop % task.multiple:
        raise UsageError(f"--crop must be a multiple of {task.multiple} for {config.model}")
    if config.gpu_synthesis and (device.type == "cpu" or config.workers):
        raise UsageError(
            "--gpu-synthesis renders clips on the training GPU, in the training process"
            + (": there is no GPU here" if device.type == "cpu" else ", so it takes no --workers"),
            hint="drop --gpu-synthesis" if device.type == "cpu" else "drop --workers",
        )
    half = autocast_dtype(config.precision, device)
    start = _init_weights(config.init, config) if config.init and state is None else None  # before the folder is made
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = task.build().to(device)
    if start is not None:
        _load_weights(model, start, f"--init {config.init}", config.model)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim >= 2 else no_decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.99),
    )
    step = 0
    ckpt_path = out_dir / CHECKPOINT

    def checkpoint() -> None:  # the training state to resume from, and the EMA weights as users load them
        _save_state(ckpt_path, step, config, model, ema, optimizer)
        with _writing(out_dir / f"{config.model}.safetensors"):
            task.export(ema, out_dir / f"{config.model}.safetensors")

    if state is not None:
        step = _load_state(state, model, ema, optimizer)
        _truncate_log(out_dir / LOG, step)
    elif ddp.main:  # a log left in the folder belongs to no run of it: this one's starts at step 1
        (out_dir / LOG).unlink(missing_ok=True)
    stop = config.steps if until is None else min(until, config.steps)
    if step >= stop:  # a resume that asks for no more steps: said, rather than a silent success
        if warn and ddp.main:
            asked = f"--until {until}" if until is not None and until < config.steps else f"--steps {config.steps}"
            done = f"the run in {out_dir} is already at step {step} ({asked})"
            warn(f"{done}: nothing to train; a higher --steps lengthens it")
        return {}, True
    train_model = nn.parallel.DistributedDataParallel(model) if ddp.active else model

    scaler = torch.amp.GradScaler("cuda", enabled=half == torch.float16)
    autocast = (lambda: torch.autocast(device.type, dtype=half)) if half else nullcontext

    train_photos, val_photos = split_photos(config.sources)
    train_videos, _ = split_videos(config.sources)
    if (note := sources_note(config.sources, train_photos, (config.crop, config.crop))) and warn and ddp.main:
        warn(note)
    stream = TrainClips(
        train_photos, frames=config.frames, crop=config.crop, seed=config.seed, batch=config.batch,
        start=(step // config.echo) * config.batch, rank=ddp.rank, world_size=ddp.world_size, videos=train_videos,
        device=device if config.gpu_synthesis else "cpu",
    )  # fmt: skip
    on_cpu = not config.gpu_synthesis
    loader = iter(DataLoader(stream, batch_size=config.batch, num_workers=config.workers,
                             pin_memory=on_cpu and device.type == "cuda", worker_init_fn=_ignore_stop_signals))  # fmt: skip
    val_set = FixedClips(val_photos, count=config.val_clips, frames=config.frames, size=config.val_size, seed=1)
    if val_set.procedural and warn and ddp.main:
        warn(_procedural_note(config.sources, config.val_size))
    generator = torch.Generator(device)  # the loss's random draws (a diffusion model's timesteps and noise)

    def stop_asked() -> bool:  # before the last step; every rank gets the same answer
        return should_stop is not None and step < stop and ddp.any(bool(should_stop()), device)

    last_val: dict[str, float] = {}
    timer, timed = time.perf_counter(), 0
    batch = None
    while step < stop:
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
            kept = ckpt_path.exists()
            raise DeblurError(
                f"training diverged at step {step + 1}: the loss or its gradients are not finite",
                hint=f"{ckpt_path} keeps the last checkpoint: --resume with a lower --lr" if kept else "lower --lr",
            )
        scaler.step(optimizer)
        scaler.update()
        _update_ema(ema, model, config.ema, step)
        step += 1
        timed += 1
        loss = float(loss.detach())
        seconds = (time.perf_counter() - timer) / timed
        validation = None
        due = step % config.val_every == 0 or step == stop  # the same on every rank
        # a stop request already made is not kept waiting by a validation (minutes, for a diffusion model)
        stopping = due and stop_asked()
        if ddp.main and due and not stopping:
            validation = last_val = validate(task, ema, val_set, device)
        if ddp.main:
            _log(out_dir / LOG, step, loss, lr, seconds, validation)
            if callback:
                callback(Progress(step, config.steps, loss, lr, seconds, validation))
            if step % config.save_every == 0 or step == stop:
                checkpoint()
        if step % 50 == 0:  # a rolling window, so the figure follows the current speed
            timer, timed = time.perf_counter(), 0
        if stopping or stop_asked():
            if ddp.main and step % config.save_every:  # the steps since the last checkpoint are kept
                checkpoint()
            return last_val, False
    return last_val, True


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



def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a run, or None for plain float32.

    "auto" is bf16 on CUDA (fp16 with loss scaling on GPUs without bf16) and fp32 on CPU, where bf16
    pays only on processors with bf16 instructions (AVX512-BF16, AMX): ask for it there with "bf16".
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


CAMERAS = {"any": None, "moving": False, "still": True}  # evaluate(camera=...) -> synthesize_clip(still=...)


def evaluate(
    out_dir: str | Path | None,
    *,
    size: tuple[int, int] = (640, 360),
    clips: int = 8,
    frames: int = 5,
    shake_only: bool = True,
    camera: str = "any",
    sharp_input: bool = False,
    videos: bool = False,
    sources: str | Path | None = None,
    sample: str | Path | None = None,
    weights: str | Path | None = None,
    ddim_steps: int | None = None,
    force: bool = False,
    task: Task | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Validate the EMA weights of the run in `out_dir` on `clips` held-out clips of `size` (W, H).

    `weights` evaluates that weights file of the run's model instead (e.g. the float16 export); without
    a run (`out_dir` None, or no checkpoint in it) the file's metadata names the model, as in every file
    `deblur train` exports or bundles, and `sources` must be given.
    The clips come from the validation photos of `sources` (the run's own cache when None) and, with
    `shake_only`, have camera motion but no moving objects. `camera` "moving" or "still" keeps only clips
    whose camera moves (the blur to remove) or is almost still (footage to leave alone); "any" mixes
    them as training does. With `sharp_input` the model is fed the sharp
    clips themselves (8-bit): how much it changes footage that needs no deblurring. With `videos` the
    clips come from the held-out real videos instead of photos. `sample` writes a PNG of the middle frame
    of the first clip: blurred input | restored | sharp, side by side (with the prior's estimate after
    the input for a residual model); an existing file there is replaced only with `force`, and never when
    it is one of the evaluation's inputs (the weights or the run's checkpoint). `ddim_steps` sets a
    diffusion model's DDIM steps (default VALIDATION_DDIM_STEPS, as in training; `deblur run` samples
    with 20). `warn` is told when the clips are procedural scenes (no held-out photo fits them).
    """
    if camera not in CAMERAS:
        raise UsageError(f"--camera must be one of {', '.join(CAMERAS)}, got {camera!r}")
    if videos and camera != "any":
        raise UsageError("--camera applies to clips made from photos, not to --videos")
    if sample:
        inputs = [Path(weights)] if weights is not None else []
        if out_dir is not None:  # the run's checkpoint, and the weights it exported (the run's own work)
            inputs += [Path(out_dir) / CHECKPOINT, *Path(out_dir).glob("*.safetensors")]
        _check_sample(Path(sample), inputs, force)
    weights_file = read_checkpoint(weights) if weights is not None else None  # (tensors, metadata), read once
    name, prior, ema, run_sources = _evaluated_model(out_dir, weights, weights_file)
    if ema is None and sources is None:  # no run: nothing says which photos (none means procedural scenes)
        raise UsageError("--evaluate without a run folder needs --sources", hint="the cache of `deblur synth --fetch`")
    sources = sources or run_sources
    task = task or get_task(name, prior, ddim_steps=ddim_steps)
    _check_frames(task, frames, name)
    model = task.build()
    if weights_file is None:
        tensors = ema
    else:
        from deblur_cli.wtsa_weights import PRIOR_PREFIX

        tensors = {k: v for k, v in weights_file[0].items() if not k.startswith(PRIOR_PREFIX)}
    _load_weights(model, tensors, f"--weights {weights}" if weights_file is not None else str(out_dir), name)
    model.eval()
    if videos:
        _, val_videos = split_videos(sources)
        clip_set = FixedVideoClips(val_videos, count=clips, frames=frames, size=size, seed=2)
    else:
        _, val_photos = split_photos(sources)
        layers = 0 if shake_only else 2
        clip_set = FixedClips(
            val_photos, count=clips, frames=frames, size=size, seed=2, max_layers=layers, still=CAMERAS[camera]
        )
        if clip_set.procedural and warn:
            warn(_procedural_note(sources, size))
    if sharp_input:
        clip_set = SharpInputClips(clip_set)
    result = validate(task, model, clip_set, torch.device("cpu"))
    if sample:
        from deblur_cli.data.writer import write_png

        blurred, sharp = clip_set[0]
        panels = [blurred, _restore(task, model, blurred, torch.device("cpu")), sharp]
        if task.prior is not None:  # blurred | the prior's estimate | restored | sharp
            as_prior = replace(task, restore=lambda _, clip: task.prior(clip))
            panels.insert(1, _restore(as_prior, model, blurred, torch.device("cpu")))
        mid = frames // 2
        write_png(torch.cat([panel[mid] for panel in panels], dim=-1), sample)
    return result


def _procedural_note(sources: str | Path | None, size: tuple[int, int]) -> str:
    """What to tell a user whose held-out clips of `size` (W, H) are all procedural scenes."""
    w, h = size
    why = f"no held-out photo in {sources} fits clips of {w}x{h}" if sources else "no --sources"
    return f"{why}: the validation figures are on procedural scenes, not on real footage"


def _load_weights(model: nn.Module, state: dict[str, torch.Tensor], name: str, described: str) -> None:
    """Load `state` into `model`, strictly; WeightsError naming `name` when it holds another model's
    tensors (their keys or shapes), rather than PyTorch's list of every one of them."""
    problem = state_mismatch(model.state_dict(), state)
    if problem is not None:
        raise WeightsError(f"{name} does not hold {described} weights: {problem}", hint="give a file of that model")
    model.load_state_dict(state, strict=True)  # copy_ casts a float16 file to the model's dtype


def _check_sample(sample: Path, inputs: list[Path], force: bool) -> None:
    """Refuse, before any clip is made, a --sample path that names one of `inputs` (even with `force`: the
    weights being evaluated would be lost), a folder, a name without .png, an existing file without
    `force`, a missing folder, or one that takes no new file (read-only)."""
    if sample.exists() and any(path.exists() and os.path.samefile(sample, path) for path in inputs):
        raise OutputError(f"--sample {sample} is an input of this evaluation", hint="write the sample to a new PNG file")
    if sample.is_dir():
        raise OutputError(f"--sample {sample} is a folder", hint="give the name of a PNG file to write")
    if sample.suffix.lower() != ".png":  # PNG bytes under another name would open as nothing, or as something else
        raise UsageError(
            f"--sample writes a PNG image; {sample} does not end in .png", hint=f"e.g. --sample {sample.stem}.png"
        )
    if sample.exists() and not force:
        raise OutputError(f"--sample {sample} exists", hint="pass --force to replace it, or give a new file name")
    if not sample.parent.is_dir():
        raise OutputError(f"cannot write --sample {sample}: {sample.parent} is not a folder")
    check_writable(sample)  # now, not after the evaluation


def _evaluated_model(
    out_dir: str | Path | None, weights: str | Path | None, weights_file: tuple[dict, dict[str, str]] | None
) -> tuple[str, str | None, dict | None, str | None]:
    """(model name, prior, EMA weights, sources) of the run in `out_dir`, or, without one, what the
    metadata of `weights` says (no EMA, no sources); `weights_file` is read_checkpoint(weights)."""
    checkpoint = Path(out_dir) / CHECKPOINT if out_dir is not None else None
    if checkpoint is not None and checkpoint.is_file():
        config = (state := _read_state(checkpoint, needed=("config", "ema")))["config"]
        prior = config.get("prior")
        if prior is not None and weights is not None:
            prior = str(weights)  # a residual model's file holds the DSTNet it corrects: use that one
        return config["model"], prior, state["ema"], config.get("sources")
    if weights is None:
        where = f"{checkpoint} does not exist" if checkpoint is not None else "no run folder (--out) was given"
        raise UsageError(f"nothing to evaluate: {where}", hint="give a run folder, or a weights file with --weights")
    metadata = weights_file[1]
    name = metadata.get("variant")
    if name not in TASKS:
        raise UsageError(
            f"cannot tell which model {weights} holds (its metadata names none that trains here)",
            hint="evaluate it with the run folder it came from (--out)",
        )
    residual = "prior" in json.loads(metadata.get("config") or "{}")
    return name, str(weights) if residual else None, None, None


@torch.no_grad()
def validate(task: Task, model: nn.Module, clips: Dataset, device: torch.device) -> dict[str, float]:
    """Mean PSNR/SSIM over all frames of `clips`: of the blurred input and of the model's output."""
    sums = {"psnr_in": 0.0, "psnr": 0.0, "ssim_in": 0.0, "ssim": 0.0}
    count = 0
    for i in range(len(clips)):
        blurred, sharp = clips[i]
        restored = _restore(task, model, blurred, device)
        sums["psnr_in"] += float(psnr(blurred, sharp).sum())
        sums["psnr"] += float(psnr(restored, sharp).sum())
        sums["ssim_in"] += float(ssim(blurred, sharp).sum())
        sums["ssim"] += float(ssim(restored, sharp).sum())
        count += blurred.shape[0]
    return {k: v / max(count, 1) for k, v in sums.items()}


@torch.no_grad()
def _restore(task: Task, model: nn.Module, clip: torch.Tensor, device: torch.device) -> torch.Tensor:
    """clip (T, 3, H, W) of any size -> restored (T, 3, H, W) in [0, 1] on the CPU; pads once for the model."""
    padded, size = pad_to_multiple(clip[None].to(device), task.multiple)
    return crop_to(task.restore(model, padded), size)[0].float().clamp(0, 1).cpu()


def _log(path: Path, step: int, loss: float, lr: float, seconds: float, validation: dict | None) -> None:
    new = not path.exists()
    with _writing(path), path.open("a", newline="") as f:
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
    tmp = path.with_name(path.name + ".tmp")
    with _writing(path):
        with tmp.open("w", newline="") as f:
            csv.writer(f).writerows(kept)
        tmp.replace(path)


def _save_state(path: Path, step: int, config: TrainConfig, model, ema, optimizer) -> None:
    state = {
        "step": step,
        "config": asdict(config),
        "model": model.state_dict(),
        "ema": ema.state_dict(),
        "optimizer": optimizer.state_dict(),
    }
    tmp = path.with_name(path.name + ".tmp")  # written aside, then renamed: the last checkpoint stays whole
    try:
        torch.save(state, tmp)
        tmp.replace(path)
    except BaseException as e:  # a second Ctrl-C while saving, a full disk: no partial last.pt.tmp left behind
        drop(tmp)  # the error that stopped the write is the one raised
        if isinstance(e, (OSError, RuntimeError)):  # torch's zip writer reports a failed write as RuntimeError
            raise _unwritable(path, e) from None
        raise


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Within the block, a failed write (a full disk, a folder made read-only) is an OutputError naming
    `path`, not an OSError without a file name."""
    try:
        yield
    except OSError as e:
        raise _unwritable(path, e) from None


def _unwritable(path: Path, error: Exception) -> OutputError:
    reason = error.strerror if isinstance(error, OSError) and error.strerror else "the write failed"
    return OutputError(
        f"cannot write {path}: {reason}",
        hint=f"check the free space and the permissions of {path.parent}; --resume continues from the last checkpoint",
    )


def _read_state(path: Path, needed: tuple[str, ...] = ("step", "config", "model", "ema", "optimizer")) -> dict:
    """The training state saved at `path` (read once per resume: config, weights, optimiser, step), which
    must hold `needed`; InputError for a file that is not such a state (cut short, another file)."""
    if not path.is_file():
        raise UsageError(f"nothing to resume: {path} does not exist", hint="drop --resume to start a new run")
    hint = "a run stopped while saving keeps the state before; otherwise start a new run with another --out"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch's message suggests weights_only=False, never to be done with a file: not passed on
        raise InputError(f"cannot read {path}: it is not a complete training checkpoint", hint=hint) from None
    missing = [key for key in needed if not isinstance(state, dict) or key not in state]
    if missing:
        raise InputError(f"{path} is not a training checkpoint of deblur (no {', '.join(missing)})", hint=hint)
    _check_stored_config(state["config"], path)
    step = state.get("step", 0)
    if type(step) is not int or step < 0:  # bool is an int too: compared by type
        raise _not_resumable(path, f"its step is {step!r}")
    return state


# Settings that runs begun before them do not store: such a run trained as their default says.
ADDED_LATER = ("gpu_synthesis", "echo", "precision", "init", "prior", "prior_sha256")
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
        if default is None:  # a file or a cache, or none
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
# where the photos are, and the EMA (which does not feed back into training).
RESUMED_FREELY = (
    "steps", "lr", "warmup", "val_every", "val_clips", "val_size", "save_every", "workers", "gpu_synthesis",
    "sources", "ema", "precision",
)  # fmt: skip
# What defines the run's model and data stream: a resume that changed one would not continue the run.
RESUMED_FIXED = ("model", "crop", "frames", "batch", "seed", "echo", "prior", "init")


def _resumed_config(stored: dict, config: TrainConfig, path: Path, given: frozenset[str] | None = None) -> TrainConfig:
    """The config a resumed run trains with: the `stored` one, with those of RESUMED_FREELY in `given`
    (all, for None) taken from `config`. UsageError if one of RESUMED_FIXED in `given` differs."""
    stored = {**asdict(TrainConfig()), **stored}  # a field newer than the run: its default is what the run did
    if "amp" in stored:  # runs from before `precision`: amp meant bf16/fp16 on CUDA only, i.e. "auto"
        stored["precision"] = "auto" if stored.pop("amp") else "fp32"
    stored["val_size"] = tuple(stored["val_size"])
    changed = [
        name for name in RESUMED_FIXED
        if (given is None or name in given) and not _same_setting(name, stored[name], getattr(config, name))
    ]  # fmt: skip
    if changed:
        options = ", ".join(_as_option(name, stored[name]) for name in changed)
        raise UsageError(
            f"{path} is a run with {options}: a resume cannot change {'it' if len(changed) == 1 else 'them'}",
            hint=f"drop {', '.join(_as_option(name) for name in changed)} to continue it, or give another --out",
        )
    free = [k for k in RESUMED_FREELY if given is None or k in given]
    return TrainConfig(**{**stored, **{k: getattr(config, k) for k in free}})


def _same_setting(name: str, stored: object, given: object) -> bool:
    if name in ("init", "prior") and stored is not None and given is not None:  # files, named as the user chose
        return stored == given or Path(str(stored)).resolve() == Path(str(given)).resolve()
    return stored == given


def _as_option(name: str, value: object = "") -> str:
    """`name`, a field of TrainConfig, as its command-line option with `value` ("no --prior" for None)."""
    option = "--" + name.replace("_", "-")
    return f"no {option}" if value is None else f"{option} {value}".rstrip()


def _load_state(state: dict, model, ema, optimizer) -> int:
    """Load a saved training state into the given objects; returns its step."""
    model.load_state_dict(state["model"])
    ema.load_state_dict(state["ema"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"])
