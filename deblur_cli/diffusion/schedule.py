"""The DDPM noise schedule and the model's parameterisation (what the network predicts).

Timesteps are 0-based: t = 0 is the first and least noisy of T levels, ᾱ_t = ∏_{s≤t} (1 − β_s).
x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (DDPM eq. 4). The network predicts v = √ᾱ_t·ε − √(1 − ᾱ_t)·x0
(Salimans & Ho 2022) by default, or ε; docs/wtsa.md says why v.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

PREDICTIONS = ("v", "eps")
CONDITIONS = ("blurry", "residual")


@dataclass(frozen=True)
class DiffusionConfig:
    num_train: int = 1000  # T, diffusion steps in training (paper)
    beta_start: float = 1e-6  # β of the first step; betas rise linearly (paper)
    beta_end: float = 0.01  # β of the last step (paper)
    prediction: str = "v"  # network target: "v" (default, stable at every noise level) or "eps"
    condition: str = "blurry"  # "blurry": cond = blurry frames, x0 = sharp frames (paper);
    # "residual": cond = a restored estimate (e.g. DSTNet), x0 = sharp − estimate
    scale: float = 1.0  # x0 = 2·scale·(sharp − base): >1 lifts a small residual to the noise's scale

    def __post_init__(self):
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {self.condition!r}")
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")
        if self.num_train < 1 or not 0.0 < self.beta_start <= self.beta_end < 1.0:
            raise ValueError("need T ≥ 1 and 0 < beta_start ≤ beta_end < 1")


@dataclass(frozen=True, eq=False)  # a tensor field: compare schedules by their config
class Schedule:
    """ᾱ for every training timestep plus the parameterisation; build with Schedule.from_config."""

    config: DiffusionConfig
    alphas_cumprod: Tensor = field(repr=False)  # (T,) float64, ᾱ_t for t = 0..T−1

    @classmethod
    def from_config(cls, config: DiffusionConfig = DiffusionConfig()) -> Schedule:
        betas = torch.linspace(config.beta_start, config.beta_end, config.num_train, dtype=torch.float64)
        return cls(config, torch.cumprod(1.0 - betas, dim=0))

    @property
    def num_train(self) -> int:
        return self.config.num_train

    def alpha_bar(self, t: Tensor, like: Tensor) -> Tensor:
        """ᾱ_t for timesteps t (B,), shaped (B, 1, ...) to broadcast against `like`, in its dtype/device."""
        a = self.alphas_cumprod.to(t.device)[t]
        return a.reshape(-1, *([1] * (like.ndim - 1))).to(like.device, like.dtype)

    def target(self, x0: Tensor, noise: Tensor, alpha_bar: Tensor) -> Tensor:
        """What the network should output for x_t = √ᾱ·x0 + √(1−ᾱ)·noise."""
        if self.config.prediction == "eps":
            return noise
        return alpha_bar.sqrt() * noise - (1.0 - alpha_bar).sqrt() * x0

    def split(self, prediction: Tensor, x_t: Tensor, alpha_bar: Tensor) -> tuple[Tensor, Tensor]:
        """(x̂0, ε̂) implied by a network output at x_t; DDIM eq. (9) for ε, its v analogue for v."""
        a, s = alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt()
        if self.config.prediction == "eps":
            return (x_t - s * prediction) / a, prediction
        return a * x_t - s * prediction, s * x_t + a * prediction
