"""The one-level 2D Haar wavelet transform DSTNet uses to move between scales.

Each 2x2 pixel block (a b / c d) of every channel becomes four coefficients at half the resolution:

    low = (a + b + c + d) / 4     detail_1 = (a - b + c - d) / 4
    detail_2 = (a + b - c - d) / 4     detail_3 = (a - b - c + d) / 4

`merge` is the exact inverse. The detail bands are stacked band-major, (B, 3C, H/2, W/2): channels
[0, C) hold detail_1 of every channel, then detail_2, then detail_3 (the official layout, which the
band-wise grouped convolutions of DSTNet rely on).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# HAAR_SIGNS[k][2i + j]: sign of pixel (i, j) of a 2x2 block in band k (low, detail_1, detail_2, detail_3).
# The same table maps coefficients back to pixels in the inverse.
HAAR_SIGNS = ((1, 1, 1, 1), (1, -1, 1, -1), (1, 1, -1, -1), (1, -1, -1, 1))


def haar_filters(channels: int) -> Tensor:
    """The official filter bank, (4 * channels, 1, 2, 2): the four 2x2 sign filters repeated per channel.
    Made from a list, not by Tensor.repeat, whose first call on the meta device (checkpoint.build_to_fit)
    costs torch about a second of set-up."""
    return torch.tensor(HAAR_SIGNS * channels, dtype=torch.float32).reshape(4 * channels, 1, 2, 2)


def analysis_kernel(channels: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """`split` as a dense 2x2 stride-2 conv kernel, (4C, C, 2, 2): output channel kC + c is band k of channel c."""
    signs = torch.tensor(HAAR_SIGNS, dtype=dtype, device=device).reshape(4, 2, 2) / 4
    eye = torch.eye(channels, dtype=dtype, device=device)
    return torch.einsum("kij,cd->kcdij", signs, eye).reshape(4 * channels, channels, 2, 2)


def synthesis_conv_kernel(weight: Tensor) -> Tensor:
    """`merge` followed by a 3x3 conv (zero padding) as one 3x3 conv at the coarse resolution.

    weight: (O, C, 3, 3). Returns (4O, 4C, 3, 3) for the input [low, details] (channel kC + c is band
    k of channel c); output channel 4o + 2i + j is output o at pixel (i, j) of each 2x2 block, the
    order pixel_shuffle(., 2) turns back into the fine image.
    """
    out_channels, channels = weight.shape[:2]
    signs = torch.tensor(HAAR_SIGNS, dtype=weight.dtype, device=weight.device)
    kernel = weight.new_zeros(out_channels, 2, 2, 4, channels, 3, 3)
    for i in range(2):
        for j in range(2):
            for u in range(3):
                for v in range(3):
                    # Fine pixel (2Y + i + u - 1, 2X + j + v - 1) is pixel (sub_y, sub_x) of block (Y + dy, X + dx).
                    dy, sub_y = divmod(i + u - 1, 2)
                    dx, sub_x = divmod(j + v - 1, 2)
                    band_signs = signs[:, 2 * sub_y + sub_x, None]  # (4, 1)
                    kernel[:, i, j, :, :, dy + 1, dx + 1] += band_signs * weight[:, None, :, u, v]
    return kernel.reshape(4 * out_channels, 4 * channels, 3, 3)


def _blocks(x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Views of the top-left, top-right, bottom-left and bottom-right pixel of every 2x2 block."""
    grid = x.unflatten(3, (x.shape[3] // 2, 2)).unflatten(2, (x.shape[2] // 2, 2))
    return grid[:, :, :, 0, :, 0], grid[:, :, :, 0, :, 1], grid[:, :, :, 1, :, 0], grid[:, :, :, 1, :, 1]


class HaarWavelet(nn.Module):
    """Haar analysis (`split`) and synthesis (`merge`) of (B, C, H, W) features, H and W even.

    The transform is fixed. `haar_weights` only exists so that official state dicts, which store the
    filter bank, load strictly; loading anything other than the Haar bank into it is an error.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("haar_weights", haar_filters(channels))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)
        loaded = state_dict.get(prefix + "haar_weights")
        expected = haar_filters(self.channels)
        if loaded is not None and loaded.shape == expected.shape and not torch.equal(loaded.float().cpu(), expected):
            errors.append(f"{prefix}haar_weights is not the Haar filter bank this transform is fixed to")

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(low (B, C, H/2, W/2), details (B, 3C, H/2, W/2)) of x (B, C, H, W)."""
        a, b, c, d = _blocks(x)
        bands = [(a + b + c + d) / 4, (a - b + c - d) / 4, (a + b - c - d) / 4, (a - b - c + d) / 4]
        return bands[0], torch.cat(bands[1:], dim=1)

    def merge(self, low: Tensor, details: Tensor) -> Tensor:
        """The inverse of `split`: (B, C, h, w) and (B, 3C, h, w) -> (B, C, 2h, 2w), channels-last."""
        d1, d2, d3 = details.chunk(3, dim=1)
        # Butterflies: a = p + q, b = p - q, c = r + s, d = r - s.
        p, q, r, s = low + d2, d1 + d3, low - d2, d1 - d3
        n, c, h, w = low.shape
        if torch.is_grad_enabled() and (low.requires_grad or details.requires_grad):
            quads = torch.stack([p + q, p - q, r + s, r - s], dim=2).flatten(1, 2)
            return F.pixel_shuffle(quads, 2).contiguous(memory_format=torch.channels_last)
        # Without autograd, write the four pixels of every block straight into the output.
        out = torch.empty((n, c, 2 * h, 2 * w), dtype=low.dtype, device=low.device, memory_format=torch.channels_last)
        top_left, top_right, bottom_left, bottom_right = _blocks(out)
        torch.add(p, q, out=top_left)
        torch.sub(p, q, out=top_right)
        torch.add(r, s, out=bottom_left)
        torch.sub(r, s, out=bottom_right)
        return out
