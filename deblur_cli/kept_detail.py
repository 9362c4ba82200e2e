"""Keep the input's fine texture (`deblur run --keep-detail`): deblurring adds fine detail where it removes blur, so
where the model's output holds less fine detail than its input, the model took texture for noise and smoothed it
(the bundled `dstnet-s` does so to foliage and grass, and to sharp footage), and the input is kept there instead.

The rule, per frame, on the frames' luma:

1. Fine detail: the 4-neighbour Laplacian, squared and averaged by a Gaussian of SPREAD pixels: the local energy
   of the finest structure, of the input (e_in) and of the restoration (e_out), found per block of STEP x STEP
   pixels (the Gaussian leaves it smooth), as the weight is, which is then spread back to the pixels bilinearly.
2. Noise is fine structure the model should remove: the input's energy less NOISE times its 1st percentile over the
   frame (the floor that noise leaves even on the flattest parts of a picture; near 0 on clean footage).
3. The weight of the restoration: w = min(1, sqrt(e_out / e_in))^POWER, 1 where the restoration holds as much fine
   detail as the input, or more (a deblurred edge, a flat region); down to 0 where it smoothed the texture away.
4. The output: input + w x (restored - input).

Measured with the bundled stage-11 `dstnet-s` (fp32, a 2-core CPU; PSNR against the sharp truth; docs/windows-and-
tiles.md, "Fine texture"): on the 23 rendered 640x360 clips of benchmarks/render_content.py (benchmarks/
bench_content.py --keep-detail) the landscape's 3-px pan went from -1.03 to -0.14 dB, its still sharp clip from
44.24 to 54.20 dB from the truth, and the 21 blurred clips' mean gain from +2.48 to +2.50 dB (the cups' 16-px pan
-0.18 dB, both noisy pans unchanged); on `deblur train --evaluate`'s held-out clips (benchmarks/
bench_kept_detail.py; 8 of 5 frames at 640x360, most with sensor noise and compression) camera shake went from
+2.19 to +2.06 dB, moving objects from +2.45 to +2.09, the real video `tree` from -0.11 to +0.16 dB: what is lost
is the noise the model removes from textured pictures, where the floor of step 2 does not tell noise from
texture. SPREAD, NOISE and POWER were chosen on those clips.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deblur_cli.filters import gaussian_window, laplacian, luma

SPREAD = 4.0  # pixels, the standard deviation of the Gaussian the Laplacian's square is averaged by
NOISE = 16.0  # times the input's 1st percentile of that energy: what of it counts as noise
PERCENTILE = 0.01
POWER = 4.0  # of the detail ratio: how quickly the input takes over as the restoration loses detail
STEP = 4  # the energy and the weight are found on a grid of 4x4-pixel blocks, and the weight spread back smoothly
_EPSILON = 1e-6  # of squared luma (white is 1): where neither holds fine structure, the restoration is kept


def keep_detail(frames: torch.Tensor, restored: torch.Tensor) -> torch.Tensor:
    """The `restored` frames with their `frames`' fine texture kept where the restoration smoothed it (module
    docstring). frames, restored: (..., 3, H, W) float, on the display curve (values in [0, 1]), on one device;
    returns restored's shape and dtype. Frame by frame, so that a window of 4K frames needs no more memory than
    one frame's filters."""
    if frames.ndim < 3 or frames.shape[-3] != 3 or frames.shape != restored.shape:
        raise ValueError(f"keep_detail takes two (..., 3, H, W) tensors alike, got {frames.shape} and {restored.shape}")
    given = frames.reshape(-1, *frames.shape[-3:])
    out = restored.reshape(-1, *restored.shape[-3:]).clone()
    for index, (frame, result) in enumerate(zip(given, out)):
        out[index] = torch.lerp(frame.to(result.dtype), result, detail_weight(frame, result).to(result.dtype))
    return out.reshape(restored.shape)


def detail_weight(frame: torch.Tensor, restored: torch.Tensor) -> torch.Tensor:
    """How much of the restoration each pixel of one frame takes: (1, H, W) float32 in [0, 1] (steps 1 to 3 of the
    module docstring), for a frame and its restoration (3, H, W). Found per block of STEP x STEP pixels, whose
    energies the Gaussian leaves smooth, then spread back to the pixels bilinearly."""
    given, kept = fine_energy(torch.stack([frame, restored.to(frame.dtype)])).unbind(0)
    floor = given.flatten().sort().values[max(0, round(PERCENTILE * given.numel()) - 1)]  # (kthvalue: not on MPS)
    texture = (given - NOISE * floor).clamp_(min=0)
    weight = ((kept + _EPSILON) / (texture + _EPSILON)).sqrt_().clamp_(max=1).pow_(POWER)
    return F.interpolate(weight[None], size=frame.shape[-2:], mode="bilinear", align_corners=False)[0]


def fine_energy(frames: torch.Tensor) -> torch.Tensor:
    """The local energy of frames' finest structure (step 1), per block of STEP x STEP pixels: (N, 1, H', W')
    float32 for frames (N, 3, H, W), H' and W' a STEP-th of H and W, rounded up. The square of the Laplacian is
    averaged over each block (a box, whose variance is (STEP^2 - 1) / 12 pixels^2), then by the Gaussian that
    takes its spread to SPREAD pixels."""
    y = luma(frames.float())[:, None]
    energy = F.avg_pool2d(laplacian(F.pad(y, (1, 1, 1, 1), mode="replicate")).square_(), STEP, ceil_mode=True)
    sigma = math.sqrt(SPREAD**2 - (STEP**2 - 1) / 12) / STEP  # in blocks
    radius = math.ceil(3 * sigma)
    kernel = gaussian_window(2 * radius + 1, sigma, dtype=torch.float32, device=y.device)
    energy = F.conv2d(F.pad(energy, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(energy, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
