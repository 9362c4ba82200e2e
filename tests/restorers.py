"""Stand-in restorers for pipeline tests (not user-facing models); for the tests that build real ones, the
config of a tiny WTSA network and a random clip."""

from __future__ import annotations

import torch

from deblur_cli.models.wtsa_unet import WTSAConfig
from deblur_cli.restorer import Restorer

TINY_WTSA = WTSAConfig(channels=(8, 16), blocks_per_stage=1, windows=(2,), heads=(1, 2), time_dim=16, max_frames=4)


class IdentityRestorer(Restorer):
    """Returns its input: split → restore → stitch must then reproduce the input exactly."""

    multiple = 16
    max_frames = None
    device = torch.device("cpu")
    bytes_per_pixel = 64.0

    def __init__(self):
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        assert frames.ndim == 4 and frames.shape[1] == 3
        assert frames.shape[-2] % self.multiple == 0 and frames.shape[-1] % self.multiple == 0
        self.calls.append(tuple(frames.shape))
        return frames.clone()


class InvertingRestorer(IdentityRestorer):
    """Returns 1 - x: far from the input everywhere but mid-grey, a result that cannot be mistaken for it."""

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        return 1 - super().__call__(frames)


class FailingRestorer(IdentityRestorer):
    """Raises after `after` windows: a run that dies part-way."""

    def __init__(self, after: int, error: BaseException):
        super().__init__()
        self.after = after
        self.error = error

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if len(self.calls) >= self.after:
            raise self.error
        return super().__call__(frames)


class MixingRestorer(IdentityRestorer):
    """Mixes each frame with its window's mean: deterministic, and each output depends on the whole
    window, so a window cut differently shows. Has an `identity`, so runs with it can be resumed."""

    def __init__(self, fail_after: int | None = None, error: BaseException | None = None, name: str = "mix"):
        super().__init__()
        self.identity = {"model": name}
        self.fail_after = fail_after
        self.error = error or KeyboardInterrupt()

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise self.error
        super().__call__(frames)
        return (frames + frames.mean(dim=0, keepdim=True)) / 2


def frames(t: int = 3, h: int = 32, w: int = 48) -> torch.Tensor:
    """A random clip (T, 3, H, W) in [0, 1], the same at each call."""
    return torch.rand(t, 3, h, w, generator=torch.Generator().manual_seed(1))
