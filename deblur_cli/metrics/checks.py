"""Input checks shared by the metrics."""

from __future__ import annotations

import torch

_NUMPY_HINT = (
    "; NumPy frames (T, H, W, 3) of 8 bits become such tensors with torch.from_numpy(frames).permute(0, 3, 1, 2) / 255"
)


def require_tensor(image: object) -> None:
    """TypeError, saying how to convert NumPy frames, unless `image` is a torch tensor."""
    if not isinstance(image, torch.Tensor):
        hint = _NUMPY_HINT if type(image).__module__ == "numpy" else ""
        raise TypeError(f"expected torch tensors of images (..., C, H, W), got {type(image).__name__}{hint}")


def check_pair(output: torch.Tensor, reference: torch.Tensor, data_range: float = 1.0) -> None:
    """TypeError unless both are torch tensors; ValueError unless both are floating (..., C, H, W) tensors
    of the same shape on the scale of `data_range`: values more than half of it outside [0, data_range]
    (0..255 frames on a scale of 1) would give a number, but not a meaningful one."""
    require_tensor(output)
    require_tensor(reference)
    if output.shape != reference.shape:
        raise ValueError(f"output and reference differ in shape: {tuple(output.shape)} vs {tuple(reference.shape)}")
    if output.dim() < 3:
        raise ValueError(f"expected images of shape (..., C, H, W), got {tuple(output.shape)}")
    if output.shape[-1] in (3, 4) and output.shape[-3] not in (1, 3, 4):  # RGB(A) last, not a 3-pixel-wide image
        raise ValueError(
            f"expected images of shape (..., C, H, W), got {tuple(output.shape)}, channels last: "
            f"move them with .movedim(-1, -3)"
        )
    if not (output.is_floating_point() and reference.is_floating_point()):
        raise ValueError(f"expected float images, got {output.dtype} and {reference.dtype}")
    if output.numel() == 0 or output.device.type == "meta":
        return
    # one read-back of the four extremes (a device waits for each)
    extremes = [extreme.double() for image in (output, reference) for extreme in (image.amin(), image.amax())]
    low_out, high_out, low_ref, high_ref = torch.stack(extremes).tolist()
    low, high = min(low_out, low_ref), max(high_out, high_ref)
    if low < -0.5 * data_range or high > 1.5 * data_range:
        raise ValueError(
            f"images with values from {low:.4g} to {high:.4g}, measured on a scale of 0 to {data_range:g}: "
            f"divide 8-bit values by 255 (or give data_range=255)"
        )
