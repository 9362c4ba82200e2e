"""The training objective: mean squared error on the network's target (v or ε) at a random timestep."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from deblur_cli.diffusion.schedule import DiffusionConfig, Schedule
from deblur_cli.diffusion.space import base_of, condition_input, to_model_space


def diffusion_loss(
    model: Callable[[Tensor, Tensor, Tensor], Tensor],
    sharp: Tensor,
    cond: Tensor,
    *,
    diffusion: DiffusionConfig = DiffusionConfig(),
    generator: torch.Generator | None = None,
) -> Tensor:
    """sharp, cond: (B, F, 3, H, W) float in [0, 1], H and W multiples of the model's `multiple`;
    cond is the blurry clip or a restored estimate, per diffusion.condition.

    Draws one timestep t ~ U{0, …, T−1} per clip and ε ~ N(0, I) from `generator`, forms
    x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε (DDPM eq. 4) and returns the mean squared error between the
    network output and its target: a float32 scalar with a graph for backward.
    """
    if sharp.shape != cond.shape:
        raise ValueError(f"sharp {tuple(sharp.shape)} and condition {tuple(cond.shape)} differ")
    schedule = Schedule.from_config(diffusion)
    base = base_of(cond, diffusion)
    x0 = to_model_space(sharp, base, diffusion.scale)
    device = generator.device if generator is not None else sharp.device
    t = torch.randint(0, schedule.num_train, (sharp.shape[0],), generator=generator, device=device).to(sharp.device)
    noise = _gaussian_like(x0, generator)
    a = schedule.alpha_bar(t, x0)
    x_t = a.sqrt() * x0 + (1.0 - a).sqrt() * noise
    out = model(x_t, condition_input(cond), t)
    return F.mse_loss(out.float(), schedule.target(x0, noise, a).float())


def _gaussian_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise shaped like x, drawn on the generator's device so a seed means the same on any device."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
