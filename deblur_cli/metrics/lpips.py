"""LPIPS (Zhang et al., CVPR 2018), AlexNet variant, from weights the user already has on disk.

Nothing is downloaded: `load_lpips` reads the AlexNet backbone and the LPIPS linear layers from
local files, in either layout people have them in:
- the full state dict of `lpips.LPIPS(net="alex")` (keys `net.slice1.0.weight` ... `lin4.model.1.weight`);
- torchvision's AlexNet checkpoint (`features.0.weight` ...) plus the lpips package's
  `weights/v0.1/alex.pth` (`lin0.model.1.weight` ...), given as two files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from deblur_cli.errors import WeightsError

# AlexNet's five convolutions up to each ReLU that LPIPS taps: (index in torchvision's
# `features`, in channels, out channels, kernel, stride, padding).
_CONVS = (
    (0, 3, 64, 11, 4, 2),
    (3, 64, 192, 5, 1, 2),
    (6, 192, 384, 3, 1, 1),
    (8, 384, 256, 3, 1, 1),
    (10, 256, 256, 3, 1, 1),
)
_POOL_BEFORE = (False, True, True, False, False)  # a 3x3/2 max-pool precedes convolutions 2 and 3
# The input normalisation LPIPS was trained with, on images scaled to [-1, 1].
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


# The smallest side AlexNet's strides and pools leave a feature map of at least one pixel for
# (11x11/4 with padding 2, then two 3x3/2 pools).
MIN_SIDE = 31


def applicable(height: int, width: int) -> bool:
    """Whether LPIPS is defined for frames of this size (MIN_SIDE pixels a side or more)."""
    return min(height, width) >= MIN_SIDE


class LPIPS(nn.Module):
    """Learned perceptual distance; lower is more similar, 0 for identical images."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, k, stride=s, padding=p) for _, i, o, k, s, p in _CONVS)
        self.lins = nn.ParameterList(nn.Parameter(torch.zeros(1, o, 1, 1)) for _, _, o, _, _, _ in _CONVS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x * 2 - 1) - self.shift) / self.scale
        taps = []
        for conv, pool in zip(self.convs, _POOL_BEFORE):
            if pool:
                x = F.max_pool2d(x, kernel_size=3, stride=2)
            x = F.relu(conv(x))
            taps.append(x)
        return taps

    def forward(self, output: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """output, reference: (..., 3, H, W) float in [0, 1]; returns the distance per image, shape (...)."""
        lead = output.shape[:-3]
        x = rearrange(output, "... c h w -> (...) c h w")
        y = rearrange(reference, "... c h w -> (...) c h w")
        total = 0
        for fx, fy, lin in zip(self._features(x), self._features(y), self.lins):
            # unit-normalise each feature vector across channels, then a learned non-negative
            # channel weighting of the squared difference, averaged over positions
            fx = fx / (fx.square().sum(1, keepdim=True).sqrt() + 1e-10)
            fy = fy / (fy.square().sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + (F.conv2d((fx - fy).square(), lin)).mean(dim=(-2, -1))
        return total.reshape(lead)


def load_lpips(paths: Iterable[str | os.PathLike], device: torch.device | str = "cpu") -> LPIPS:
    """An LPIPS (eval mode, on `device`) from one or more local weight files (.safetensors or .pth).

    WeightsError when a file is missing or unreadable, or the files together lack a tensor the
    model needs.
    """
    state: dict[str, torch.Tensor] = {}
    read_from: dict[str, Path] = {}  # the file each tensor was read from
    paths = [Path(path) for path in paths]
    for path in paths:
        found = _read(path)
        state.update(found)
        read_from.update(dict.fromkeys(found, path))
    model = LPIPS()
    wanted = model.state_dict()
    if missing := [key for key in wanted if key not in state]:
        raise _lacking(missing, read_from, paths)
    for key, tensor in wanted.items():
        if state[key].shape != tensor.shape:
            raise WeightsError(
                f"LPIPS weight {_file_name(key)} in {read_from[key].name} has shape {tuple(state[key].shape)}, "
                f"expected {tuple(tensor.shape)}",
                hint="LPIPS here is the AlexNet variant: give AlexNet weights",
            )
    model.load_state_dict({key: state[key] for key in wanted}, strict=True)
    return model.to(device).eval()


# From the key layouts in the module docstring to ours; tensors matching none are ignored.
_FULL = re.compile(r"net\.slice\d\.(\d+)\.(weight|bias)")
_TORCHVISION = re.compile(r"features\.(\d+)\.(weight|bias)")
_LINEAR = re.compile(r"lin(\d)\.model\.1\.weight")
_CONV_INDEX = {index: n for n, (index, *_rest) in enumerate(_CONVS)}


# The two parts of the weights, by the prefix of our keys: what the user calls each (and whether that is plural),
# and the file that holds it.
_PARTS = {
    "convs": ("the AlexNet backbone", False, "torchvision's AlexNet checkpoint (alexnet-owt-7be5be79.pth)"),
    "lins": ("the LPIPS linear layers (lin0..lin4)", True, "lpips' weights/v0.1/alex.pth"),
}
_WHOLE = (
    "give lpips.LPIPS(net='alex')'s state dict, or torchvision's AlexNet checkpoint and lpips' weights/v0.1/alex.pth"
)


def _lacking(missing: list[str], read_from: dict[str, Path], paths: list[Path]) -> WeightsError:
    """The error for the weights in `paths` that lack the tensors `missing` (our keys), in the terms of the files
    people have: where the files held one part whole and nothing of the other, which part, and which file holds it."""
    if not read_from:
        return WeightsError(
            f"no LPIPS or AlexNet weights in {' or '.join(path.name for path in paths)}: none of "
            f"{'its' if len(paths) == 1 else 'their'} tensors is named as lpips or torchvision name them",
            hint=_WHOLE,
        )
    found = {key.split(".")[0] for key in read_from}
    if len(found) == 1 and all(key.split(".")[0] not in found for key in missing):
        (part,) = set(_PARTS) - found
        (other,) = found
        (what, plural, where), (read, read_plural, _) = _PARTS[part], _PARTS[other]
        files = " and ".join(sorted({path.name for path in read_from.values()}))
        return WeightsError(
            f"{read} {'were' if read_plural else 'was'} read from {files}, but {what} {'are' if plural else 'is'} missing",
            hint=f"add {where} as another --lpips-weights",
        )
    return WeightsError(f"the LPIPS weights lack {len(missing)} tensors (first: {_file_name(missing[0])})", hint=_WHOLE)


def _file_name(key: str) -> str:
    """Our key as torchvision (AlexNet's `features.3.weight`) or lpips (`lin2.model.1.weight`) names the tensor."""
    part, n, *kind = key.split(".")
    if part == "convs":
        return f"features.{_CONVS[int(n)][0]}.{kind[0]}"
    return f"lin{n}.model.1.weight"


def _read(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WeightsError(f"LPIPS weights not found: {path}", hint="pass an existing file to --lpips-weights")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            raw = load_file(str(path))
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        # torch's own message runs to several lines and suggests weights_only=False: not passed on
        raise WeightsError(
            f"cannot read LPIPS weights {path}: not a state dict of tensors ({type(e).__name__})",
            hint="give a .safetensors or .pth state dict",
        ) from None
    if not isinstance(raw, dict):
        raise WeightsError(f"{path} holds no state dict", hint="give a .safetensors or .pth state dict")
    state = {}
    for key, tensor in raw.items():
        key = key.removeprefix("module.")
        if (m := _FULL.fullmatch(key) or _TORCHVISION.fullmatch(key)) and int(m[1]) in _CONV_INDEX:
            state[f"convs.{_CONV_INDEX[int(m[1])]}.{m[2]}"] = tensor.float()
        elif m := _LINEAR.fullmatch(key):
            state[f"lins.{m[1]}"] = tensor.float()
    return state


def lpips_clip(model: LPIPS, output: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean LPIPS over the frames of two clips (T, 3, H, W) float in [0, 1], computed on the model's device."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        distances = [model(o.to(device), r.to(device)) for o, r in zip(output.split(4), reference.split(4))]
    return float(torch.cat(distances).mean())
