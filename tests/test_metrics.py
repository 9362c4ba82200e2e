"""Metrics against known values and independent references (scikit-image, and a SciPy NIQE written here)."""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest
import torch

from deblur_cli.errors import WeightsError
from deblur_cli.metrics import niqe, psnr, ssim, temporal_error, too_small_for
from deblur_cli.metrics.cvvdp import load_cvvdp
from deblur_cli.metrics.lpips import LPIPS, load_lpips, lpips_clip
from deblur_cli.metrics.niqe import applicable, luma, niqe_luma, pristine_model


def photo(name: str, box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """A bundled scikit-image photo as (3, H, W) float64 in [0, 1], optionally cropped to (top, left, h, w)."""
    image = getattr(pytest.importorskip("skimage.data"), name)()
    if box is not None:
        top, left, h, w = box
        image = image[top : top + h, left : left + w]
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).double() / 255


# ---- PSNR ----


def test_psnr_of_a_uniform_error_of_a_tenth_is_20_db():
    reference = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.8
    assert psnr(reference + 0.1, reference).tolist() == pytest.approx([20.0, 20.0], abs=1e-9)


def test_psnr_is_per_image_and_infinite_for_identical_images():
    reference = torch.zeros(2, 3, 8, 8)
    output = reference.clone()
    output[1] += 0.01  # MSE 1e-4 -> 40 dB
    values = psnr(output, reference)
    assert math.isinf(values[0]) and values[1].item() == pytest.approx(40.0, abs=1e-4)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_channels_last_images_are_refused_with_the_move_that_fixes_them(metric):
    """SSIM said "needs images of at least 11x11 pixels, got (64, 3)" and PSNR measured, of the wrong layout."""
    frames = torch.rand(2, 48, 64, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"got \(2, 48, 64, 3\), channels last: move them with .movedim\(-1, -3\)"):
        metric(frames, frames)
    assert metric(frames.movedim(-1, -3), frames.movedim(-1, -3)).shape == (2,)


def test_psnr_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 9))


# ---- SSIM ----


def pattern(height: int, width: int, shift: float = 0.0) -> torch.Tensor:
    """A smooth colour pattern (3, H, W) float64 in [0, 1] that needs no data files."""
    rows, cols = torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64)
    y, x = torch.meshgrid(rows, cols, indexing="ij")
    return torch.stack([(torch.sin((x + shift) / 5 + c) * torch.cos(y / 7 - c) + 1) / 2 for c in (0.0, 1.0, 2.0)])


