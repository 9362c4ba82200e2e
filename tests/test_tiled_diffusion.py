"""A diffusion model in tiles: the sampler runs on whole frames, the network tile by tile, its outputs
blended at every step, so the noise (drawn for the whole frame) and the sample do not depend on the tiles."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from deblur_cli.diffusion import DiffusionConfig
from deblur_cli.models.dstnet import DSTNet, DSTNetConfig
from deblur_cli.models.wtsa_unet import WTSAUNet
from deblur_cli.restorers import DiffusionRestorer
from deblur_cli.stream import restore_stream
from deblur_cli.tiles import plan_tiles, restore_tiled
from deblur_cli.windows import WindowOptions
from tests.restorers import TINY_WTSA



class Pointwise(torch.nn.Module):
    """A network whose output at a pixel depends on that pixel alone (of x_t and the condition) and on
    t: tiles cannot change what it predicts, so a tiled sample must equal the whole frame's."""

    multiple = 4
    max_frames = None
    config = SimpleNamespace(channels=(8,))

    def __init__(self):
        super().__init__()
        self.mix = torch.nn.Conv2d(6, 3, 1)
        generator = torch.Generator().manual_seed(3)  # not the global one, which the restorers seed
        torch.nn.init.normal_(self.mix.weight, std=0.5, generator=generator)
        torch.nn.init.normal_(self.mix.bias, std=0.1, generator=generator)

    def forward(self, x_t, cond, t):
        b, f = x_t.shape[:2]
        x = torch.cat([x_t, cond], dim=2).flatten(0, 1)
        scale = (t.to(x.dtype) / 1000).repeat_interleave(f).view(-1, 1, 1, 1)
        return torch.tanh(self.mix(x) * (1 + scale)).view(b, f, 3, *x.shape[-2:])


def restorer(model=None, *, eta=0.0, samples=1, seed=5, steps=3, prior=None, condition="blurry"):
    model = Pointwise() if model is None else model
    diffusion = DiffusionConfig(condition=condition, scale=4.0 if condition == "residual" else 1.0)
    return DiffusionRestorer(
        model, diffusion, torch.device("cpu"), torch.float32,
        steps=steps, eta=eta, samples=samples, seed=seed, prior=prior,
    )  # fmt: skip


def clip(t=4, h=40, w=52, seed=1):
    return torch.rand(t, 3, h, w, generator=torch.Generator().manual_seed(seed))


def restored(r, frames, *, tile, batch=1, window=4, overlap=1):
    options = WindowOptions(window=window, overlap=overlap, batch=batch, tile=tile)
    with torch.inference_mode():
        return torch.stack(list(restore_stream(frames, r, options, tuple(frames.shape[-2:]))))


@pytest.mark.parametrize("eta, samples", [(0.0, 1), (0.0, 2), (1.0, 1)])
@pytest.mark.parametrize("tile", [8, 20, 36])
def test_a_tiled_sample_is_the_whole_frames_sample(eta, samples, tile):
    """Before, each tile drew its own noise: the sample changed with the tile size and two samples were
    blended in every overlap. Now the noise is the whole frame's, and so is the sample."""
    frames = clip(t=7)
    whole = restored(restorer(eta=eta, samples=samples), frames, tile=None)
    tiled = restored(restorer(eta=eta, samples=samples), frames, tile=tile)
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)


def test_the_network_sees_only_tiles_and_each_step_runs_every_tile_once():
    seen = []

    class Recording(Pointwise):
        def forward(self, x_t, cond, t):
            seen.append(tuple(x_t.shape[-2:]))
            return super().forward(x_t, cond, t)

    r = restorer(Recording(), steps=2)
    frames = clip(t=3, h=40, w=52)  # padded to 40 x 52
    grid = plan_tiles(40, 52, tile=24, overlap=8, multiple=4)
    with torch.inference_mode():
        restore_tiled(frames[None], r, multiple=4, tile=24, overlap=8, in_tiles=r.restore_in_tiles)
    assert len(grid) == 6 and len(seen) == 2 * len(grid)
    assert all(h <= 24 and w <= 24 for h, w in seen)


def test_tiles_of_a_real_network_agree_where_they_overlap():
    """With a network that sees its neighbours, tiles predict an overlap's pixels differently; blended at
    every step they settle on one sample, much closer to the whole frame's than tiles sampled alone."""
    torch.manual_seed(0)
    model = WTSAUNet(TINY_WTSA).eval()
    torch.nn.init.normal_(model.head.weight, std=0.2)
    frames = clip(t=4, h=32, w=48)
    whole = restored(restorer(model), frames, tile=None)
    tiled = restored(restorer(model), frames, tile=24)
    # tiles sampled separately, each from noise of its own (what the pipeline did before)
    r = restorer(model)
    with torch.inference_mode():
        separate = restore_tiled(frames, r, multiple=r.multiple, tile=24, overlap=8)
    assert (tiled - whole).abs().mean() < 0.5 * (separate - whole).abs().mean()


def test_tiled_windows_batch_as_they_do_whole():
    """Drawing for whole frames, a tiled diffusion model restores several windows per call and gives
    what one window per call gives."""
    frames = clip(t=10)
    alone = restored(restorer(), frames, tile=20, batch=1)
    together = restored(restorer(), frames, tile=20, batch=3)
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)


def test_a_residual_model_runs_its_prior_in_tiles_too():
    torch.manual_seed(0)
    prior = DSTNet(DSTNetConfig(feat=8, blocks=1)).eval()
    frames = clip(t=3, h=32, w=64)
    r = restorer(prior=prior, condition="residual")
    assert r.multiple == 16
    tiled = restored(r, frames, tile=32, window=3, overlap=0)
    whole = restored(restorer(prior=prior, condition="residual"), frames, tile=None, window=3, overlap=0)
    # the prior sees less context in tiles, so only the sample's noise is the same: close, not equal
    assert (tiled - whole).abs().mean() < 0.02
    assert tiled.shape == frames.shape
