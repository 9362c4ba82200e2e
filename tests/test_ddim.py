"""DDIM timesteps, the sampler's exactness with an oracle model, seeding, SA-K averaging, the loss."""

from __future__ import annotations

import importlib

import pytest
import torch

from deblur_cli.diffusion import SPACINGS, DiffusionConfig, Schedule, ddim_timesteps, diffusion_loss, sample, sample_ddim
from deblur_cli.diffusion.noise import frame_noise
from deblur_cli.diffusion.space import base_of, from_model_space, to_model_space, x0_bounds
from deblur_cli.models.wtsa_unet import WTSAConfig, WTSAUNet
from deblur_cli.tiles import crop_to, pad_to_multiple

STEP_COUNTS = [1, 2, 5, 50, 1000]
SAMPLE_MODULE = importlib.import_module("deblur_cli.diffusion.sample")  # the package's `sample` is the function


class Oracle:
    """Knows the clean x0 (model space) and answers with the exact v or ε for any x_t."""

    def __init__(self, x0: torch.Tensor, schedule: Schedule, multiple: int = 1):
        self.x0, self.schedule, self.multiple = x0, schedule, multiple
        self.calls = 0
        self.noises = []  # the ε each visited x_t implies, in order

    def __call__(self, x_t, cond, t):
        self.calls += 1
        a = self.schedule.alpha_bar(t, x_t)
        noise = (x_t - a.sqrt() * self.x0) / (1.0 - a).sqrt()  # DDPM eq. 4 solved for ε
        self.noises.append(noise)
        return self.schedule.target(self.x0, noise, a)


def test_leading_golden():
    assert ddim_timesteps(5).tolist() == [801, 601, 401, 201, 1]


def test_other_spacings_golden():
    assert ddim_timesteps(5, spacing="trailing").tolist() == [999, 799, 599, 399, 199]
    assert ddim_timesteps(5, spacing="linspace").tolist() == [999, 749, 500, 250, 0]
    assert ddim_timesteps(1, spacing="trailing").tolist() == [999]


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("steps", [1, 3, 7, 333, 999, 1000])
def test_timesteps_distinct_decreasing_in_range(spacing, steps):
    t = ddim_timesteps(steps, spacing=spacing)
    assert t.dtype == torch.int64 and len(t) == steps
    assert (t[:-1] > t[1:]).all() and 0 <= int(t.min()) and int(t.max()) <= 999


def test_leading_offset_keeps_below_t():
    assert ddim_timesteps(1000).tolist() == list(range(999, -1, -1))


@pytest.mark.parametrize("steps, spacing", [(0, "leading"), (1001, "leading"), (5, "uniform")])
def test_timesteps_reject_bad_arguments(steps, spacing):
    with pytest.raises(ValueError):
        ddim_timesteps(steps, spacing=spacing)


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("steps", STEP_COUNTS)
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_oracle_returns_x0(prediction, spacing, steps, eta):
    schedule = Schedule.from_config(DiffusionConfig(prediction=prediction))
    gen = torch.Generator().manual_seed(steps)
    x0 = torch.rand(2, 3, 3, 4, 5, generator=gen, dtype=torch.float64) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    oracle = Oracle(x0, schedule)
    timesteps = ddim_timesteps(steps, spacing=spacing)
    draw = lambda x: torch.randn(x.shape, generator=gen, dtype=x.dtype)  # noqa: E731
    out = sample_ddim(oracle, noise, torch.zeros_like(x0), timesteps, schedule, eta=eta, noise=draw)
    assert oracle.calls == steps
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=0)


def test_deterministic_steps_keep_the_noise():
    """η = 0 with an exact x̂0 walks x_t = √ᾱ·x0 + √(1−ᾱ)·ε with one fixed ε (DDIM eq. 12, σ = 0)."""
    schedule = Schedule.from_config()
    x0 = torch.rand(1, 2, 3, 4, 4, dtype=torch.float64)
    noise = torch.randn(x0.shape, dtype=torch.float64)
    oracle = Oracle(x0, schedule)
    a_first = schedule.alphas_cumprod[999]
    x_first = a_first.sqrt() * x0 + (1 - a_first).sqrt() * noise
    sample_ddim(oracle, x_first, x0, ddim_timesteps(6, spacing="trailing"), schedule)
    assert len(oracle.noises) == 6
    for implied in oracle.noises:
        torch.testing.assert_close(implied, noise, atol=1e-9, rtol=0)


