"""Where the diffusion runs: pixel frames in [0, 1] ↔ the model's space, for either condition.

x0 = 2·(sharp − base), where base is 0.5 for the "blurry" condition (so x0 = 2·sharp − 1, in
[−1, 1]) and the estimate itself for the "residual" condition (x0 = twice the correction the
estimate needs). The condition always enters the network as 2·cond − 1.
"""

from __future__ import annotations

from torch import Tensor

from deblur_cli.diffusion.schedule import DiffusionConfig


def base_of(cond: Tensor, config: DiffusionConfig) -> Tensor | float:
    """What x0 is measured from: 0.5 ("blurry") or the condition itself ("residual")."""
    return cond if config.condition == "residual" else 0.5


def to_model_space(sharp: Tensor, base: Tensor | float) -> Tensor:
    """Sharp frames in [0, 1] -> x0."""
    return 2.0 * (sharp - base)


def from_model_space(x0: Tensor, base: Tensor | float) -> Tensor:
    """x0 -> frames (not clamped)."""
    return base + 0.5 * x0


def condition_input(cond: Tensor) -> Tensor:
    """The condition as the network sees it: [0, 1] -> [−1, 1]."""
    return 2.0 * cond - 1.0


def x0_bounds(base: Tensor | float) -> tuple[Tensor | float, Tensor | float]:
    """The x0 range whose frames stay in [0, 1]."""
    return -2.0 * base, 2.0 * (1.0 - base)
