"""The WTSA UNet: window bookkeeping, attention locality, shapes, frame limits, weight files."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from deblur_cli.checkpoint import read_checkpoint, save_checkpoint
from deblur_cli.diffusion import DiffusionConfig, diffusion_loss
from deblur_cli.errors import WeightsError
from deblur_cli.models.dstnet import DSTNet, DSTNetConfig
import torch.nn.functional as F

from deblur_cli.models import wtsa_attention
from deblur_cli.models.wtsa_attention import WTSA, WindowAttention, relative_position_index, window_partition, window_unpartition
from deblur_cli.models.wtsa_unet import WTSA_VARIANTS, WTSAConfig, WTSAUNet
from deblur_cli.wtsa_weights import load_wtsa, save_wtsa

TINY = WTSAConfig(channels=(8, 16), blocks_per_stage=1, windows=(3, 2), heads=(1, 2), max_frames=4, time_dim=16, groups=4)


def tiny_model(seed: int = 0) -> WTSAUNet:
    torch.manual_seed(seed)
    model = WTSAUNet(TINY).eval()
    # The head starts at zero (the model outputs 0 whatever its input); give it weights so the tests see the whole path.
    torch.nn.init.normal_(model.head.weight, std=0.1)
    return model


@pytest.mark.parametrize("m, h, w", [(2, 4, 6), (3, 6, 9), (4, 8, 4)])
def test_window_partition_roundtrip(m, h, w):
    x = torch.randn(2, 3, h, w, 5)
    windows = window_partition(x, m)
    assert windows.shape == (2 * (h // m) * (w // m), 3 * m * m, 5)
    assert torch.equal(window_unpartition(windows, m, 2, h, w), x)


def test_window_partition_token_order():
    """Window (b, row, col) holds token f·m² + i·m + j = x[b, f, row·m + i, col·m + j]."""
    m, h, w = 2, 4, 6
    x = torch.randn(2, 3, h, w, 5)
    windows = window_partition(x, m)
    b, row, col, f, i, j = 1, 1, 2, 2, 1, 0
    index = (b * (h // m) + row) * (w // m) + col
    assert torch.equal(windows[index, f * m * m + i * m + j], x[b, f, row * m + i, col * m + j])


def test_relative_position_index_m2():
    # tokens (0,0) (0,1) (1,0) (1,1); index = (Δi + 1)·3 + (Δj + 1)
    expected = torch.tensor([[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]])
    assert torch.equal(relative_position_index(2), expected)


def test_bias_repeats_over_frame_pairs():
    attn = WindowAttention(dim=8, heads=2, window=2)
    bias = attn.bias(frames=3)
    assert bias.shape == (1, 2, 12, 12)
    table, index = attn.bias_table, relative_position_index(2)
    for f1, f2, p, q, head in [(0, 0, 0, 3, 0), (1, 2, 1, 2, 1), (2, 0, 3, 0, 1)]:
        assert bias[0, head, f1 * 4 + p, f2 * 4 + q] == table[index[p, q], head]


def _module_change(h: int, w: int, changed: tuple[int, int, int], window: int = 2):
    """Output change of one WTSA module when one input token (frame, row, col) changes."""
    torch.manual_seed(0)
    module = WTSA(dim=8, heads=2, window=window, mlp_ratio=2.0).eval()
    x = torch.randn(1, 3, h, w, 8)
    y = x.clone()
    y[(0, *changed)] = torch.randn(8)  # a new vector, not a shift: LayerNorm would cancel a constant
    with torch.no_grad():
        return (module(y) - module(x)).abs().sum(dim=-1)[0]  # (F, H, W)


def test_wtsa_mixes_frames_within_a_window():
    diff = _module_change(4, 4, changed=(0, 0, 0))
    assert diff[2, 1, 1] > 1e-4  # another frame, another pixel, same window


@pytest.mark.parametrize("h, w", [(4, 4), (5, 7)])  # 5×7 exercises the padding to the window size
def test_wtsa_respects_windows(h, w):
    diff = _module_change(h, w, changed=(1, 0, 0))
    assert diff[:, :2, :2].amax() > 1e-4
    outside = diff.clone()
    outside[:, :2, :2] = 0
    assert outside.amax() == 0


def _wtsa_by_definition(module: WTSA, x: torch.Tensor) -> torch.Tensor:
    """x + attention(zero-padded norm1(x)) on the window grid, cropped; then + mlp(norm2(.)), on the whole image."""
    b, f, h, w, _ = x.shape
    m = module.attn.window
    normed = F.pad(module.norm1(x), (0, 0, 0, -w % m, 0, -h % m))
    attended = module.attn(window_partition(normed, m), module.attn.bias(f))
    x = x + window_unpartition(attended, m, b, normed.shape[2], normed.shape[3])[:, :, :h, :w]
    return x + module.mlp(module.norm2(x))


@pytest.mark.parametrize("budget", [None, 1])  # the default chunks, and one window per chunk
@pytest.mark.parametrize("h, w, m", [(8, 12, 4), (6, 7, 3), (4, 9, 4), (6, 6, 6)])  # (6, 6, 6): one window per clip
def test_wtsa_module_runs_in_chunks_of_windows_exactly(monkeypatch, budget, h, w, m):
    """The module partitions once and runs norms, attention, MLP and residuals chunk by chunk of
    windows: the same numbers, and the same gradients, as the formula on the whole image."""
    if budget is not None:
        monkeypatch.setattr(wtsa_attention, "_CPU_CHUNK_BYTES", budget)
    torch.manual_seed(0)
    module = WTSA(dim=8, heads=2, window=m, mlp_ratio=2.0).double()
    for p in module.parameters():
        p.data.add_(torch.randn_like(p) * 0.1)
    x = torch.randn(2, 3, h, w, 8, dtype=torch.float64)
    kept = x.clone()
    with torch.no_grad():
        # the same sums, grouped by chunk: a few last-bit differences where the CPU's matmul blocks by size
        # (measured 6.7e-16 on an AMD EPYC, none on an Intel Xeon)
        torch.testing.assert_close(module(x), _wtsa_by_definition(module, x), rtol=0, atol=1e-12)
    assert torch.equal(x, kept)  # the in-place chunks never write into the caller's tensor
    x.requires_grad_()
    (grad,) = torch.autograd.grad(module(x).square().sum(), x)
    (expected,) = torch.autograd.grad(_wtsa_by_definition(module, x).square().sum(), x)
    assert torch.allclose(grad, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("frames", [1, 2, 3, 4])
@pytest.mark.parametrize("h, w", [(6, 10), (2, 14)])
def test_unet_shapes(frames, h, w):
    model = tiny_model()
    x = torch.randn(2, frames, 3, h, w)
    with torch.no_grad():
        out = model(x, torch.rand_like(x), torch.tensor([0, 999]))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_unet_rejects_too_many_frames():
    model = tiny_model()
    x = torch.randn(1, 5, 3, 4, 4)
    with pytest.raises(ValueError, match="5 frames per window exceed .* 4"):
        model(x, x, torch.tensor([1]))


def test_unet_rejects_size_off_multiple():
    model = tiny_model()
    x = torch.randn(1, 2, 3, 5, 4)
    with pytest.raises(ValueError, match="multiple of 2"):
        model(x, x, torch.tensor([1]))


def test_bf16_forward_close_to_fp32():
    """The half-precision path (bias mask cast to the query dtype, embedding in the model's dtype)."""
    model = tiny_model()
    for p in model.parameters():  # leave the zero-initialised branches: exercise every layer
        p.data.add_(torch.randn(p.shape) * 0.05)
    x = torch.randn(1, 3, 3, 8, 12)
    cond, t = torch.rand_like(x), torch.tensor([300])
    with torch.no_grad():
        reference = model(x, cond, t)
        half = model.to(torch.bfloat16)(x.bfloat16(), cond.bfloat16(), t)
    assert half.dtype == torch.bfloat16
    assert (half.float() - reference).abs().amax() < 0.05 * reference.abs().amax()


def test_unet_frames_interact():
    """Changing frame 0 of the condition changes the prediction for frame 2."""
    model = tiny_model()
    x = torch.randn(1, 3, 3, 8, 8)
    cond = torch.rand_like(x)
    changed = cond.clone()
    changed[:, 0] = torch.rand_like(changed[:, 0])
    t = torch.tensor([500])
    with torch.no_grad():
        assert (model(x, cond, t)[:, 2] - model(x, changed, t)[:, 2]).abs().amax() > 1e-5


def test_variants_build():
    assert WTSA_VARIANTS["wtsa"].channels == (64, 128, 256)
    assert WTSA_VARIANTS["wtsa"].windows == (6, 4, 3, 2)
    small = sum(p.numel() for p in WTSAUNet(WTSA_VARIANTS["wtsa-s"]).parameters())
    full = sum(p.numel() for p in WTSAUNet(WTSA_VARIANTS["wtsa"]).parameters())
    assert small < full


def test_loss_trains_tiny_model():
    """A few Adam steps on one fixed clip, timestep and noise lower the loss."""
    model = WTSAUNet(TINY)
    torch.manual_seed(1)
    sharp, blurry = torch.rand(1, 2, 3, 8, 8), torch.rand(1, 2, 3, 8, 8)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = diffusion_loss(model, sharp, blurry, generator=torch.Generator().manual_seed(0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_weights_roundtrip(tmp_path):
    model = tiny_model()
    diffusion = DiffusionConfig(prediction="eps")
    path = tmp_path / "tiny.safetensors"
    save_wtsa(model, path, diffusion=diffusion)
    loaded, loaded_diffusion, prior = load_wtsa(path)
    assert loaded.config == TINY and loaded_diffusion == diffusion and prior is None
    x = torch.randn(1, 2, 3, 6, 6)
    t = torch.tensor([10])
    with torch.no_grad():
        assert torch.equal(loaded(x, x, t), model(x, x, t))


def test_residual_weights_carry_their_prior(tmp_path):
    model = tiny_model()
    torch.manual_seed(1)
    dstnet = DSTNet(DSTNetConfig(feat=8, blocks=1)).eval()
    diffusion = DiffusionConfig(condition="residual", scale=6.0)
    path = tmp_path / "residual.safetensors"
    save_wtsa(model, path, diffusion=diffusion, prior=dstnet)
    loaded, loaded_diffusion, prior = load_wtsa(path)
    assert loaded_diffusion == diffusion and prior.config == dstnet.config
    x = torch.rand(1, 2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(prior(x), dstnet(x))
        assert torch.equal(loaded(x, x, torch.tensor([3])), model(x, x, torch.tensor([3])))


def test_a_prior_goes_with_the_residual_condition_only(tmp_path):
    model, dstnet = tiny_model(), DSTNet(DSTNetConfig(feat=8, blocks=1))
    with pytest.raises(WeightsError, match="needs the DSTNet"):
        save_wtsa(model, tmp_path / "a.safetensors", diffusion=DiffusionConfig(condition="residual"))
    with pytest.raises(WeightsError, match="holds a DSTNet prior, which only a diffusion model that corrects it"):
        save_wtsa(model, tmp_path / "b.safetensors", diffusion=DiffusionConfig(), prior=dstnet)
    # a file edited to drop its prior is refused on loading, not run without one
    path = tmp_path / "c.safetensors"
    save_wtsa(model, path, diffusion=DiffusionConfig(condition="residual"), prior=dstnet)
    state, metadata = read_checkpoint(path)
    kept = {k: v for k, v in state.items() if not k.startswith("prior.")}
    save_file(kept, str(path), metadata=metadata)
    with pytest.raises(WeightsError, match="needs the DSTNet"):
        load_wtsa(path)
    # its metadata dropped instead: what is missing is said ("its config" was blamed, of a file without one)
    save_wtsa(model, path, diffusion=DiffusionConfig(condition="residual"), prior=dstnet)
    state, _ = read_checkpoint(path)
    save_file(state, str(path))
    with pytest.raises(WeightsError, match="and no metadata saying how it was trained"):
        load_wtsa(path, variant="wtsa-s")


def test_weights_without_metadata_need_a_variant(tmp_path):
    path = tmp_path / "legacy.pth"
    model = WTSAUNet(WTSA_VARIANTS["wtsa-s"])
    torch.save({"params": model.state_dict()}, path)
    with pytest.raises(WeightsError, match="no WTSA config"):
        load_wtsa(path)
    loaded, _, _ = load_wtsa(path, variant="wtsa-s")
    assert loaded.config == WTSA_VARIANTS["wtsa-s"]


def test_weights_of_another_shape_are_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    model = tiny_model()
    config = {"model": {**TINY.__dict__, "channels": [16, 32]}, "diffusion": DiffusionConfig().__dict__}
    save_checkpoint(model.state_dict(), path, architecture="wtsa", config=config)
    with pytest.raises(WeightsError, match="does not fit"):
        load_wtsa(path)


def _diffusion_dict(**changes) -> dict:
    return {**DiffusionConfig().__dict__, **changes}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model": {"groups": 0}, "diffusion": {}}, "WTSAConfig.groups = 0 in its metadata is not a usable int"),
        ({"model": {"channels": ["8", 16]}, "diffusion": {}}, 'WTSAConfig.channels = \\["8", 16\\]'),
        ({"model": {"mlp_ratio": "2"}, "diffusion": {}}, 'WTSAConfig.mlp_ratio = "2" in its metadata is not a usable float'),
        ({"model": {"mlp_ratio": float("nan")}, "diffusion": {}}, "WTSAConfig.mlp_ratio = NaN"),
        ({"model": {"heads": [3, 2]}, "diffusion": {}}, "cannot build the WTSA model its metadata describes: 8 channels cannot be split into 3 heads"),
        ({"model": {"channels": [8, 16, 32]}, "diffusion": {}}, "unusable WTSAConfig in its metadata: heads"),
        ({"model": {}, "diffusion": {"condition": 1}}, "DiffusionConfig.condition = 1 "),
        # finite in Python, infinite in float32: every frame of a run came out black, and the run succeeded
        ({"model": {}, "diffusion": {"scale": 1e200}}, r"DiffusionConfig.scale = 1e\+200 in its metadata is not a usable"),
        ({"model": {}, "diffusion": {"scale": 10**400}}, r"DiffusionConfig.scale = 1000000000\d+ in its metadata"),
        ({"model": {}, "diffusion": {"beta_end": 2.0}}, "unusable DiffusionConfig in its metadata: need T"),
        ({"model": [], "diffusion": {}}, "the WTSAConfig in its metadata is not a JSON object"),
        # far more blocks than the file has tensors for: refused at once, not after minutes of building
        ({"model": {"blocks_per_stage": 10**6}, "diffusion": {}}, "describes a WTSA model of 6000000 modules or more"),
    ],
)
def test_config_metadata_that_is_not_a_usable_config_is_refused(tmp_path, config, message):
    config = {"model": {**TINY.__dict__, **config["model"]}, "diffusion": _diffusion_dict(**config["diffusion"])} if isinstance(config["model"], dict) else config
    path = tmp_path / "crafted.safetensors"
    save_checkpoint(tiny_model().state_dict(), path, architecture="wtsa", config=config)
    with pytest.raises(WeightsError, match=message):
        load_wtsa(path)


@pytest.mark.parametrize(
    ("prior", "message"),
    [
        ("dstnet", 'its metadata describes no DSTNet prior: "dstnet"'),
        ({"architecture": "dstnet", "config": {"feat": "8", "blocks": 1}}, 'DSTNetConfig.feat = "8"'),
        ({"architecture": "unet"}, "describes no DSTNet prior"),
    ],
)
def test_a_prior_described_wrongly_is_refused(tmp_path, prior, message):
    dstnet = DSTNet(DSTNetConfig(feat=8, blocks=1))
    state = {**tiny_model().state_dict(), **{f"prior.{k}": v for k, v in dstnet.state_dict().items()}}
    config = {"model": TINY.__dict__, "diffusion": _diffusion_dict(condition="residual"), "prior": prior}
    path = tmp_path / "crafted.safetensors"
    save_checkpoint(state, path, architecture="wtsa", config=config)
    with pytest.raises(WeightsError, match=message):
        load_wtsa(path)


@pytest.mark.parametrize(("config", "message"), [({"diffusion": {}}, "is missing 'model'"), ({}, "is missing 'model' and 'diffusion'")])
def test_a_wtsa_config_missing_its_parts_says_which(tmp_path, config, message):
    path = tmp_path / "crafted.safetensors"
    save_checkpoint(tiny_model().state_dict(), path, architecture="wtsa", config=config)
    with pytest.raises(WeightsError, match=f"crafted.safetensors: the WTSA config in its metadata {message}$"):
        load_wtsa(path)


def test_an_official_dstnet_pth_given_to_wtsa_is_named_as_such(tmp_path):
    path = tmp_path / "official_dstnet.pth"
    torch.save({"params": DSTNet(DSTNetConfig(feat=8, blocks=1)).state_dict()}, path)
    with pytest.raises(WeightsError, match="official_dstnet.pth holds DSTNet weights, not a WTSA diffusion model's") as info:
        load_wtsa(path, variant="wtsa")
    assert "--model dstnet" in info.value.hint


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_an_unrelated_file_without_metadata_is_said_not_to_hold_wtsa_weights(tmp_path, suffix):
    """It was told of "metadata" describing a model, which the file does not have, and that it was damaged."""
    path = tmp_path / f"other{suffix}"
    if suffix == ".pth":
        torch.save({"a": torch.zeros(3)}, path)
    else:
        save_file({"a": torch.zeros(3)}, str(path))
    with pytest.raises(WeightsError, match=f"^other{suffix} does not hold WTSA weights: 1 tensor, where wtsa-s has"):
        load_wtsa(path, variant="wtsa-s")


def test_dstnet_weights_are_named_as_such(tmp_path):
    from deblur_cli.dstnet_weights import save_dstnet

    path = tmp_path / "fast.safetensors"
    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), path)
    with pytest.raises(WeightsError, match="fast.safetensors holds dstnet weights, not a WTSA diffusion model's"):
        load_wtsa(path)


def test_the_frames_a_window_learned_are_the_positional_rows_training_changed():
    """Tables start at zero and windows of F frames train only their first F rows: a window longer than
    training's gets positions the network never saw (run warns of it)."""
    model = WTSAUNet(TINY)
    assert model.learned_frames() == TINY.max_frames  # untrained: nothing to say
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("frame_pos"):
                parameter[:2] = 0.5
    assert model.learned_frames() == 2
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if n.endswith("frame_pos"))[2] = 0.1  # one table went further
    assert model.learned_frames() == 3
