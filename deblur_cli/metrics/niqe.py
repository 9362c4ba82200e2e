"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013).

A no-reference score: the distance between a multivariate Gaussian fitted to natural-scene
statistics of the image and one fitted to pristine photographs (the bundled model, see
assets/README.md). Lower means more natural; blur, noise and ringing raise it.

The steps follow the paper and the reference implementation whose pristine model we use: the Y
channel (BT.601, 8-bit scale, rounded), local mean subtraction and contrast normalisation (MSCN)
with the model's 7x7 Gaussian window, 36 features per 96x96 block over two scales, and the
distance of eq. (10). All arithmetic is float64 on the CPU (MPS has no float64, and the moment
ratios of the shape fit need it).
"""

from __future__ import annotations

import functools
import importlib.resources
import math
import statistics
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

BLOCK = 96  # side of the blocks each feature vector describes, at the first scale
MIN_BLOCKS = 2  # a covariance needs at least two feature vectors
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical and both diagonal neighbours
_SHAPES = 0.2 + 0.001 * torch.arange(9801, dtype=torch.float64)  # shape parameters the fit may pick


@functools.cache
def pristine_model() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean (36,), covariance (36, 36), window (7, 7)) of the pristine model, float64."""
    resource = importlib.resources.files("deblur_cli") / "assets" / "niqe_pris_params.npz"
    with importlib.resources.as_file(resource) as path, np.load(path) as data:
        return (
            torch.from_numpy(data["mu_pris_param"].reshape(-1).copy()),
            torch.from_numpy(data["cov_pris_param"].copy()),
            torch.from_numpy(data["gaussian_window"].copy()),
        )


