"""Where the diffusion runs: pixel frames in [0, 1] ↔ the model's space, for either condition.

x0 = 2·scale·(sharp − base), where base is 0.5 for the "blurry" condition (so x0 = 2·sharp − 1, in
[−1, 1], with the default scale 1) and the estimate itself for the "residual" condition (x0 = the
correction the estimate needs, times 2·scale: a good estimate leaves a correction far smaller than the
noise, and the scale lifts it back to the noise's size). The condition always enters the network as
2·cond − 1.
"""

from __future__ import annotations

from torch import Tensor

from deblur_cli.diffusion.schedule import DiffusionConfig


def base_of(cond: Tensor, config: DiffusionConfig) -> Tensor | float:
    """What x0 is measured from: 0.5 ("blurry") or the condition itself ("residual")."""
    return cond if config.condition == "residual" else 0.5


def to_model_space(sharp: Tensor, base: Tensor | float, scale: float = 1.0) -> Tensor:
    """Sharp frames in [0, 1] -> x0."""
    return (2.0 * scale) * (sharp - base)


def from_model_space(x0: Tensor, base: Tensor | float, scale: float = 1.0) -> Tensor:
    """x0 -> frames (not clamped)."""
    return base + x0 / (2.0 * scale)


def condition_input(cond: Tensor) -> Tensor:
    """The condition as the network sees it: [0, 1] -> [−1, 1]."""
    return 2.0 * cond - 1.0


def x0_bounds(base: Tensor | float, scale: float = 1.0) -> tuple[Tensor | float, Tensor | float]:
    """The x0 range whose frames stay in [0, 1]."""
    return -2.0 * scale * base, 2.0 * scale * (1.0 - base)
