"""DDIM sampling (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models"): free functions
over any callable model, holding no model state."""

from __future__ import annotations

import math

from typing import Callable

import torch
from torch import Tensor

from deblur_cli.diffusion.schedule import Schedule

SPACINGS = ("leading", "trailing", "linspace")


def ddim_timesteps(steps: int, num_train: int = 1000, *, spacing: str = "leading", offset: int = 1) -> Tensor:
    """The `steps` timesteps a sampler visits, noisiest first, as int64 in [0, num_train).

    - "leading": k·(T // steps) + offset for k = 0..steps−1 (DDIM's original choice); offset is
      lowered where needed so the last timestep stays below T. 5 of 1000 → [801, 601, 401, 201, 1].
    - "trailing": round((k + 1)·T/steps) − 1; always starts at T − 1, the level nearest pure noise.
      5 of 1000 → [999, 799, 599, 399, 199].
    - "linspace": round(linspace(0, T − 1, steps)); both ends pinned. 5 of 1000 → [999, 749, 500, 250, 0].
    `offset` applies to "leading" only; the other spacings fix their end points.
    """
    if not 1 <= steps <= num_train:
        raise ValueError(f"steps must be between 1 and {num_train}, got {steps}")
    if spacing == "leading":
        ratio = num_train // steps
        offset = max(0, min(offset, num_train - 1 - ratio * (steps - 1)))
        t = torch.arange(steps, dtype=torch.int64) * ratio + offset
    elif spacing == "trailing":
        t = torch.round(torch.arange(1, steps + 1, dtype=torch.float64) * (num_train / steps)).long() - 1
    elif spacing == "linspace":
        t = torch.round(torch.linspace(0, num_train - 1, steps, dtype=torch.float64)).long()
    else:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    return t.flip(0)


@torch.no_grad()
def sample_ddim(
    model: Callable[[Tensor, Tensor, Tensor], Tensor],
    x: Tensor,
    cond: Tensor,
    timesteps: Tensor,
    schedule: Schedule,
    *,
    eta: float = 0.0,
    noise: Callable[[Tensor], Tensor] | None = None,
    clip: tuple[Tensor | float, Tensor | float] | None = None,
    callback: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Run DDIM from x (the sample at timesteps[0], usually pure noise) down to x0.

    model(x_t, cond, t) returns the network output (v or ε, per `schedule`) for x_t (B, ...), t (B,).
    timesteps: decreasing int64 timesteps (see ddim_timesteps). eta: 0 = deterministic DDIM,
    1 = DDPM-like ancestral noise, each step's drawn as noise(x) (default: torch's own draws).
    clip: (low, high) bounds for the predicted x0, if any.
    callback(done, total) after every step. Returns the final x0 estimate, x's shape and dtype.
    """
    if not 0.0 <= eta < math.inf:
        raise ValueError(f"eta must be finite and ≥ 0, got {eta}")
    total = len(timesteps)
    batch = x.shape[0]
    for i, t in enumerate(timesteps.tolist()):
        t_batch = torch.full((batch,), t, dtype=torch.int64, device=x.device)
        a_t = schedule.alpha_bar(t_batch, x)
        # The step after the last timestep lands on clean data, ᾱ = 1 (so the result is x̂0 itself).
        a_prev = schedule.alpha_bar(timesteps[i + 1 : i + 2].expand(batch), x) if i + 1 < total else torch.ones_like(a_t)

        # 1. network output at x_t
        out = model(x, cond, t_batch).to(x.dtype)
        # 2. predicted x0 and noise — DDIM eq. (12), "predicted x0" term, and eq. (9)
        x0, eps = schedule.split(out, x, a_t)
        del out  # whole-frame tensors add up in tiles (restorers.py): x0, which split made, is updated in place
        if clip is not None:
            x0.clamp_(clip[0], clip[1])
            # keep the step on the line through x_t: re-derive ε from the clipped x0 (eq. 4 solved for ε)
            eps = (x - a_t.sqrt() * x0) / (1.0 - a_t).sqrt()
        # 3. σ_t — DDIM eq. (16), scaled by η
        sigma = eta * ((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev)).sqrt()
        # 4. direction pointing to x_t — DDIM eq. (12), middle term
        direction = (1.0 - a_prev - sigma**2).clamp_min(0.0).sqrt() * eps
        del eps
        # 5. x_{t−1} — DDIM eq. (12)
        x = x0.mul_(a_prev.sqrt()).add_(direction)
        del x0, direction
        if eta > 0 and i + 1 < total:
            x = x + sigma * (torch.randn_like(x) if noise is None else noise(x))
        if callback is not None:
            callback(i + 1, total)
    return x
