"""Transfer functions (sRGB, PQ, HLG) and the curve the models see HDR video on.

The models learned on sRGB frames, diffuse white at 1. HDR video stores other code values: PQ (HDR10,
SMPTE ST 2084) puts the 203 cd/m² of diffuse white (ITU-R BT.2408) at 0.58 and spends the rest on
highlights up to 10 000 cd/m²; HLG puts it at 0.75. Restored as stored, PQ frames lost about half
of `dstnet-s`'s gain (docs/cli.md, "HDR video"). So a window of HDR frames is restored on
`ModelCurve`: light up to diffuse white on the sRGB curve scaled to end at WHITE, the highlights
above it logarithmically: up to KNEE (1000 cd/m², where most HDR masters and phones peak) between WHITE
and TOP, the rest up to the format's peak between TOP and 1 (HLG's peak is under KNEE: one log
segment to 1). The restored frames are mapped back exactly. The curve is continuous and strictly
increasing, so nothing is clipped. WHITE, KNEE and TOP were chosen on synthetic clips of SDR-range and
of bright scenes (docs/cli.md, "HDR video").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PQ, HLG = 16, 18  # FFmpeg's AVCOL_TRC_SMPTE2084 and AVCOL_TRC_ARIB_STD_B67 (VideoInfo.color["transfer"])
WHITE = 0.7  # where diffuse white sits on the model's curve: most of it for the picture, the rest for highlights
KNEE = 1000 / 203  # light (diffuse white = 1) of the highlights given most of the rest: up to 1000 cd/m²...
TOP = 0.95  # ...between WHITE and TOP; brighter ones, to the format's peak, between TOP and 1

# SMPTE ST 2084 constants, and the 203 cd/m² of diffuse white (BT.2408) against its 10 000 cd/m² peak
_M1, _M2, _C1, _C2, _C3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
_PQ_WHITE = 203 / 10_000
# BT.2100 HLG constants; its diffuse white is 75% signal (BT.2408), scene light 0.2650 of the peak
_A, _B, _C = 0.17883277, 0.28466892, 0.55991073
_HLG_WHITE = (math.exp((0.75 - _C) / _A) + _B) / 12


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 decoding; x in [0, 1]."""
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 encoding, clamped to [0, 1]."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def pq_to_light(v: torch.Tensor) -> torch.Tensor:
    """PQ code values in [0, 1] -> light relative to diffuse white (1 at 203 cd/m², 49.3 at the peak)."""
    p = v.clamp(0, 1) ** (1 / _M2)
    return ((p - _C1).clamp_min(0) / (_C2 - _C3 * p)) ** (1 / _M1) / _PQ_WHITE


def light_to_pq(light: torch.Tensor) -> torch.Tensor:
    """The inverse of pq_to_light, clamped to the PQ range."""
    y = (light * _PQ_WHITE).clamp(0, 1) ** _M1
    return ((_C1 + _C2 * y) / (1 + _C3 * y)) ** _M2


def hlg_to_light(v: torch.Tensor) -> torch.Tensor:
    """HLG code values in [0, 1] -> scene light relative to diffuse white (1 at 75% signal, 3.77 at the peak)."""
    v = v.clamp(0, 1)
    e = torch.where(v <= 0.5, v * v / 3, (torch.exp((v - _C) / _A) + _B) / 12)
    return e / _HLG_WHITE


def light_to_hlg(light: torch.Tensor) -> torch.Tensor:
    """The inverse of hlg_to_light, clamped to the HLG range."""
    e = (light * _HLG_WHITE).clamp(0, 1)
    return torch.where(e <= 1 / 12, torch.sqrt(3 * e), _A * torch.log((12 * e - _B).clamp_min(1e-12)) + _C)


@dataclass(frozen=True)
class ModelCurve:
    """An HDR transfer's code values <-> the sRGB-like values a model restores (see the module's text).
    Both directions take and give float tensors in [0, 1] and compute in float32 at least."""

    transfer: int  # PQ or HLG

    @property
    def peak(self) -> float:
        """The format's brightest light relative to diffuse white."""
        return 1 / _PQ_WHITE if self.transfer == PQ else 1 / _HLG_WHITE

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """Code values (..., 3, H, W) -> the model's values, float32."""
        return _frame_by_frame(self._to_model, x)

    def from_model(self, u: torch.Tensor) -> torch.Tensor:
        """The model's values (..., 3, H, W) -> code values, float32."""
        return _frame_by_frame(self._from_model, u)

    @property
    def _segments(self) -> list[tuple[float, float, float, float]]:
        """The log segments above diffuse white: (light from, light to, value from, value to)."""
        if self.peak <= KNEE:
            return [(1.0, self.peak, WHITE, 1.0)]
        return [(1.0, KNEE, WHITE, TOP), (KNEE, self.peak, TOP, 1.0)]

    def _to_model(self, x: torch.Tensor) -> torch.Tensor:
        light = pq_to_light(x) if self.transfer == PQ else hlg_to_light(x)
        out = WHITE * linear_to_srgb(light)
        for low, high, u_low, u_high in self._segments:
            step = u_low + (u_high - u_low) * torch.log(light / low) / math.log(high / low)
            out = torch.where(light > low, step, out)
        return out.clamp_(0, 1)

    def _from_model(self, u: torch.Tensor) -> torch.Tensor:
        u = u.clamp(0, 1)
        light = srgb_to_linear((u / WHITE).clamp(max=1))
        for low, high, u_low, u_high in self._segments:
            step = low * torch.exp((u - u_low).clamp_min(0) / (u_high - u_low) * math.log(high / low))
            light = torch.where(u > u_low, step, light)
        return (light_to_pq(light) if self.transfer == PQ else light_to_hlg(light)).clamp_(0, 1)


def _frame_by_frame(f, x: torch.Tensor) -> torch.Tensor:
    """f over each (3, H, W) frame of x into one float32 result: the temporaries stay a frame's size
    (a 10-frame 4K window is 1 GB in float32)."""
    x = x.float()
    out = torch.empty_like(x)
    frames, results = x.reshape(-1, *x.shape[-3:]), out.view(-1, *x.shape[-3:])
    for frame, result in zip(frames, results):
        result.copy_(f(frame))
    return out


def model_curve(transfer: int | None) -> ModelCurve | None:
    """The curve for frames of this transfer characteristic (FFmpeg's number), None for SDR ones."""
    return ModelCurve(transfer) if transfer in (PQ, HLG) else None
