"""A frame's values as a file stores them (levels: uint8, or uint16 for deeper files) and as a model takes them
(float in [0, 1]), converted both ways: decoded images to tensors on a device (`to_tensor`, `to_compact_tensor`),
levels to float (`as_float`), float back to the file's levels, rounded to nearest (`to_levels`, `to_image`).
`run`, `evaluate`, `demo`, `bench`, the Python API and the dataset writer convert with these, and
`metrics.to_levels` rounds as `to_levels` does, so that a frame scores as its saved file does. Torch and NumPy only.
"""

from __future__ import annotations

import functools

import numpy as np
import torch


def peak(bit_depth: int) -> int:
    """The highest level of a file of `bit_depth`: 255 for 8 bits, 65535 above (16-bit PNGs; deeper video is read
    on that scale too)."""
    return 255 if bit_depth <= 8 else 65535


def as_float(frames: torch.Tensor) -> torch.Tensor:
    """Frames as float in [0, 1]: 8-bit ones (uint8, 0 to 255) and 16-bit ones (uint16, 0 to 65535)
    scaled, float ones as they are.

    `deblur run` keeps 8-bit frames as uint8 until their window is restored, and deeper ones as uint16
    where the device holds them (`holds_uint16`): its read-ahead then takes a quarter (a half) of the
    memory, and on a GPU of the bytes uploaded, that float32 frames would.
    """
    if frames.dtype == torch.uint8:
        return frames.to(torch.float32).mul_(1 / 255)
    if frames.dtype == getattr(torch, "uint16", None):
        return frames.to(torch.float32).mul_(1 / 65535)
    return frames


@functools.cache
def holds_uint16(device: torch.device) -> bool:
    """Whether torch on `device` does with uint16 frames what the read-ahead and the windows do with them:
    take from NumPy, copy, stack, compare (`is_grey`), convert to float. PyTorch has had the dtype since 2.3,
    with few operators."""
    try:
        x = torch.from_numpy(torch.zeros((2, 2), dtype=torch.uint16).numpy()).to(device)
        torch.equal(x[0], x[1])
        torch.stack([x, x.t().contiguous()]).to(torch.float32)
    except (AttributeError, RuntimeError, NotImplementedError, TypeError):
        return False
    return True


def uploaded(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """`image` as a tensor on `device` (on the CPU, the array's own memory). To a CUDA device it goes
    through page-locked (pinned) host memory, the copy queued behind the device's work: from pageable
    memory the CUDA driver may stage the copy in stream order, so that the decoding thread would wait for
    each window's model to end before it could upload the next frame (`benchmarks/bench_run.py`'s
    `pageable` variant measures the difference)."""
    t = torch.from_numpy(image)
    if torch.device(device).type == "cuda":
        try:
            t = t.pin_memory()  # a host copy; the allocator keeps the block until the upload has read it
        except RuntimeError:  # no page-locked memory to be had: from pageable memory, as before
            pass
    return t.to(device, non_blocking=True)


def to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) uint8/uint16 → contiguous (3, H, W) float32 in [0, 1] on `device`."""
    scale = 1 / 255 if image.dtype == np.uint8 else 1 / 65535
    if image.dtype == np.uint16:  # torch's uint16 support is partial: convert in NumPy
        image = image.astype(np.float32)
    t = uploaded(image, device).permute(2, 0, 1)
    # one strided pass converts and makes planes contiguous, so stacking windows is a plain copy
    return t.to(torch.float32, memory_format=torch.contiguous_format).mul_(scale)


def to_compact_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) uint8/uint16 → contiguous (3, H, W) of the same dtype on `device`, a quarter (a half) of
    float32's bytes (`as_float` scales it when its window is restored); 16-bit images as `to_tensor` gives
    them where torch cannot hold uint16 there (`holds_uint16`)."""
    if image.dtype == np.uint16 and not holds_uint16(torch.device(device)):
        return to_tensor(image, device)
    return uploaded(image, device).permute(2, 0, 1).contiguous()


def to_levels(frame: torch.Tensor, bit_depth: int) -> torch.Tensor:
    """(3, H, W) float in [0, 1] → the file's levels on the frame's device, rounded to nearest: uint8 (bit_depth 8,
    a quarter of float32's bytes) or int32. An integer frame is taken as levels already: to_levels' own, or an
    input frame as decoded (`to_compact_tensor`, uint8 or uint16), which `deblur run --strength 0` writes as it is."""
    top = peak(bit_depth)
    if not frame.is_floating_point() and (frame.dtype == torch.uint8) == (top == 255):
        return frame
    # +0.5 then truncation rounds to nearest; the clamp keeps out-of-range model outputs from wrapping around
    return as_float(frame).float().mul(top).add_(0.5).clamp_(0, top).to(torch.uint8 if top == 255 else torch.int32)


def to_image(frame: torch.Tensor, bit_depth: int) -> np.ndarray:
    """(3, H, W) float in [0, 1], or levels (`to_levels`) → (H, W, 3) uint8 (bit_depth 8) or uint16, rounded to
    nearest."""
    image = to_levels(frame, bit_depth).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(image if image.dtype == np.uint8 else image.astype(np.uint16))
