"""Checks of the fused per-pixel filter (deblur_cli/models/fused_filter.py), run by test_fused_filter.py in a
process of their own under Triton's CPU interpreter: TRITON_INTERPRET=1 must be set before the kernel is
built, and a test process may have built it (or imported Triton) otherwise. Exits non-zero on a failed check.

    TRITON_INTERPRET=1 DEBLUR_FUSED_FILTER=1 python -m tests.fused_filter_check
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from deblur_cli.dstnet_weights import config_from_state_dict
from deblur_cli.models.dstnet import DSTNet
from deblur_cli.models.dynamic_filter import FUSED_FILTER_ENV, pixel_filter_3x3
from deblur_cli.models.fused_filter import fused_pixel_filter_3x3
from tests.test_dstnet import DATA

# bf16 and fp16 keep 8 and 11 significant bits: the kernel sums in float32 and rounds once, to within
# one unit in the last place (the interpreter's conversion truncates where a GPU's rounds to nearest)
ROUNDING = {torch.float32: 2.0**-20, torch.bfloat16: 2.0**-7, torch.float16: 2.0**-10}


def direct(x: torch.Tensor, kernels_low: torch.Tensor, scale: int) -> torch.Tensor:
    """The filter's formula in float64: bilinear taps (align_corners=False) times the zero-padded neighbours."""
    n, c, h, w = x.shape
    taps = F.interpolate(kernels_low.double(), scale_factor=scale, mode="bilinear", align_corners=False)
    taps = taps.view(n, c, 3, 3, h, w)
    padded = F.pad(x.double(), (1, 1, 1, 1))
    return sum(taps[:, :, i, j] * padded[:, :, i : i + h, j : j + w] for i in range(3) for j in range(3))


def check_formula() -> None:
    generator = torch.Generator().manual_seed(0)
    for n, c, h, w, scale in [(2, 5, 16, 24, 8), (1, 70, 16, 8, 8), (2, 4, 12, 20, 4), (1, 3, 8, 8, 8)]:
        for dtype, rounding in ROUNDING.items():
            x = torch.randn(n, c, h, w, generator=generator).to(dtype)
            kernels_low = torch.randn(n, 9 * c, h // scale, w // scale, generator=generator).to(dtype)
            expected = direct(x, kernels_low, scale)
            for layout in (torch.channels_last, torch.contiguous_format):  # any strides in, channels-last out
                got = fused_pixel_filter_3x3(x.contiguous(memory_format=layout), kernels_low, scale)
                assert got.dtype == dtype and got.is_contiguous(memory_format=torch.channels_last)
                error = (got.double() - expected).abs()
                bound = rounding * expected.abs() + 1e-6 * expected.abs().max()
                assert bool((error <= bound).all()), (n, c, h, w, scale, dtype, error.max().item())
    print("formula: ok")


def check_dispatch() -> None:
    """pixel_filter_3x3 takes the kernel for inference when asked to, and the PyTorch path for autograd."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 16, 16, generator=generator)
    kernels_low = torch.randn(1, 36, 2, 2, generator=generator)
    with torch.inference_mode():
        fused = fused_pixel_filter_3x3(x, kernels_low, 8)
        assert torch.equal(pixel_filter_3x3(x, kernels_low, 8), fused)
    graph = pixel_filter_3x3(x.requires_grad_(), kernels_low, 8)
    assert graph.grad_fn is not None and (graph.detach() - fused).abs().max().item() < 1e-5
    print("dispatch: ok")


def check_dstnet() -> None:
    """The official-layout golden model (float32, a 48x32 corner of its first three frames) gives the same output with the
    kernel as without it."""
    weights = load_file(DATA / "golden_dstnet_f16_b3_weights.safetensors")
    io = load_file(DATA / "golden_dstnet_f16_b3_io.safetensors")
    model = DSTNet(config_from_state_dict(weights)).float().eval()
    model.load_state_dict(weights, strict=True)
    frames = io["input"][:, :3, :, :32, :48].float()
    with torch.inference_mode():
        fused = model(frames)
        os.environ[FUSED_FILTER_ENV] = "0"
        plain = model(frames)
        os.environ[FUSED_FILTER_ENV] = "1"
    assert (fused - plain).abs().max().item() < 1e-5, (fused - plain).abs().max().item()
    print(f"dstnet: ok (max |fused - pytorch| {(fused - plain).abs().max().item():.2e})")


if __name__ == "__main__":
    if os.environ.get("TRITON_INTERPRET") != "1" or os.environ.get(FUSED_FILTER_ENV) != "1":
        raise SystemExit(f"set TRITON_INTERPRET=1 and {FUSED_FILTER_ENV}=1")
    check_formula()
    check_dispatch()
    check_dstnet()