def test_stochastic_step_matches_eq16():
    """η = 1: the ε implied after one step correlates with the previous one by √(1 − σ²/(1 − ᾱ_prev)),
    σ from DDIM eq. (16), and keeps unit variance."""
    schedule = Schedule.from_config()
    gen = torch.Generator().manual_seed(0)
    x0 = torch.zeros(1, 1, 1, 200, 200, dtype=torch.float64)
    noise = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    oracle = Oracle(x0, schedule)
    timesteps = torch.tensor([900, 300])
    draw = lambda x: torch.randn(x.shape, generator=gen, dtype=x.dtype)  # noqa: E731
    sample_ddim(oracle, noise, x0, timesteps, schedule, eta=1.0, noise=draw)
    a_t, a_prev = schedule.alphas_cumprod[900], schedule.alphas_cumprod[300]
    sigma2 = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    first, second = oracle.noises[0].flatten(), oracle.noises[1].flatten()
    assert abs(second.std() - 1.0) < 0.02
    assert abs(torch.corrcoef(torch.stack([first, second]))[0, 1] - (1 - sigma2 / (1 - a_prev)).sqrt()) < 0.02


@pytest.mark.parametrize("condition,scale", [("blurry", 1.0), ("residual", 1.0), ("residual", 6.0)])
def test_sample_maps_pixels_of_frames_padded_as_the_callers_pad(condition, scale):
    """Through sample(): odd sizes padded to the model's multiple as the restorers pad (once, with
    tiles.pad_to_multiple) and cropped back, pixel ↔ model space, K = 2."""
    diffusion = DiffusionConfig(condition=condition, scale=scale)
    gen = torch.Generator().manual_seed(0)
    sharp = torch.rand(1, 2, 3, 5, 7, generator=gen, dtype=torch.float64)
    cond, size = pad_to_multiple(torch.rand(1, 2, 3, 5, 7, generator=gen, dtype=torch.float64), 4)  # to 8×8
    x0 = to_model_space(pad_to_multiple(sharp, 4)[0], base_of(cond, diffusion), scale)
    oracle = Oracle(x0, Schedule.from_config(diffusion), multiple=4)
    out = crop_to(sample(oracle, cond, steps=4, eta=0.5, seed=0, samples=2, diffusion=diffusion), size)
    assert out.shape == sharp.shape and out.dtype == torch.float64
    torch.testing.assert_close(out, sharp, atol=1e-5, rtol=0)


def test_sample_refuses_frames_not_padded_to_the_models_multiple():
    """sample() padded such frames itself (edge replication), a second padding rule beside the callers' own
    (structure54 F13); it now says what is wrong before any step."""
    oracle = Oracle(torch.zeros(1, 2, 3, 8, 8), Schedule.from_config(DiffusionConfig()), multiple=4)
    with pytest.raises(ValueError, match="frames of 7x5 are not multiples of the model's 4 a side: pad them first"):
        sample(oracle, torch.rand(1, 2, 3, 5, 7), steps=2, seed=0)
    assert oracle.calls == 0


def small_model() -> WTSAUNet:
    torch.manual_seed(0)
    config = WTSAConfig(channels=(8, 16), blocks_per_stage=1, windows=(2,), heads=(1, 1), max_frames=3, time_dim=16, groups=4)
    model = WTSAUNet(config).eval()
    torch.nn.init.normal_(model.head.weight, std=0.1)  # the zero-initialised head would make every output 0
    return model


def run(model, seed: int | None, eta: float, samples: int = 1, first_frames=None):
    cond = torch.rand(len(first_frames or [0]), 2, 3, 6, 6, generator=torch.Generator().manual_seed(123))
    return sample(model, cond, steps=3, eta=eta, seed=seed, samples=samples, first_frames=first_frames)


def test_same_seed_same_output():
    model = small_model()
    for eta in (0.0, 1.0):
        assert torch.equal(run(model, 7, eta), run(model, 7, eta))


def test_seeds_and_eta_change_the_output():
    model = small_model()
    assert not torch.allclose(run(model, 1, 1.0), run(model, 2, 1.0))
    assert not torch.allclose(run(model, 1, 0.0), run(model, 1, 1.0))


def test_samples_are_averaged(monkeypatch):
    """SA-K: K samples are the mean of K single samples, each with noise of its own. Here sample k of seed s
    draws what sample 0 of seed s + k draws, so seed 5's two samples are seed 5's and seed 6's single ones."""
    model = small_model()
    drawn = SAMPLE_MODULE.frame_noise
    shifted = lambda seed, firsts, k, device: drawn(seed + k, firsts, 0, device)  # noqa: E731
    monkeypatch.setattr(SAMPLE_MODULE, "frame_noise", shifted)
    for eta in (0.0, 1.0):
        first, second = run(model, 5, eta), run(model, 6, eta)
        assert not torch.allclose(first, second)
        torch.testing.assert_close(run(model, 5, eta, samples=2), (first + second) / 2)


