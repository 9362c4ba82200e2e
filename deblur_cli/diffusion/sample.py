"""Restoring a window with the diffusion model: run DDIM `samples` times, average (SA-K)."""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from deblur_cli.diffusion.ddim import ddim_timesteps, sample_ddim
from deblur_cli.diffusion.noise import frame_noise
from deblur_cli.diffusion.schedule import DiffusionConfig, Schedule
from deblur_cli.diffusion.space import base_of, condition_input, from_model_space, x0_bounds


@torch.no_grad()
def sample(
    model: Callable[[Tensor, Tensor, Tensor], Tensor],
    cond: Tensor,
    *,
    steps: int,
    eta: float = 0.0,
    seed: int | None = None,
    first_frames: Sequence[int] | None = None,
    samples: int = 1,
    callback: Callable[[int, int], None] | None = None,
    spacing: str = "trailing",
    diffusion: DiffusionConfig = DiffusionConfig(),
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Sharp frames for the condition `cond`.

    cond: (B, F, 3, H, W) float in [0, 1]: the blurry frames, or a restored estimate when
    diffusion.condition is "residual"; H and W multiples of the model's `multiple` attribute, where it has
    one (the callers pad once, with tiles.pad_to_multiple, and crop what comes back). The model is called as
    model(x_t, cond, t) in `dtype` (default: cond's; a bf16 model takes bf16 inputs), while the sampler's own
    arithmetic runs in at least float32, and so does the estimate a residual sample is added to: float32 cond
    with a bf16 model keeps the frames' precision, which bf16's 8 significant bits would not.
    steps: DDIM steps, 1..T; eta: 0 = deterministic; samples: K independent samples averaged in
    pixel space (the paper's SA-K); callback(done, total) after every step of every sample. Returns
    (B, F, 3, H, W) in [0, 1], cond's dtype and device.

    The noise is drawn frame by frame (diffusion/noise.py): item b's frames are frames
    first_frames[b], first_frames[b] + 1, ... of a video (default: 0, 1, ... for every item), and each
    draws from `seed` and its index alone (None: unseeded). So a batch of B windows gives what B calls
    give, to float rounding, and a frame gets the same noise in every window that holds it.
    """
    if cond.ndim != 5 or cond.shape[2] != 3:
        raise ValueError(f"condition must be (B, F, 3, H, W), got {tuple(cond.shape)}")
    if samples < 1:
        raise ValueError(f"samples must be ≥ 1, got {samples}")
    m = getattr(model, "multiple", 1)
    if cond.shape[-2] % m or cond.shape[-1] % m:
        raise ValueError(
            f"frames of {cond.shape[-1]}x{cond.shape[-2]} are not multiples of the model's {m} a side: pad them first"
            " (tiles.pad_to_multiple)"
        )
    schedule = Schedule.from_config(diffusion)
    timesteps = ddim_timesteps(steps, schedule.num_train, spacing=spacing)
    # ᾱ near 1 and small step differences vanish in half precision: keep the sampler in float32+.
    work = cond.to(torch.promote_types(cond.dtype, torch.float32))
    base = base_of(work, diffusion)
    net_dtype = dtype or cond.dtype
    net_cond = condition_input(work).to(net_dtype)
    total = samples * steps

    def net(x_t: Tensor, c: Tensor, t: Tensor) -> Tensor:
        return model(x_t.to(net_dtype), c, t)

    firsts = [0] * len(work) if first_frames is None else list(first_frames)
    result = torch.zeros_like(work)
    for k in range(samples):
        progress = None if callback is None else (lambda i, _n, k=k: callback(k * steps + i, total))
        noise = frame_noise(seed, firsts, k, work.device)
        x0 = sample_ddim(
            net, noise(work), net_cond, timesteps, schedule,
            eta=eta, noise=noise, clip=x0_bounds(base, diffusion.scale), callback=progress,
        )  # fmt: skip
        result += from_model_space(x0, base, diffusion.scale).clamp(0.0, 1.0)
    return (result / samples).to(cond.dtype)