def test_ssim_of_identical_images_is_one():
    image = pattern(64, 80)
    assert ssim(image, image).item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ssim_matches_scikit_image_and_falls_with_noise(dtype):
    metrics = pytest.importorskip("skimage.metrics")
    reference = photo("coffee", (50, 120, 72, 96))
    generator = torch.Generator().manual_seed(1)
    previous = 1.0
    for sigma in (0.02, 0.05, 0.1, 0.2):
        noisy = (reference + sigma * torch.randn(reference.shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
        ours = ssim(noisy.to(dtype), reference.to(dtype)).item()
        theirs = metrics.structural_similarity(
            noisy.permute(1, 2, 0).numpy(),
            reference.permute(1, 2, 0).numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=2,
        )
        assert ours == pytest.approx(theirs, abs=1e-4)
        assert ours < previous
        previous = ours


@pytest.mark.parametrize("level", [16, 128, 200, 254, 255])
def test_ssim_in_float32_of_flat_bright_8_bit_frames_matches_scikit_image(level):
    """Found in review: E[x²] - E[x]² in float32 lost up to 5e-5 of SSIM on flat bright frames with
    one-level noise (the fourth decimal of a table); the images are centred on their mean first."""
    metrics = pytest.importorskip("skimage.metrics")
    generator = np.random.default_rng(level)

    def noisy(base):
        steps = (generator.random(base.shape) < 0.5) * generator.choice([-1, 1], base.shape)
        return np.clip(base.astype(int) + steps, 0, 255).astype(np.uint8)

    reference = noisy(np.full((96, 128, 3), level, np.uint8))
    output = noisy(reference)
    theirs = metrics.structural_similarity(
        output, reference, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=2
    )

    def as_float32(frame):  # as evaluate reads an 8-bit file
        return torch.from_numpy(frame).permute(2, 0, 1).float() * (1 / 255)

    assert ssim(as_float32(output), as_float32(reference)).item() == pytest.approx(theirs, abs=1e-6)


def test_metrics_refuse_numpy_frames_and_frames_on_another_scale():
    """Found in review: NumPy frames (what Deblurrer.restore returns for NumPy input) raised AttributeError
    from deep inside, and frames of 0..255 measured on a scale of 1 gave -20 dB without a word."""
    from deblur_cli.metrics import to_8bit

    frames = np.zeros((2, 16, 16, 3), np.uint8)
    for call in (lambda: psnr(frames / 255, frames / 255), lambda: ssim(frames, frames), lambda: to_8bit(frames)):
        with pytest.raises(TypeError, match=r"got ndarray; .*torch\.from_numpy\(frames\)\.permute\(0, 3, 1, 2\) / 255"):
            call()
    bright, brighter = torch.full((1, 3, 16, 16), 190.0), torch.full((1, 3, 16, 16), 200.0)
    for metric in (psnr, ssim, temporal_error):
        with pytest.raises(ValueError, match="values from 190 to 200, measured on a scale of 0 to 1"):
            metric(bright.expand(2, 3, 16, 16), brighter.expand(2, 3, 16, 16))
    assert psnr(bright, brighter, data_range=255).item() == pytest.approx(10 * math.log10(255**2 / 100))
    slightly_over = torch.full((1, 3, 16, 16), 1.2)  # a model's overshoot is measured, not refused
    assert psnr(slightly_over, torch.ones(1, 3, 16, 16)).item() == pytest.approx(10 * math.log10(1 / 0.04))


def test_ssim_is_per_image():
    a = pattern(32, 32)
    stacked = ssim(torch.stack([a, a, 1 - a]), torch.stack([a, a, a]))
    assert stacked.shape == (3,) and stacked[0] == stacked[1] == 1 and stacked[2] < 0.5


# ---- NIQE ----


def scipy_niqe(rgb: np.ndarray) -> float:
    """NIQE written from the paper and MATLAB's conventions with SciPy, block by block: the reference the
    implementation under test must agree with. rgb: (H, W, 3) float in [0, 1]."""
    from scipy import ndimage, special

    mu_p, cov_p, window = (t.numpy() for t in pristine_model())
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # written in the formula's order: a pixel whose luma lies on a .5 tie rounds by the last bit of the sum
    y = np.round(16 + 65.481 * r + 128.553 * g + 24.966 * b)
    rows, cols = y.shape[0] // 96, y.shape[1] // 96
    y = y[: rows * 96, : cols * 96]

    shapes = np.arange(0.2, 10.001, 0.001)
    ratios = special.gamma(2 / shapes) ** 2 / (special.gamma(1 / shapes) * special.gamma(3 / shapes))

    def aggd(values):
        values = values.ravel()
        left = np.sqrt(np.mean(values[values < 0] ** 2))
        right = np.sqrt(np.mean(values[values > 0] ** 2))
        g = left / right
        r = np.mean(np.abs(values)) ** 2 / np.mean(values**2) * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
        a = shapes[np.argmin((ratios - r) ** 2)]
        k = np.sqrt(special.gamma(1 / a) / special.gamma(3 / a))
        return a, left * k, right * k

    def matlab_half(image):
        # imresize(image, 0.5) as MATLAB builds it: weights per output pixel from the antialiased cubic
        def cubic(x):
            x = np.abs(x)
            far = np.where(x <= 2, -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2, 0)
            return np.where(x <= 1, 1.5 * x**3 - 2.5 * x**2 + 1, far)

        def matrix(n):
            m = np.zeros((n // 2, n))
            for i in range(1, n // 2 + 1):
                u = i / 0.5 + 0.5 * (1 - 1 / 0.5)
                left = math.floor(u - 4)
                taps = np.arange(left, left + 10)
                weights = 0.5 * cubic(0.5 * (u - taps))
                weights /= weights.sum()
                for tap, weight in zip(taps, weights):
                    j = tap - 1
                    j = -j - 1 if j < 0 else (2 * n - 1 - j if j >= n else j)
                    m[i - 1, j] += weight
            return m

        return matrix(image.shape[0]) @ image @ matrix(image.shape[1]).T

    features = []
    for scale in (1, 2):
        mu = ndimage.correlate(y, window, mode="nearest")
        sigma = np.sqrt(np.abs(ndimage.correlate(y * y, window, mode="nearest") - mu * mu))
        mscn = (y - mu) / (sigma + 1)
        side = 96 // scale
        per_block = []
        for r in range(rows):
            for c in range(cols):
                block = mscn[r * side : (r + 1) * side, c * side : (c + 1) * side]
                a, left, right = aggd(block)
                f = [a, (left + right) / 2]
                for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
                    a, left, right = aggd(block * np.roll(block, (dy, dx), axis=(0, 1)))
                    f += [a, (right - left) * special.gamma(2 / a) / special.gamma(1 / a), left, right]
                per_block.append(f)
        features.append(np.array(per_block))
        y = matlab_half(y)
    features = np.concatenate(features, axis=1)
    mu_d = np.nanmean(features, axis=0)
    cov_d = np.cov(features[~np.isnan(features).any(axis=1)], rowvar=False)
    d = mu_p - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d))


def test_pristine_model_is_the_published_one():
    mu, cov, window = pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36) and window.shape == (7, 7)
    assert torch.allclose(cov, cov.T) and window.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert mu[0].item() == pytest.approx(2.6013, abs=1e-4)  # the mean GGD shape of pristine MSCN coefficients


@pytest.mark.parametrize("name, box", [("astronaut", (0, 0, 288, 288)), ("coffee", (40, 60, 192, 288))])
def test_niqe_matches_an_independent_scipy_implementation(name, box):
    pytest.importorskip("scipy")
    image = photo(name, box)
    expected = scipy_niqe(image.permute(1, 2, 0).numpy())
    assert niqe(image) == pytest.approx(expected, abs=1e-6)


def test_blur_raises_niqe():
    sharp = photo("astronaut", (0, 0, 288, 288))
    kernel = torch.ones(1, 1, 5, 5, dtype=torch.float64) / 25
    blurred = torch.nn.functional.conv2d(sharp[:, None], kernel, padding=2)[:, 0]
    assert niqe(blurred) > niqe(sharp) + 1


def test_niqe_needs_two_blocks():
    assert applicable(96, 192) and applicable(192, 96) and not applicable(95, 1000) and not applicable(96, 96)
    with pytest.raises(ValueError, match="blocks"):
        niqe(torch.rand(3, 96, 96))


def test_too_small_for_names_the_metrics_a_frame_size_rules_out():
    assert too_small_for(192, 96) == {}
    assert list(too_small_for(95, 1000)) == ["niqe"]
    assert list(too_small_for(30, 1000)) == ["lpips", "niqe"] and list(too_small_for(31, 1000)) == ["niqe"]
    assert too_small_for(10, 200) == {
        "ssim": "its 11x11 window needs frames of 11 pixels a side or more",
        "lpips": "it needs frames of 31 pixels a side or more",
        "niqe": "frames of 200x10 hold fewer than 2 96x96 blocks",
    }
    assert "ssim" not in too_small_for(11, 11)


def test_luma_is_bt601_on_the_studio_scale():
    rgb = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]]).view(3, 1, 4)
    assert luma(rgb).flatten().tolist() == [16.0, 235.0, 81.0, 41.0]