def applicable(height: int, width: int) -> bool:
    """Whether an image of this size holds the MIN_BLOCKS blocks NIQE needs."""
    return (height // BLOCK) * (width // BLOCK) >= MIN_BLOCKS


def too_flat(whose: str) -> str:
    """Why NIQE has no score for a frame of a size it takes (NaN): in the words the commands' notes use,
    `whose` the frame's or frames' ("its", "their"). The frame itself need not look flat: a black frame
    restored with a faint smudge in one corner has a single block with detail."""
    return (
        f"too flat for it (fewer than {MIN_BLOCKS} of {whose} {BLOCK}x{BLOCK} blocks have detail; a block "
        "of one 8-bit luma level has none)"
    )


def too_small(width: int, height: int) -> str:
    """Why NIQE leaves out frames of this size, in the words the commands' notes use."""
    return f"frames of {width}x{height} hold fewer than {MIN_BLOCKS} {BLOCK}x{BLOCK} blocks"


def mean_niqe(scores: Iterable[float]) -> float | None:
    """The mean of frames' NIQE scores, leaving out the NaN of frames too flat for it (a fade to black),
    where NIQE is undefined; None when every frame is."""
    defined = [score for score in scores if not math.isnan(score)]
    return statistics.fmean(defined) if defined else None


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma on the 8-bit studio scale, rounded: rgb (..., 3, H, W) in [0, 1] -> (..., H, W) in [16, 235]."""
    r, g, b = rgb.double().unbind(-3)
    return (16 + 65.481 * r + 128.553 * g + 24.966 * b).round()


def niqe(image: torch.Tensor) -> float:
    """NIQE of one RGB image (3, H, W) float in [0, 1]; lower is better.

    Needs at least two 96x96 blocks (see `applicable`); the right and bottom remainders are
    ignored. NaN when fewer than two blocks have defined statistics: a block of one luma level has
    none, so a flat image, or one flat but for a single block, has no NIQE.
    """
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected an RGB image (3, H, W), got {tuple(image.shape)}")
    return niqe_luma(luma(image.detach().cpu()))


def niqe_luma(y: torch.Tensor) -> float:
    """NIQE of a luma plane (H, W) on the 0-255 scale (see `luma`)."""
    if y.dim() != 2 or not applicable(*y.shape):
        raise ValueError(f"NIQE needs a plane (H, W) holding {MIN_BLOCKS} {BLOCK}x{BLOCK} blocks, got {tuple(y.shape)}")
    mu_pristine, cov_pristine, window = pristine_model()
    rows, cols = y.shape[0] // BLOCK, y.shape[1] // BLOCK
    y = y.double().cpu()[: rows * BLOCK, : cols * BLOCK]

    features = []
    for scale in (1, 2):
        side = BLOCK // scale
        blocks = rearrange(_mscn(y, window), "(r bh) (c bw) -> (r c) bh bw", bh=side, bw=side)
        features.append(_block_features(blocks))
        if scale == 1:
            y = _half(y)
    features = torch.cat(features, dim=1)  # (blocks, 36): first scale, then second

    mu = features.nanmean(dim=0)
    defined = features[~features.isnan().any(dim=1)]
    if len(defined) < MIN_BLOCKS:
        return math.nan
    cov = torch.cov(defined.T)
    diff = mu_pristine - mu
    # eq. (10): Mahalanobis-like distance under the mean of the two covariances
    return float(torch.sqrt(diff @ torch.linalg.pinv((cov_pristine + cov) / 2) @ diff))


def _mscn(y: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Mean-subtracted contrast-normalised coefficients of y (H, W), eq. (1), the +1 avoiding 0/0
    on flat areas; edges replicated under the window."""
    pad = window.shape[-1] // 2

    def local_mean(x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x[None, None], (pad, pad, pad, pad), mode="replicate")
        return F.conv2d(padded, window[None, None])[0, 0]

    mu = local_mean(y)
    sigma = (local_mean(y * y) - mu * mu).abs().sqrt()
    return (y - mu) / (sigma + 1)


def _block_features(blocks: torch.Tensor) -> torch.Tensor:
    """The 18 features of each MSCN block (N, h, w) -> (N, 18): the fit of the coefficients
    (shape, scale) and, for each neighbour direction, the asymmetric fit of the products of
    neighbouring coefficients (shape, mean, left scale, right scale); neighbours wrap around
    inside the block."""
    alpha, left, right = _aggd_fit(blocks.flatten(1))
    features = [alpha, (left + right) / 2]
    for shift in _SHIFTS:
        products = blocks * torch.roll(blocks, shifts=shift, dims=(1, 2))
        alpha, left, right = _aggd_fit(products.flatten(1))
        mean = (right - left) * torch.exp(torch.lgamma(2 / alpha) - torch.lgamma(1 / alpha))  # eq. (8)
        features += [alpha, mean, left, right]
    return torch.stack(features, dim=1)


def _aggd_fit(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Moment-matching fit of an asymmetric generalised Gaussian to each row of x (N, M).

    Returns (shape, left scale, right scale), each (N,). The shape is the grid value whose moment
    ratio Γ(2/a)² / (Γ(1/a) Γ(3/a)) lies nearest the sample's (corrected for asymmetry). A row with
    no negative or no positive value has no fit: its scales are NaN and its shape the grid's first
    value, as in the reference implementation.
    """
    negative, positive = x < 0, x > 0
    square = x * x
    left_std = ((square * negative).sum(1) / negative.sum(1)).sqrt()
    right_std = ((square * positive).sum(1) / positive.sum(1)).sqrt()
    skew = left_std / right_std
    ratio = x.abs().mean(1) ** 2 / square.mean(1)
    ratio = ratio * (skew**3 + 1) * (skew + 1) / (skew**2 + 1) ** 2
    alpha = _SHAPES[_nearest(_moment_ratios(), ratio)]
    scale = torch.exp((torch.lgamma(1 / alpha) - torch.lgamma(3 / alpha)) / 2)
    return alpha, left_std * scale, right_std * scale


@functools.cache
def _moment_ratios() -> torch.Tensor:
    """Γ(2/a)² / (Γ(1/a) Γ(3/a)) over _SHAPES; increasing in a."""
    inv = 1 / _SHAPES
    return torch.exp(2 * torch.lgamma(2 * inv) - torch.lgamma(inv) - torch.lgamma(3 * inv))


def _nearest(grid: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Index of the grid value (increasing) nearest each value, the lower on a tie; 0 for NaN."""
    upper = torch.searchsorted(grid, values.nan_to_num(0.0)).clamp(1, len(grid) - 1)
    lower = upper - 1
    index = torch.where(values - grid[lower] <= grid[upper] - values, lower, upper)
    return torch.where(values.isnan(), 0, index)


def _cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5, MATLAB imresize's 'bicubic'."""
    x = x.abs()
    near = 1.5 * x**3 - 2.5 * x**2 + 1
    far = -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return torch.where(x <= 1, near, torch.where(x <= 2, far, torch.zeros_like(x)))


def _half(y: torch.Tensor) -> torch.Tensor:
    """Downscale (H, W), both even, by 2 as MATLAB's imresize(y, 0.5) does (bicubic, antialiased).

    Antialiasing stretches the kernel by 2, so each output pixel, centred between input pixels
    2i and 2i+1, is a normalised 8-tap weighting of inputs 2i-3 ... 2i+4, the image mirrored at
    its edges (edge pixel repeated).
    """
    taps = _cubic((torch.arange(8, dtype=torch.float64) - 3.5) / 2)
    taps = taps / taps.sum()
    for dim in (0, 1):
        n = y.shape[dim]
        index = torch.arange(-3, n + 4)
        index = torch.where(index < 0, -index - 1, index)
        index = torch.where(index >= n, 2 * n - 1 - index, index)
        lines = y.index_select(dim, index).movedim(dim, -1)
        lines = F.conv1d(lines.reshape(-1, 1, n + 7), taps.view(1, 1, -1), stride=2)
        y = lines.reshape(*y.movedim(dim, -1).shape[:-1], n // 2).movedim(-1, dim)
    return y