def test_each_sample_draws_noise_of_its_own():
    model = small_model()
    starts = []

    def spy(x_t, c, t):
        if int(t[0]) == 999:  # the first step: x_t is the sample's starting noise
            starts.append(x_t.clone())
        return model(x_t, c, t)

    spy.multiple = model.multiple
    sample(spy, torch.rand(1, 2, 3, 8, 8), steps=2, samples=3, seed=4)
    assert len(starts) == 3 and not torch.equal(starts[0], starts[1]) and not torch.equal(starts[1], starts[2])
    torch.testing.assert_close(starts[2], frame_noise(4, [0], 2, torch.device("cpu"))(starts[2]))


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_a_batch_samples_each_window_as_alone(eta):
    """Each window's noise comes from its own frames, so a batch is its windows sampled one by one, with
    step noise (eta > 0) too."""
    model = small_model()
    together = run(model, 3, eta, first_frames=[0, 2])
    torch.testing.assert_close(together[0], run(model, 3, eta, first_frames=[0])[0])
    assert not torch.allclose(together[0], together[1])  # the same frames, other noise


def test_output_range_and_callback():
    model = small_model()
    seen = []
    cond = torch.rand(1, 3, 3, 6, 6)
    out = sample(model, cond, steps=3, samples=2, seed=0, callback=lambda done, total: seen.append((done, total)))
    assert out.shape == cond.shape and 0 <= out.min() and out.max() <= 1
    assert seen == [(i, 6) for i in range(1, 7)]


def test_bf16_model_keeps_a_float32_sampler():
    """A bf16 model gets bf16 inputs; the sampler state stays float32 and the result comes back in bf16."""
    model = small_model().to(torch.bfloat16)
    seen = []
    cond = torch.rand(1, 2, 3, 6, 6).to(torch.bfloat16)

    def spy(x_t, c, t):
        seen.append((x_t.dtype, c.dtype))
        return model(x_t, c, t)

    spy.multiple = model.multiple
    out = sample(spy, cond, steps=2, seed=0)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    assert seen == [(torch.bfloat16, torch.bfloat16)] * 2


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("condition,scale", [("blurry", 1.0), ("residual", 1.0), ("residual", 6.0)])
def test_loss_is_zero_for_the_oracle(prediction, condition, scale):
    diffusion = DiffusionConfig(prediction=prediction, condition=condition, scale=scale)
    gen = torch.Generator().manual_seed(0)
    sharp = torch.rand(3, 2, 3, 4, 4, generator=gen, dtype=torch.float64)
    cond = torch.rand(3, 2, 3, 4, 4, generator=gen, dtype=torch.float64)
    oracle = Oracle(to_model_space(sharp, base_of(cond, diffusion), scale), Schedule.from_config(diffusion))
    loss = diffusion_loss(oracle, sharp, cond, diffusion=diffusion, generator=gen)
    assert loss.ndim == 0 and loss.item() < 1e-12


def test_scale_lifts_the_residual_and_bounds_follow():
    """x0 = 2·scale·(sharp − base): the scale multiplies x0, and the bounds keep frames in [0, 1]."""
    sharp, base = torch.tensor([0.30, 1.0, 0.0]), torch.tensor([0.25, 0.5, 0.5])
    torch.testing.assert_close(to_model_space(sharp, base, 6.0), torch.tensor([0.6, 6.0, -6.0]))
    torch.testing.assert_close(from_model_space(to_model_space(sharp, base, 6.0), base, 6.0), sharp)
    low, high = x0_bounds(base, 6.0)
    torch.testing.assert_close(from_model_space(low, base, 6.0), torch.zeros(3))
    torch.testing.assert_close(from_model_space(high, base, 6.0), torch.ones(3))
    with pytest.raises(ValueError, match="scale"):
        DiffusionConfig(scale=0.0)


def test_loss_is_seeded():
    model = small_model()
    sharp, cond = torch.rand(2, 2, 3, 4, 4), torch.rand(2, 2, 3, 4, 4)
    losses = [diffusion_loss(model, sharp, cond, generator=torch.Generator().manual_seed(s)).item() for s in (3, 3, 4)]
    assert losses[0] == losses[1] != losses[2]