def test_niqe_of_a_flat_image_is_undefined_not_an_error():
    assert math.isnan(niqe_luma(torch.full((96, 192), 128.0)))


# ---- temporal consistency ----


def test_temporal_error_ignores_static_differences_and_measures_flicker():
    reference = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 0.5 + 0.25
    assert temporal_error(reference, reference) == 0
    assert temporal_error(reference + 0.1, reference) == pytest.approx(0, abs=1e-9)  # a constant offset never flickers
    signs = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0]).view(5, 1, 1, 1)
    flicker = reference + 0.02 * signs  # each step jumps by 0.04 more than the reference does
    assert temporal_error(flicker, reference) == pytest.approx(0.04 * 255, rel=1e-6)


def test_temporal_error_needs_two_frames():
    with pytest.raises(ValueError, match="T >= 2"):
        temporal_error(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))


# ---- LPIPS (local weights only) ----


def random_lpips_state() -> dict[str, torch.Tensor]:
    """A state dict in the layout of lpips.LPIPS(net="alex"), random values."""
    generator = torch.Generator().manual_seed(3)
    model = LPIPS()
    layout = {0: 0, 1: 3, 2: 6, 3: 8, 4: 10}
    state = {}
    for n, conv in enumerate(model.convs):
        slice_ = [1, 2, 3, 4, 5][n]
        state[f"net.slice{slice_}.{layout[n]}.weight"] = torch.randn(conv.weight.shape, generator=generator) * 0.05
        state[f"net.slice{slice_}.{layout[n]}.bias"] = torch.randn(conv.bias.shape, generator=generator) * 0.05
        state[f"lin{n}.model.1.weight"] = torch.rand(model.lins[n].shape, generator=generator)
    state["scaling_layer.shift"] = torch.zeros(1, 3, 1, 1)  # present in real files, unused here
    return state


