"""What each trainable model is to the training loop (a `Task`: how to build it, its loss, how it restores
a clip, how its weights are exported), and how a model is scored on held-out clips (`validate`), by the
loop and by `train --evaluate` alike."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from deblur_cli.checkpoint import ARCH_KEY
from deblur_cli.diffusion.loss import diffusion_loss
from deblur_cli.diffusion.sample import sample
from deblur_cli.diffusion.schedule import DiffusionConfig
from deblur_cli.dstnet_weights import load_dstnet, save_dstnet
from deblur_cli.errors import ModelError, UnknownModelError, UsageError, did_you_mean
from deblur_cli.held_weights import model_of_file
from deblur_cli.metrics.psnr import psnr
from deblur_cli.metrics.ssim import ssim
from deblur_cli.model_specs import MODELS
from deblur_cli.models.dstnet import DSTNET_VARIANTS, MULTIPLE, DSTNet
from deblur_cli.models.wtsa_unet import WTSA_VARIANTS, WTSAUNet
from deblur_cli.tiles import crop_to, pad_to_multiple
from deblur_cli.weights import load_registry, resolve_weights
from deblur_cli.weights.resolve import weights_argument
from deblur_cli.wtsa_weights import is_wtsa_file, load_wtsa, save_wtsa
from deblur_cli.train_config import TrainConfig


@dataclass(frozen=True)
class Task:
    """How one model family trains, validates and exports."""

    build: Callable[[], nn.Module]  # a freshly initialised model
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor, TrainConfig, torch.Generator], torch.Tensor]
    # (model, (B, T, 3, H, W), on_step) -> same, for validation; a sampler calls on_step(done, total) (if not None)
    # after each of its steps
    restore: Callable[[nn.Module, torch.Tensor, Callable[[int, int], None] | None], torch.Tensor]
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

    if prior is not None:
        raise UsageError("--prior applies to the diffusion models (wtsa, wtsa-s) only")
    config = DSTNET_VARIANTS[variant]

    def loss(model, blurred, sharp, cfg, generator):
        out = model(blurred)
        return charbonnier(out, sharp) + cfg.fft_weight * fft_l1(out, sharp)

    return Task(
        build=lambda: DSTNet(config),
        loss=loss,
        restore=lambda model, blurred, on_step: model(blurred),
        export=lambda model, path: save_dstnet(model, path, extra_metadata={"variant": variant}, half=True),
        multiple=MULTIPLE,
    )


VALIDATION_DDIM_STEPS = 10  # validation tracks progress; `deblur run` samples with 20 by default
# x0 = 2·scale·(sharp − estimate) for the residual condition. The bundled dstnet-s leaves an RMS error of
# about 0.047 on training clips (measured on 24 clips of 128 px); 6 lifts the correction to an RMS near
# 0.56, the scale of 2·sharp − 1.
RESIDUAL_SCALE = 6.0


def _wtsa_task(variant: str, prior_spec: str | None, ddim_steps: int = VALIDATION_DDIM_STEPS) -> Task:

    config = WTSA_VARIANTS[variant]
    multiple = config.multiple
    if prior_spec is None:
        prior, diffusion = None, DiffusionConfig()
    else:
        prior = _load_prior(prior_spec).requires_grad_(False)
        diffusion = DiffusionConfig(condition="residual", scale=RESIDUAL_SCALE)
        multiple = math.lcm(multiple, MULTIPLE)

    @torch.no_grad()
    def condition(blurred: torch.Tensor) -> torch.Tensor:
        """What the model is conditioned on: the blurry clip, or the prior's estimate of its sharp frames."""
        if prior is None:
            return blurred
        prior.to(blurred.device)  # a no-op once there
        return prior(blurred).clamp(0, 1).to(blurred.dtype)

    def restore(model, blurred, on_step):
        return sample(model, condition(blurred), steps=ddim_steps, seed=0, diffusion=diffusion, callback=on_step)

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

    spec = prior_file(spec)
    if is_wtsa_file(spec):
        prior = load_wtsa(spec)[2]
        if prior is None:
            raise UsageError(f"--prior {spec} is a WTSA model without a DSTNet prior")
        return prior
    return load_dstnet(spec)


def prior_file(spec: str) -> str:
    """The weights file of --prior `spec`: the file it names, or a DSTNet model name's weights."""
    dstnets = [name for name, model in MODELS.items() if model.architecture == "dstnet"]
    if spec in MODELS and spec not in dstnets and not Path(spec).is_file():
        raise UsageError(f"--prior must be a DSTNet, not {spec!r}", hint=f"give a DSTNet file or {'/'.join(dstnets)}")
    return weights_file(spec, "--prior", dstnets)


