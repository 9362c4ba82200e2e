"""DSTNet: equivalence with the official model, checkpoint compatibility, the dynamic filters, odd inputs.

tests/data/dstnet/ holds the reference data described in docs/dstnet.md: the official key list with
shapes, and random official-layout weights (feat 16, 3 blocks, float64) with an input window and the
output the official forward pass gives for it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from deblur_cli.checkpoint import read_metadata, save_checkpoint
from deblur_cli.dstnet_weights import config_from_state_dict, load_dstnet, save_dstnet
from deblur_cli.errors import WeightsError
from deblur_cli.models.dstnet import CWGDN, DSTNET_VARIANTS, DSTNet, DSTNetConfig
from deblur_cli.models.dynamic_filter import upsample_by_products, channel_filter_3x3, interpolation_matrix, pixel_filter_3x3
from deblur_cli.models.wavelet import HaarWavelet, analysis_kernel, haar_filters, synthesis_conv_kernel

DATA = Path(__file__).parent / "data" / "dstnet"
OFFICIAL_TENSORS = 292
OFFICIAL_NUMBERS = 7_450_819
HAAR_NUMBERS = 4 * 64 * 2 * 2


def _model(config: DSTNetConfig, seed: int = 0, dtype: torch.dtype = torch.float32) -> DSTNet:
    torch.manual_seed(seed)
    return DSTNet(config).to(dtype).eval()


def _frames(*shape: int, seed: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


@pytest.fixture(scope="module")
def golden() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    weights = load_file(DATA / "golden_dstnet_f16_b3_weights.safetensors")
    io = load_file(DATA / "golden_dstnet_f16_b3_io.safetensors")
    return weights, io


@pytest.fixture(scope="module")
def golden_model(golden) -> DSTNet:
    weights, _ = golden
    model = DSTNet(config_from_state_dict(weights)).double().eval()
    model.load_state_dict(weights, strict=True)
    return model


# Equivalence with the official model


def test_golden_output_matches_official_in_float64(golden, golden_model):
    _, io = golden
    assert golden_model.config == DSTNetConfig(feat=16, blocks=3)
    with torch.inference_mode():
        out = golden_model(io["input"])
    assert out.shape == io["output"].shape
    assert (out - io["output"]).abs().max().item() < 1e-8


def test_autograd_path_gives_the_same_output_and_true_gradients(golden, golden_model):
    _, io = golden
    x = io["input"][:, :3, :, :32, :48].clone()
    with torch.inference_mode():
        fast = golden_model(x)
    x.requires_grad_()
    out = golden_model(x)
    assert (out.detach() - fast).abs().max().item() < 1e-12
    out.square().mean().backward()
    grads = {name: p.grad for name, p in golden_model.named_parameters()}
    golden_model.zero_grad(set_to_none=True)
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads.values())

    # The input gradient passes through every in-place step; compare it with a central difference.
    direction = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype)
    eps = 1e-7
    with torch.no_grad():
        plus = golden_model(x + eps * direction).square().mean().item()
        minus = golden_model(x - eps * direction).square().mean().item()
    assert math.isclose((plus - minus) / (2 * eps), (x.grad * direction).sum().item(), rel_tol=1e-4)


def _official_state(seed: int = 0) -> dict[str, torch.Tensor]:
    shapes = json.loads((DATA / "official_state_dict_shapes_64_15.json").read_text())
    generator = torch.Generator().manual_seed(seed)
    state = {key: torch.randn(shape, generator=generator) for key, shape in shapes.items()}
    state["wave.haar_weights"] = haar_filters(64)
    return state


def test_official_key_list_loads_strictly_into_the_default_config():
    state = _official_state()
    assert len(state) == OFFICIAL_TENSORS
    assert sum(v.numel() for v in state.values()) == OFFICIAL_NUMBERS
    assert config_from_state_dict(state) == DSTNetConfig() == DSTNET_VARIANTS["dstnet"]
    model = DSTNet(DSTNetConfig())
    model.load_state_dict(state, strict=True)
    ours = model.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in state.items()}
    assert sum(v.numel() for v in ours.values()) == OFFICIAL_NUMBERS
    # The Haar filter bank is a buffer: part of the state dict, not a trainable parameter.
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_NUMBERS - HAAR_NUMBERS


def test_a_filter_bank_other_than_haar_is_refused():
    model = DSTNet(DSTNetConfig(feat=8, blocks=1))
    state = model.state_dict()
    state["wave.haar_weights"] = -state["wave.haar_weights"]
    with pytest.raises(RuntimeError, match="haar_weights"):
        model.load_state_dict(state)


def test_a_weights_file_with_another_filter_bank_is_a_weights_error_naming_it(tmp_path):
    state = DSTNet(DSTNetConfig(feat=8, blocks=1)).state_dict()
    state["wave.haar_weights"] = state["wave.haar_weights"] * 2
    torch.save({"params": state}, tmp_path / "haar.pth")
    with pytest.raises(WeightsError, match=r"^haar.pth does not fit DSTNet\(feat=8, blocks=1\): wave.haar_weights is not"):
        load_dstnet(tmp_path / "haar.pth")


# Weight files


def test_official_pth_with_module_prefix_loads(tmp_path):
    source = _model(DSTNetConfig(feat=8, blocks=2))
    path = tmp_path / "GOPRO.pth"
    torch.save({"params": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    model = load_dstnet(path)
    assert model.config == DSTNetConfig(feat=8, blocks=2)
    assert not model.training
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_safetensors_round_trip_in_half_precision_keeps_the_config(tmp_path):
    source = _model(DSTNetConfig(feat=8, blocks=2))
    path = tmp_path / "dstnet-s.safetensors"
    save_dstnet(source, path, extra_metadata={"trained_on": "synthetic"}, half=True)
    metadata = read_metadata(path)
    assert metadata["architecture"] == "dstnet"
    assert json.loads(metadata["config"]) == {"feat": 8, "blocks": 2}
    assert metadata["trained_on"] == "synthetic"
    assert all(t.dtype == torch.float16 for t in load_file(path).values())
    model = load_dstnet(path)
    assert model.config == source.config
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value.half().float()), key


class _RunsCode:
    """Pickles as a call: loading it without weights_only would create `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pth_that_would_run_code_is_refused_without_running_it(tmp_path):
    from deblur_cli.metrics.lpips import load_lpips

    marker = tmp_path / "ran"
    path = tmp_path / "GOPRO.pth"
    torch.save({"params": {"feat_extractor.weight": torch.zeros(1)}, "extra": _RunsCode(marker)}, path)
    for load in (load_dstnet, lambda p: load_lpips([p])):
        with pytest.raises(WeightsError, match=r"not a (PyTorch checkpoint|state dict of tensors)") as caught:
            load(path)
        assert "weights_only=False" not in str(caught.value) + str(caught.value.hint)  # torch's own suggestion
    assert not marker.exists()


def test_saved_weights_get_the_usual_permissions(tmp_path):
    """0666 less the umask, as the other files of a run (safetensors alone writes 0600)."""
    import os

    before = os.umask(0o022)
    try:
        save_dstnet(_model(DSTNetConfig(feat=8, blocks=1)), tmp_path / "w.safetensors")
    finally:
        os.umask(before)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644


def test_equal_weights_make_equal_files(tmp_path):
    """safetensors writes its metadata in a random order, so equal weights gave files of other SHA-256s."""
    model = _model(DSTNetConfig(feat=8, blocks=1))
    digests = set()
    for k in range(6):
        save_dstnet(model, tmp_path / f"{k}.safetensors", extra_metadata={"variant": "v", "a": "1", "z": "2"})
        digests.add(hashlib.sha256((tmp_path / f"{k}.safetensors").read_bytes()).hexdigest())
    assert len(digests) == 1
    assert read_metadata(tmp_path / "0.safetensors")["variant"] == "v"
    assert load_dstnet(tmp_path / "0.safetensors").config == DSTNetConfig(feat=8, blocks=1)


def test_config_comes_from_shapes_when_a_file_has_no_metadata(tmp_path):
    source = _model(DSTNetConfig(feat=24, blocks=4))
    assert config_from_state_dict(source.state_dict()) == DSTNetConfig(feat=24, blocks=4)
    path = tmp_path / "plain.safetensors"
    save_file(source.state_dict(), str(path))
    assert load_dstnet(path).config == DSTNetConfig(feat=24, blocks=4)


def test_weights_of_another_layout_are_refused_with_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not DSTNet weights"):
        config_from_state_dict({"conv.weight": torch.zeros(4, 3, 3, 3)})
    save_file({"conv.weight": torch.zeros(4, 3, 3, 3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match=r"^other\.safetensors: not DSTNet weights: no feat_extractor\.weight"):
        load_dstnet(tmp_path / "other.safetensors")  # the file is named
    large = dict(_model(DSTNetConfig(feat=8, blocks=1)).state_dict(), **{"up.weight": torch.zeros(12, 8, 1, 1)})
    with pytest.raises(WeightsError, match="large DSTNet layout"):
        config_from_state_dict(large)
    truncated = _model(DSTNetConfig(feat=8, blocks=2)).state_dict()
    del truncated["backward_propagation.conv3.bias"]
    path = tmp_path / "truncated.safetensors"
    save_file(truncated, str(path))
    with pytest.raises(WeightsError, match="does not fit DSTNet"):
        load_dstnet(path)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_weights_with_nan_or_infinity_are_refused(tmp_path, value):
    """They were taken: DSTNet made every frame black (NaN written as 0) and the run succeeded."""
    state = _model(DSTNetConfig(feat=8, blocks=1)).state_dict()
    key = next(iter(state))
    state[key][0] = value
    path = tmp_path / "diverged.safetensors"
    save_file(state, str(path))
    with pytest.raises(WeightsError, match=rf"diverged.safetensors holds NaN or infinite values \({key}\)"):
        load_dstnet(path)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int8, torch.bool, torch.complex64])
def test_weights_that_are_not_floating_point_are_refused(tmp_path, dtype):
    """They were taken: loading cast them into the float parameters, and integer weights (a quantised export)
    truncated to whole numbers made a model that passed the frames through nearly unchanged, without a word."""
    state = {key: tensor.to(dtype) for key, tensor in _model(DSTNetConfig(feat=8, blocks=1)).state_dict().items()}
    path = tmp_path / "whole.pth"
    torch.save(state, path)
    key, kind = next(iter(state)), str(dtype).removeprefix("torch.")
    with pytest.raises(WeightsError, match=rf"^whole.pth does not fit .*: {key} is {kind}, the model's is float") as e:
        load_dstnet(path)
    assert e.value.hint.startswith("a quantised (integer) export does not run")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_weights_of_any_floating_point_dtype_load(tmp_path, dtype):
    model = _model(DSTNetConfig(feat=8, blocks=1))
    path = tmp_path / "other.safetensors"
    save_checkpoint(model.state_dict(), path, architecture="dstnet", config={"feat": 8, "blocks": 1}, dtype=dtype)
    loaded = load_dstnet(path).state_dict()
    assert all(torch.equal(loaded[key], value.to(dtype).float()) for key, value in model.state_dict().items())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"feat": "8", "blocks": 1}, 'DSTNetConfig.feat = "8" in its metadata is not a usable int'),
        ({"feat": 8.0, "blocks": 1}, "DSTNetConfig.feat = 8.0 in its metadata is not a usable int"),
        ({"feat": -8, "blocks": 1}, "DSTNetConfig.feat = -8 "),
        ({"feat": 8, "blocks": True}, "DSTNetConfig.blocks = true "),
        ({"feat": 8, "depth": 1}, "unknown fields depth"),
        # a size the tensors do not have is found from their shapes, before anything is built
        ({"feat": 100_000, "blocks": 1}, r"its metadata describes DSTNet\(feat=100000, blocks=1\), its tensors DSTNet\(feat=8, blocks=1\)"),
        ({"feat": 8, "blocks": 10**6}, r"its tensors DSTNet\(feat=8, blocks=1\)"),  # at once, not minutes of building
    ],
)
def test_config_metadata_that_does_not_describe_the_tensors_is_refused(tmp_path, config, message):
    path = tmp_path / "crafted.safetensors"
    save_checkpoint(_model(DSTNetConfig(feat=8, blocks=1)).state_dict(), path, architecture="dstnet", config=config)
    with pytest.raises(WeightsError, match=message):
        load_dstnet(path)


def test_weights_of_another_architecture_name_it(tmp_path):
    path = tmp_path / "diffusion.safetensors"
    save_checkpoint({"x": torch.zeros(1)}, path, architecture="wtsa", config={})
    with pytest.raises(WeightsError, match="diffusion.safetensors holds wtsa weights, not DSTNet's") as info:
        load_dstnet(path)
    assert "wtsa model" in info.value.hint


def test_weights_of_an_architecture_deblur_does_not_know_say_which_it_knows(tmp_path):
    path = tmp_path / "edvr.safetensors"
    save_checkpoint({"x": torch.zeros(1)}, path, architecture="edvr", config={})
    with pytest.raises(WeightsError, match="edvr.safetensors holds edvr weights, not DSTNet's") as info:
        load_dstnet(path)
    assert info.value.hint == "deblur runs dstnet and wtsa weights only (see `deblur models`)"


def test_config_metadata_that_is_not_json_names_the_file(tmp_path):
    path = tmp_path / "notjson.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata={"architecture": "dstnet", "config": "{feat: 8"})
    with pytest.raises(WeightsError, match="^notjson.safetensors: the config in its metadata is not JSON"):
        load_dstnet(path)


def test_a_pth_cut_short_is_called_damaged_and_one_that_holds_code_is_refused(tmp_path):
    """A cut-short download was called "not a PyTorch checkpoint, or one that holds more than tensors", and told
    to be converted; torch's advice for a refused pickle (weights_only=False) is never passed on."""
    state = {"params": _model(DSTNetConfig(feat=8, blocks=1)).state_dict()}
    torch.save(state, tmp_path / "whole.pth")
    whole = (tmp_path / "whole.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty.pth").write_bytes(b"")
    for name in ("cut.pth", "empty.pth"):
        with pytest.raises(WeightsError, match=rf"^cannot load .*{name}: the file is damaged or incomplete") as info:
            load_dstnet(tmp_path / name)
        assert info.value.hint == "download or export it again"
    torch.save({**state, "made_in": Path("elsewhere")}, tmp_path / "code.pth")  # an object: code runs to make it
    with pytest.raises(WeightsError, match="code.pth as plain tensors: not a PyTorch checkpoint, or one that holds") as info:
        load_dstnet(tmp_path / "code.pth")
    assert "weights_only" not in str(info.value) + info.value.hint


def test_weight_file_extensions_are_read_in_any_case(tmp_path):
    model = _model(DSTNetConfig(feat=8, blocks=1))
    save_dstnet(model, tmp_path / "UPPER.SAFETENSORS")
    torch.save({"params": model.state_dict()}, tmp_path / "UPPER.PTH")
    for name in ("UPPER.SAFETENSORS", "UPPER.PTH"):
        assert load_dstnet(tmp_path / name).config == DSTNetConfig(feat=8, blocks=1)


# Inputs


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 2, 3, 40, 48), "multiples of 16, got 40x48"),
        ((1, 2, 3, 48, 40), "multiples of 16, got 48x40"),
        ((1, 2, 4, 32, 32), r"expects \(B, T >= 1, 3, H, W\) frames"),
        ((2, 3, 32, 32), r"expects \(B, T >= 1, 3, H, W\) frames"),
        ((1, 0, 3, 32, 32), r"expects \(B, T >= 1, 3, H, W\) frames"),
    ],
)
def test_unsupported_shapes_raise_value_error(shape, message):
    with pytest.raises(ValueError, match=message):
        _model(DSTNetConfig(feat=8, blocks=1))(torch.zeros(shape))


def test_one_frame_and_a_batch_of_two():
    model = _model(DSTNetConfig(feat=8, blocks=1))
    x = _frames(2, 1, 3, 32, 48)
    with torch.inference_mode():
        out = model(x)
        single = model(x[1:])
    assert out.shape == x.shape and out.is_contiguous()
    assert torch.isfinite(out).all()
    assert torch.allclose(out[1:], single, atol=1e-6)  # batch entries are independent


def test_long_window_propagates_both_ways():
    model = _model(DSTNetConfig(feat=8, blocks=1))
    x = _frames(1, 12, 3, 32, 32)
    changed_last, changed_first = x.clone(), x.clone()
    changed_last[:, -1] = 1 - changed_last[:, -1]
    changed_first[:, 0] = 1 - changed_first[:, 0]
    with torch.inference_mode():
        out, out_last, out_first = model(x), model(changed_last), model(changed_first)
    assert out.shape == x.shape
    assert (out_last[:, 0] - out[:, 0]).abs().max() > 0  # backward propagation reaches the first frame
    assert (out_first[:, -1] - out[:, -1]).abs().max() > 0  # forward propagation reaches the last


@pytest.mark.parametrize(("dtype", "max_error"), [(torch.bfloat16, 0.05), (torch.float16, 0.02)])
def test_half_precisions_stay_close_to_float32(dtype, max_error):
    model = _model(DSTNetConfig(feat=16, blocks=2))
    x = _frames(1, 3, 3, 32, 48)
    with torch.inference_mode():
        reference = model(x)
        try:
            out = model.to(dtype)(x.to(dtype))
        except (RuntimeError, NotImplementedError) as e:  # a torch build without CPU kernels for this dtype
            assert "not implemented" in str(e).lower()
            pytest.skip(f"{dtype} not supported on this CPU build: {e}")
    assert out.dtype == dtype
    error = (out.float() - reference).abs()
    assert error.max().item() < max_error
    assert error.mean().item() < max_error / 10


def test_the_network_tells_each_step_of_its_propagations_and_restores_as_without():
    model = _model(DSTNetConfig(feat=16, blocks=2))
    x, steps = _frames(2, 3, 3, 32, 48), []
    with torch.inference_mode():
        assert torch.equal(model(x, callback=lambda *step: steps.append(step)), model(x))
    assert steps == [(done, 6) for done in range(1, 7)]  # backward over the 3 frames, then forward


def test_a_window_tells_how_far_it_is_whole_or_in_tiles_and_comes_out_as_the_pipeline_blends_it():
    """Found in review: a window of 4K frames takes minutes on a CPU, and nothing moved meanwhile, on the bar or in
    a log. The DSTNet restorer tells on_step of each propagation step of the window: over all its tiles, one after
    another, where it is restored in tiles (the pipeline tells it of each tile: tile_begun)."""
    from deblur_cli.restorers import DSTNetRestorer
    from deblur_cli.stream import restore_stream
    from deblur_cli.tiles import restore_tiled
    from deblur_cli.windows import WindowOptions

    steps: list[tuple[int, int]] = []
    model = _model(DSTNetConfig(feat=16, blocks=2))
    restorer = DSTNetRestorer(model, torch.device("cpu"), torch.float32, on_step=lambda *step: steps.append(step))
    frames = _frames(5, 3, 48, 64)
    for tile, tiles in ((None, 1), (32, 6)):  # 32-px tiles every 16 px: 2 rows of 3
        windows = WindowOptions(window=3, overlap=1, tile=tile, tile_overlap=16, scene_cuts=False)
        steps.clear()
        with torch.inference_mode():
            restored = torch.stack(list(restore_stream(frames.unbind(0), restorer, windows, (48, 64))))
            # both propagations over the 3 frames of each tile, in each of the two windows (frames 0-2 and 2-4)
            assert steps == [(done, 6 * tiles) for done in range(1, 6 * tiles + 1)] * 2
            one_by_one = [restore_tiled(window[None], restorer.restore_batch, multiple=16, tile=tile, overlap=16)[0]
                          for window in (frames[:3], frames[2:])]  # fmt: skip
        assert torch.equal(restored[:2], one_by_one[0][:2]) and torch.equal(restored[3:], one_by_one[1][1:])


def test_half_precision_restorers_add_the_reconstruction_to_the_frames_as_given():
    """Without the reconstruction (recons zeroed), a bf16 restorer gives back its float32 frames
    exactly, as float32 does: the sum is not rounded to bf16's 8 significant bits. With it, the
    output is the float32 frames plus the bf16 network's reconstruction."""
    from deblur_cli.restorers import DSTNetRestorer

    x = _frames(1, 3, 3, 32, 48)[0].float() * 0.5 + 0.25  # inside [0, 1], nothing clamped
    model = _model(DSTNetConfig(feat=16, blocks=2)).float()
    with torch.no_grad():
        model.recons.kernel.zero_()
        model.recons.bias.zero_()
    for dtype in (torch.float32, torch.bfloat16):
        restorer = DSTNetRestorer(model, torch.device("cpu"), dtype)
        assert torch.equal(restorer(x), x), dtype
    assert not torch.equal(x.to(torch.bfloat16).float(), x)  # what a bf16 sum would have returned
    model = _model(DSTNetConfig(feat=16, blocks=2)).float()
    restorer = DSTNetRestorer(model, torch.device("cpu"), torch.bfloat16)
    with torch.inference_mode():
        residual = model(x[None].to(torch.bfloat16), add_input=False)[0].float()
        total = model(x[None].to(torch.bfloat16))[0]
    torch.testing.assert_close(restorer(x), (x + residual).clamp(0, 1), rtol=0, atol=0)
    torch.testing.assert_close(residual, total.float() - x.to(torch.bfloat16).float(), rtol=0, atol=2**-7)


# Building blocks


def _direct_pixel_filter(x: torch.Tensor, kernels_low: torch.Tensor, scale: int) -> torch.Tensor:
    """out[n, c, y, x] = sum_{i,j} K[n, c, i, j, y, x] * in[n, c, y + i - 1, x + j - 1], zero outside."""
    n, c, h, w = x.shape
    kernels = F.interpolate(kernels_low, scale_factor=scale, mode="bilinear", align_corners=False)
    kernels = kernels.view(n, c, 3, 3, h, w)
    padded = F.pad(x, (1, 1, 1, 1))
    out = torch.zeros_like(x)
    for i in range(3):
        for j in range(3):
            out += kernels[:, :, i, j] * padded[:, :, i : i + h, j : j + w]
    return out


def test_pixel_filter_matches_its_direct_formula():
    x = _frames(2, 5, 16, 24, seed=2, dtype=torch.float64)
    kernels_low = torch.randn(2, 45, 2, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = _direct_pixel_filter(x, kernels_low, 8)
    with torch.inference_mode():
        fast = pixel_filter_3x3(x, kernels_low, 8)
    graph = pixel_filter_3x3(x.clone().requires_grad_(), kernels_low, 8)
    assert (fast - expected).abs().max().item() < 1e-12
    assert (graph.detach() - expected).abs().max().item() < 1e-12
    with torch.inference_mode():  # bf16 on the CPU upsamples by matrix products
        low_precision = pixel_filter_3x3(x.bfloat16(), kernels_low.bfloat16(), 8)
    low_precision_graph = pixel_filter_3x3(x.bfloat16().requires_grad_(), kernels_low.bfloat16(), 8)
    for result in (low_precision, low_precision_graph.detach()):
        assert (result.double() - expected).abs().max().item() < 0.05 * expected.abs().max().item()
    with pytest.raises(ValueError):
        pixel_filter_3x3(x, kernels_low[:, :9], 8)


@pytest.mark.parametrize("shape", [(2, 5, 3, 4), (1, 3, 1, 1), (1, 2, 6, 1)])
def test_upsampling_by_matrix_products_is_bilinear(shape):
    """The CPU's bf16 upsampling of pixel kernels: the same numbers as F.interpolate (align_corners
    False, edges clamped), written into a given buffer or not, with the same gradient."""
    low = torch.randn(*shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = F.interpolate(low, scale_factor=8, mode="bilinear", align_corners=False)
    with torch.inference_mode():  # the cached matrices are built here, then also serve autograd below
        buffer = torch.empty_like(expected, memory_format=torch.channels_last)
        written = upsample_by_products(low, 8, out=buffer)
    assert written.data_ptr() == buffer.data_ptr() and written.is_contiguous(memory_format=torch.channels_last)
    assert (written - expected).abs().max().item() < 1e-12
    leaf = low.clone().requires_grad_()
    weights = torch.randn_like(expected)
    (grad,) = torch.autograd.grad((upsample_by_products(leaf, 8) * weights).sum(), leaf)
    (expected_grad,) = torch.autograd.grad(
        (F.interpolate(leaf, scale_factor=8, mode="bilinear", align_corners=False) * weights).sum(), leaf
    )
    assert (grad - expected_grad).abs().max().item() < 1e-12
    # 3 samples to 6: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25, 1.75, 2.25 (clamped to 2)
    by_hand = [[1, 0, 0], [0.75, 0.25, 0], [0.25, 0.75, 0], [0, 0.75, 0.25], [0, 0.25, 0.75], [0, 0, 1]]
    matrix = interpolation_matrix(3, 2, torch.float64, torch.device("cpu"))
    assert torch.equal(matrix, torch.tensor(by_hand, dtype=torch.float64))


def test_channel_filter_matches_its_direct_formula():
    x = _frames(2, 4, 6, 7, seed=4, dtype=torch.float64)
    kernels = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64)
    padded = F.pad(x, (1, 1, 1, 1))
    expected = bias.view(1, 4, 1, 1) + sum(
        kernels[:, :, i, j, None, None] * padded[:, :, i : i + 6, j : j + 7] for i in range(3) for j in range(3)
    )
    assert (channel_filter_3x3(x, kernels, bias) - expected).abs().max().item() < 1e-12


def test_haar_split_matches_the_official_filter_bank_and_merge_inverts_it():
    channels = 3
    wavelet = HaarWavelet(channels).double()
    x = _frames(2, channels, 8, 10, seed=6, dtype=torch.float64)
    low, details = wavelet.split(x)
    # The official transform: grouped stride-2 conv with the bank / 4, then band-major channels.
    bands = F.conv2d(x, haar_filters(channels).double(), stride=2, groups=channels) / 4
    bands = bands.unflatten(1, (channels, 4)).transpose(1, 2).flatten(1, 2)
    assert torch.allclose(torch.cat([low, details], dim=1), bands, atol=1e-14)
    assert torch.allclose(F.conv2d(x, analysis_kernel(channels, torch.float64, x.device), stride=2), bands, atol=1e-14)
    with torch.inference_mode():
        merged = wavelet.merge(low, details)
    assert torch.allclose(merged, x, atol=1e-14)
    assert torch.allclose(wavelet.merge(low.requires_grad_(), details).detach(), x, atol=1e-14)


def test_synthesis_conv_kernel_equals_merge_then_conv():
    wavelet = HaarWavelet(4).double()
    low, details = _frames(1, 4, 5, 6, seed=7, dtype=torch.float64), _frames(1, 12, 5, 6, seed=8, dtype=torch.float64)
    weight = torch.randn(3, 4, 3, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    expected = F.conv2d(wavelet.merge(low, details), weight, padding=1)
    phases = F.conv2d(torch.cat([low, details], dim=1), synthesis_conv_kernel(weight), padding=1)
    assert torch.allclose(F.pixel_shuffle(phases, 2), expected, atol=1e-12)


def _reference_cwgdn(block: CWGDN, x: torch.Tensor) -> torch.Tensor:
    """The block over a whole (B, T, C, h, w) window with 3D convolutions, as the official code computes it."""
    b = x.shape[0]
    normed = F.layer_norm(x.movedim(2, -1), (x.shape[2],), block.norm2.body.weight, block.norm2.body.bias, 1e-5)
    hidden = F.conv3d(normed.movedim(-1, 1), block.ffn.project_in.weight, padding=(1, 0, 0))  # b c t h w
    value, gate = hidden.chunk(2, dim=1)
    frames = value.transpose(1, 2).flatten(0, 1)
    filtered = block.ffn.kerner_conv_channel(frames).unflatten(0, (b, -1)).transpose(1, 2)
    out = F.conv3d(filtered * gate, block.ffn.project_out.weight, padding=(1, 0, 0))
    return x + out.transpose(1, 2)


@pytest.mark.parametrize("count", [1, 2, 5])
def test_streamed_cwgdn_block_equals_the_whole_window_computation(count):
    torch.manual_seed(10)
    block = CWGDN(8).double()
    x = _frames(1, count, 8, 8, 12, seed=11, dtype=torch.float64)
    frames = [f.contiguous(memory_format=torch.channels_last) for f in x.unbind(1)]
    with torch.inference_mode():
        block.update_in_place(frames)
        expected = _reference_cwgdn(block, x)
    assert math.isclose((torch.stack(frames, 1) - expected).abs().max().item(), 0, abs_tol=1e-12)