def test_lpips_loads_both_layouts_and_is_zero_only_for_identical_images(tmp_path):
    from safetensors.torch import save_file

    state = random_lpips_state()
    torch.save(state, tmp_path / "lpips_alex_full.pth")
    # the same tensors as torchvision's AlexNet checkpoint plus lpips' linear layers, in two files
    backbone = {k.replace(f"net.slice{k[9]}.", "features."): v for k, v in state.items() if k.startswith("net.")}
    linear = {k: v for k, v in state.items() if k.startswith("lin")}
    save_file(backbone, str(tmp_path / "alexnet.safetensors"))
    torch.save(linear, tmp_path / "alex.pth")

    full = load_lpips([tmp_path / "lpips_alex_full.pth"])
    split = load_lpips([tmp_path / "alexnet.safetensors", tmp_path / "alex.pth"])
    a = pattern(64, 64).float()
    b = pattern(64, 64, shift=3.0).float()
    clip_a, clip_b = torch.stack([a, b]), torch.stack([b, b])
    assert lpips_clip(full, clip_a, clip_a) == 0
    distance = lpips_clip(full, clip_a, clip_b)
    assert distance > 0 and lpips_clip(split, clip_a, clip_b) == pytest.approx(distance, rel=1e-6)
    assert full(a, b).item() == pytest.approx(full(b, a).item(), rel=1e-6)


def test_lpips_weights_that_are_missing_or_incomplete_are_weights_errors(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_lpips([tmp_path / "nothing.pth"])
    state = random_lpips_state()
    backbone = {k.replace(f"net.slice{k[9]}.", "features."): v for k, v in state.items() if k.startswith("net.")}
    torch.save(backbone, tmp_path / "alexnet.pth")
    torch.save({k: v for k, v in state.items() if k.startswith("lin")}, tmp_path / "alex.pth")
    # research52 F5: these named our own modules ("lack 5 tensors (first: lins.0)"), in no file the user has
    with pytest.raises(WeightsError, match=re.escape("AlexNet backbone was read from alexnet.pth, but the LPIPS linear "
                                                     "layers (lin0..lin4) are missing")) as raised:  # fmt: skip
        load_lpips([tmp_path / "alexnet.pth"])
    assert raised.value.hint == "add lpips' weights/v0.1/alex.pth as another --lpips-weights"
    with pytest.raises(WeightsError, match="linear layers .* were read from alex.pth, but the AlexNet backbone is"):
        load_lpips([tmp_path / "alex.pth"])
    torch.save({"x": torch.zeros(3)}, tmp_path / "wrong.pth")
    with pytest.raises(WeightsError, match="no LPIPS or AlexNet weights in wrong.pth"):
        load_lpips([tmp_path / "wrong.pth"])
    torch.save({k: v for k, v in backbone.items() if k != "features.6.bias"}, tmp_path / "alexnet.pth")
    with pytest.raises(WeightsError, match=re.escape("lack 1 tensors (first: features.6.bias)")):
        load_lpips([tmp_path / "alexnet.pth", tmp_path / "alex.pth"])
    torch.save(backbone | {"features.3.weight": torch.zeros(3)}, tmp_path / "alexnet.pth")
    with pytest.raises(WeightsError, match="LPIPS weight features.3.weight in alexnet.pth has shape"):
        load_lpips([tmp_path / "alexnet.pth", tmp_path / "alex.pth"])
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        load_lpips([tmp_path / "garbage.pth"])


# ---- ColorVideoVDP (optional package) ----


def test_cvvdp_is_absent_cleanly_when_not_importable(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycvvdp", None)  # makes `import pycvvdp` raise ImportError
    assert load_cvvdp(torch.device("cpu")) is None


def test_detail_is_the_rms_of_the_luma_laplacian_per_frame():
    from deblur_cli.metrics.detail import detail

    board = (torch.arange(6)[:, None] + torch.arange(7)[None]) % 2  # a grey checkerboard: every inner pixel's
    frames = torch.stack([board.expand(3, 6, 7).float(), torch.full((3, 6, 7), 0.3)])  # Laplacian is +-4
    assert detail(frames).tolist() == pytest.approx([4.0, 0.0])
    red = torch.zeros(1, 2, 3, 6, 7)
    red[..., 0, :, :] = board
    assert detail(red).shape == (1, 2) and detail(red)[0, 0].item() == pytest.approx(4 * 0.299)  # BT.601 luma
    soft = (frames[0] + frames[0].roll(1, -1)) / 2  # blurred along the rows: less fine detail
    assert detail(soft) < detail(frames[0])
    with pytest.raises(ValueError, match="3x3 pixels or more"):
        detail(torch.zeros(3, 2, 5))