def weights_file(spec: str, option: str, names: Collection[str] = MODELS, *, fits: str | None = None) -> str:
    """The weights file that `option` (--init, --prior) names with `spec` (`weights.resolve.weights_argument`): the
    file itself; for one of the model `names`, that model's weights as `deblur run` finds them (cached, bundled or
    downloaded); for an entry of `deblur models` (`dstnet-gopro`) of one of those models, that entry's file, as
    `run --weights` takes it. With `fits` (the model a run trains), a name of another model is refused before any
    download."""
    registry = load_registry()
    found = weights_argument(spec, option=option, models=names, registry=registry)
    if isinstance(found, Path):
        return str(found)
    model, entry = (found, None) if isinstance(found, str) else (registry.model_of(found.name), found.name)
    if model not in names:  # an entry of another model than --prior's DSTNets
        raise UsageError(f"{option} {spec}: weights of {model}, where {option} takes {', '.join(names)}")
    if fits is not None and model != fits:
        raise UsageError(
            f"{option} {spec}: {'weights of ' if entry else ''}{model} cannot start a {fits} run ("
            + ("another size)" if MODELS[model].architecture == MODELS[fits].architecture else "another model)"),
            hint=f"start from {fits}'s weights (`{option} {fits}`), or train {model} (`-m {model}`"
            + (" with the --prior it was trained with)" if model in DIFFUSION_TASKS else ")"),
        )
    return str(resolve_weights(model, weights=entry, option=option).path)


TASKS: dict[str, Callable[..., Task]] = {  # (prior, **options) -> Task
    "dstnet": lambda prior: _dstnet_task("dstnet", prior),
    "dstnet-s": lambda prior: _dstnet_task("dstnet-s", prior),
    "wtsa": lambda prior, **options: _wtsa_task("wtsa", prior, **options),
    "wtsa-s": lambda prior, **options: _wtsa_task("wtsa-s", prior, **options),
}
DIFFUSION_TASKS = ("wtsa", "wtsa-s")


def trained_model_of(file: str | Path, metadata: dict[str, str]) -> str | None:
    """The model of TASKS a weights file holds, read as `deblur run` reads it (held_weights.model_of_file: its
    metadata, else its tensor shapes; dstnet for an official .pth); None where its `metadata` names an architecture
    deblur does not train (a Task of one's own), or the file holds a size TASKS has no name for."""
    if metadata.get(ARCH_KEY, "dstnet") not in ("dstnet", "wtsa"):
        return None
    held = model_of_file(file)
    return held if held in TASKS else None


def get_task(name: str, prior: str | None = None, *, ddim_steps: int | None = None) -> Task:
    """The Task of a model name in TASKS; `prior` (diffusion models only) makes it a residual model, and
    `ddim_steps` (diffusion models only) is what its validation samples with (VALIDATION_DDIM_STEPS if None)."""
    if name not in TASKS:
        hint = f"{did_you_mean(name, TASKS)}trainable models: {', '.join(TASKS)}"
        raise UnknownModelError(f"cannot train {name!r}", hint=hint)  # a bad --model: exit 2, as run says it
    if ddim_steps is not None and name not in DIFFUSION_TASKS:
        raise UsageError(f"--ddim-steps applies to the diffusion models ({', '.join(DIFFUSION_TASKS)}), not {name}")
    try:
        return TASKS[name](prior, **({} if ddim_steps is None else {"ddim_steps": ddim_steps}))
    except ImportError as e:
        raise ModelError(f"model {name!r} is not available in this build: {e}") from None


def check_frames(task: Task, frames: int, name: str) -> None:
    if task.max_frames is not None and frames > task.max_frames:
        raise UsageError(
            f"--frames {frames} is more than {name} takes: at most {task.max_frames} frames per clip",
            hint=f"--frames {task.max_frames} or fewer (its positional table has {task.max_frames} rows)",
        )


def procedural_note(sources: str | Path | None, size: tuple[int, int]) -> str:
    """What to tell a user whose held-out clips of `size` (W, H) are all procedural scenes."""
    w, h = size
    why = f"no held-out photo in {sources} fits clips of {w}x{h}" if sources else "no --sources"
    return f"{why}: the validation figures are on procedural scenes, not on real footage"


class _Abandoned(Exception):
    """A validation given up, as `abandon` asked."""


@torch.no_grad()
def validate(
    task: Task, model: nn.Module, clips: Dataset, device: torch.device, abandon: Callable[[], bool] | None = None
) -> dict[str, float] | None:
    """Mean PSNR/SSIM over all frames of `clips`: of the blurred input and of the model's output. None where
    `abandon()` turned true on the way (asked between clips and between a sampler's steps): a run asked to
    stop does not wait minutes for figures that change no weight."""

    def on_step(done: int, total: int) -> None:
        if abandon is not None and abandon():
            raise _Abandoned

    sums = {"psnr_in": 0.0, "psnr": 0.0, "ssim_in": 0.0, "ssim": 0.0}
    count = 0
    try:
        for i in range(len(clips)):
            if abandon is not None and abandon():
                return None
            blurred, sharp = clips[i]
            restored = restore_padded(task, model, blurred, device, on_step if abandon is not None else None)
            sums["psnr_in"] += float(psnr(blurred, sharp).sum())
            sums["psnr"] += float(psnr(restored, sharp).sum())
            sums["ssim_in"] += float(ssim(blurred, sharp).sum())
            sums["ssim"] += float(ssim(restored, sharp).sum())
            count += blurred.shape[0]
    except _Abandoned:
        return None
    return {k: v / max(count, 1) for k, v in sums.items()}


@torch.no_grad()
def restore_padded(
    task: Task, model: nn.Module, clip: torch.Tensor, device: torch.device,
    on_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:  # fmt: skip
    """clip (T, 3, H, W) of any size -> restored (T, 3, H, W) in [0, 1] on the CPU; pads once for the model."""
    padded, size = pad_to_multiple(clip[None].to(device), task.multiple)
    return crop_to(task.restore(model, padded, on_step), size)[0].float().clamp(0, 1).cpu()
