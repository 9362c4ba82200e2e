"""Synthetic 160x90 footage of what users film, with its true scene cuts, for `bench_scene_cuts.py footage`.

Every shot is a hand-held camera looking at a procedural world (deblur_cli.data.photos.procedural_scene,
1600x400): shake, pans with motion blur, zooms. The scenarios add what a cut detector must not take for a
cut (pans, flashes, strobes, light and exposure changes, fades, dissolves, overlays) and cuts of every kind
(between similar, dark or panning shots, at every phase of a window, shots of 1 to 3 frames). Sensor noise
and 8-bit levels come last. Every random draw is seeded: a clip's frames are the same on every run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from deblur_cli.data.photos import procedural_scene

WIDTH, HEIGHT = 160, 90


@dataclass(frozen=True)
class Scenario:
    """A clip to build and the cuts it holds."""

    make: Callable[[], torch.Tensor]  # (T, 3, HEIGHT, WIDTH) float in [0, 1], before sensor noise
    cuts: tuple[int, ...]  # the first frame of each new shot
    note: str  # what the clip shows


@functools.lru_cache(maxsize=None)
def world(seed: int) -> torch.Tensor:
    """The procedural world `seed`, (3, 400, 1600) float in [0, 1], that shots of that seed look at."""
    scene = procedural_scene(np.random.default_rng(seed), (1600, 400))
    return torch.from_numpy(scene).permute(2, 0, 1).contiguous()


def view(image: torch.Tensor, x: float, y: float, zoom: float = 1.0, blur_x: float = 0.0, blur_y: float = 0.0,
         samples: int = 9) -> torch.Tensor:
    """The (3, HEIGHT, WIDTH) view of `image` (3, h, w) whose top-left corner is at (x, y) image pixels,
    magnified `zoom` times; with motion blur, the mean of `samples` views along (blur_x, blur_y) pixels."""
    _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(HEIGHT) + 0.5, torch.arange(WIDTH) + 0.5, indexing="ij")
    offsets = np.linspace(-0.5, 0.5, samples) if (blur_x or blur_y) else [0.0]
    views = []
    for s in offsets:
        gx = x + xs / zoom + s * blur_x
        gy = y + ys / zoom + s * blur_y
        grid = torch.stack([2 * gx / w - 1, 2 * gy / h - 1], -1)[None].float()
        sampled = F.grid_sample(image[None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        views.append(sampled[0])
    return torch.stack(views).mean(0)


def shot(seed: int, frames: int, x0: float = 200, y0: float = 100, vx: float = 0.0, vy: float = 0.0,
         exposure: float = 0.5, shake: float = 1.5, zoom: float = 1.0) -> torch.Tensor:
    """`frames` frames of world `seed` from a hand-held camera panning (vx, vy) pixels a frame from (x0, y0),
    its shake a damped random walk of `shake` pixels a step, its motion blur `exposure` of a frame's pan."""
    rng = np.random.default_rng(1000 * seed)
    image = world(seed)
    jx = jy = 0.0
    views = []
    for i in range(frames):
        jx, jy = 0.7 * jx + rng.normal(0, shake), 0.7 * jy + rng.normal(0, shake)
        views.append(view(image, x0 + vx * i + jx, y0 + vy * i + jy, zoom, exposure * vx, exposure * vy))
    return torch.stack(views)


def sensor(frames: torch.Tensor, noise: float = 2.0, seed: int = 0) -> torch.Tensor:
    """The frames with Gaussian noise of `noise` levels of 255, clipped and rounded to 8-bit levels."""
    generator = torch.Generator().manual_seed(seed)
    frames = frames + noise / 255 * torch.randn(frames.shape, generator=generator)
    return (frames.clamp(0, 1) * 255).round() / 255


# Blocky 3x5 glyphs, a row of cells each, for the overlays' titles.
_GLYPHS = {
    "A": "010 101 111 101 101", "B": "110 101 110 101 110", "C": "011 100 100 100 011", "E": "111 100 110 100 111",
    "G": "011 100 101 101 011", "H": "101 101 111 101 101", "I": "111 010 010 010 111", "K": "101 101 110 101 101",
    "L": "100 100 100 100 111", "N": "110 101 101 101 101", "O": "010 101 101 101 010", "P": "110 101 110 100 100",
    "R": "110 101 110 101 101", "S": "011 100 010 001 110", "T": "111 010 010 010 010", "W": "101 101 101 111 101",
    "2": "110 001 010 100 111", " ": "000 000 000 000 000",
}


def title(text: str, box: tuple[int, int, int, int], cell: int) -> torch.Tensor:
    """(HEIGHT, WIDTH) bool mask of `text` in blocky glyphs of `cell`-pixel cells, one cell apart, centred in
    `box` (left, top, right, bottom)."""
    glyphs = [np.array([[c == "1" for c in row] + [False] for row in _GLYPHS[ch].split()]) for ch in text]
    strokes = np.kron(np.concatenate(glyphs, axis=1)[:, :-1], np.ones((cell, cell), bool))
    h, w = strokes.shape
    left, top = (box[0] + box[2] - w) // 2, (box[1] + box[3] - h) // 2
    mask = torch.zeros(HEIGHT, WIDTH, dtype=torch.bool)
    mask[top : top + h, left : left + w] = torch.from_numpy(strokes)
    return mask


def _static_object() -> torch.Tensor:
    frames = shot(3, 48, shake=0.2)
    for i in range(48):
        frames[i, :, 30:50, 10 + 3 * i : 30 + 3 * i] = torch.tensor([0.9, 0.2, 0.1])[:, None, None]
    return frames


def _whip_pan() -> torch.Tensor:
    speed = np.concatenate([np.linspace(0, 70, 12), np.linspace(70, 0, 12)])
    x = 50 + np.cumsum(speed)
    whip = torch.stack([view(world(6), xi, 100, 1, 0.8 * v, 0) for xi, v in zip(x, speed)])
    return torch.cat([shot(6, 12, x0=50, shake=1), whip, shot(6, 12, x0=x[-1], shake=1)])


def _zoom_in() -> torch.Tensor:
    """A zoom of 6% a frame towards a fixed point of world 8."""
    zooms = [1.06**i for i in range(40)]
    return torch.stack([view(world(8), 400 - 80 * (z - 1) / z, 150 - 45 * (z - 1) / z, z) for z in zooms])


def _blur_burst() -> torch.Tensor:
    frames = shot(9, 40, shake=0.5)
    for i in range(18, 24):
        sign = (-1) ** i
        frames[i] = view(world(9), 200 + 20 * sign, 100 + 8 * sign, 1, 50, 20, samples=25)
    return frames


def _flash_at(frame: int) -> torch.Tensor:
    frames = shot(10, 28, shake=0.8)
    frames[frame] = 0.25 * frames[frame] + 0.75
    return frames


def _flash_2frames() -> torch.Tensor:
    frames = shot(11, 40, shake=0.8)
    frames[20:22] = 0.4 * frames[20:22] + 0.6
    return frames


def _strobe() -> torch.Tensor:
    frames = shot(12, 40, shake=0.8)
    for i in range(12, 30):
        if (i // 2) % 2:
            frames[i] = (frames[i] * 1.8).clamp(0, 1)
    return frames


def _flash_partial() -> torch.Tensor:
    frames = shot(13, 40, shake=0.8)
    frames[20, :, :, 80:] = frames[20, :, :, 80:] * 0.3 + 0.7
    return frames


def _faded(start: int, gains: list[float] | torch.Tensor) -> torch.Tensor:
    """Shot 14 then shot 15, 30 frames each, the frames from `start` on times `gains` (the rest times 1)."""
    k = torch.ones(60)
    k[start : start + len(gains)] = torch.as_tensor(gains)
    return torch.cat([shot(14, 30), shot(15, 30)]) * k[:, None, None, None]


def _dissolved(start: int, alpha: list[float] | torch.Tensor) -> torch.Tensor:
    """A cross-dissolve from shot 14 to shot 15 (60 frames each, the second 30 frames in): from `start` on
    the share of the second is `alpha`, then 1."""
    a = torch.zeros(60)
    a[start : start + len(alpha)] = torch.as_tensor(alpha)
    a[start + len(alpha) :] = 1
    a = a[:, None, None, None]
    first = torch.cat([shot(14, 30), shot(14, 30, x0=230)])
    second = torch.cat([shot(15, 30, x0=150), shot(15, 30)])
    return (1 - a) * first + a * second


def _dip_to_white() -> torch.Tensor:
    k = torch.zeros(60)
    k[22:30], k[30:38] = torch.linspace(0.1, 1, 8), torch.linspace(1, 0.1, 8)
    k = k[:, None, None, None]
    return torch.cat([shot(14, 30), shot(15, 30)]) * (1 - k) + k


def _lit(seed: int, after: Callable[[torch.Tensor], torch.Tensor], level: float = 1.0) -> torch.Tensor:
    """A 48-frame shot at `level`, changed by `after` from frame 24 on (a light, exposure or white balance)."""
    frames = shot(seed, 48, shake=0.8) * level
    frames[24:] = after(frames[24:])
    return frames


def _bluer(frames: torch.Tensor) -> torch.Tensor:
    """The frames as auto white balance jumping to a colder light leaves them: less red, more blue."""
    return (frames * torch.tensor([0.6, 0.85, 1.4])[:, None, None]).clamp(0, 1)


def _overlay_banner() -> torch.Tensor:
    frames = shot(20, 48, shake=0.8)
    frames[24:, :, 62:85, 10:151] = torch.tensor([200, 20, 20])[:, None, None] / 255
    frames[24:, :, title("BREAKING NEWS", (10, 62, 150, 84), cell=2)] = 1.0
    return frames


def _overlay_title() -> torch.Tensor:
    frames = shot(21, 48, shake=0.8)
    frames[24:, :, title("HELLO", (20, 20, 140, 70), cell=4)] = 1.0
    return frames


def _overlay_dim_title() -> torch.Tensor:
    frames = shot(22, 48, shake=0.8)
    frames[24:36] = frames[24:36] * 0.3
    frames[24:36, :, title("CHAPTER 2", (10, 25, 150, 65), cell=3)] = 1.0
    return frames


def _cut_at(frame: int) -> torch.Tensor:
    return torch.cat([shot(36, frame), shot(37, 28 - frame)])


def _short_shot(frames: int) -> torch.Tensor:
    """Shot 38, a shot of `frames` frames at frame 19, then shot 40."""
    return torch.cat([shot(38, 19), shot(39, frames), shot(40, 24)])


def _insert() -> torch.Tensor:
    first = shot(38, 24)
    return torch.cat([first[:19], shot(39, 1), first[19:]])


# A clip's sensor noise is seeded by its place here: new scenarios go at the end, to leave the others' frames be.
SCENARIOS: dict[str, Scenario] = {
    "static": Scenario(lambda: shot(1, 48, shake=0.2), (), "a still shot"),
    "static_fog": Scenario(lambda: 0.15 * shot(2, 48, shake=0.2) + 0.45, (), "low contrast"),
    "static_object": Scenario(_static_object, (), "still shot, a red square crosses"),
    "static_dark_noise": Scenario(lambda: sensor(0.04 * shot(4, 48, shake=0.2), noise=4, seed=9), (),
                                  "a dark room (4%), strong noise"),
    **{f"pan_{v}px": Scenario(functools.partial(shot, 5, 40, x0=50, vx=v, exposure=0.6), (), f"pan {v} px a frame")
       for v in (6, 16, 30, 50)},
    "whip_pan": Scenario(_whip_pan, (), "pan 0 -> 70 -> 0 px a frame"),
    "tilt_8px": Scenario(lambda: shot(7, 40, x0=300, y0=0, vy=8, exposure=0.6), (), "vertical pan 8 px a frame"),
    "zoom_in": Scenario(_zoom_in, (), "zoom 6% a frame"),
    "blur_burst": Scenario(_blur_burst, (), "6 frames of violent shake blur (50 px)"),
    **{f"flash_at_{p}": Scenario(functools.partial(_flash_at, p), (), "one camera-flash frame (75% white)")
       for p in range(8, 16)},  # every phase of windows of 10 overlapping by 2
    "flash_2frames": Scenario(_flash_2frames, (), "two flash frames"),
    "strobe": Scenario(_strobe, (), "strobe, 2 frames on, 2 off"),
    "flash_partial": Scenario(_flash_partial, (), "half the frame lit for one frame (someone else's flash)"),
    "fade_black": Scenario(lambda: _faded(18, torch.cat([torch.linspace(1, 0, 12), torch.linspace(0, 1, 12)])),
                           (), "fade out 12 frames, fade in 12: the new shot starts black"),
    "fade_black_fast": Scenario(lambda: _faded(27, [0.66, 0.33, 0.0, 0.0, 0.33, 0.66]),
                                (), "fade out 3 frames, fade in 3"),
    "dissolve_10": Scenario(lambda: _dissolved(25, torch.linspace(0.05, 0.95, 10)), (),
                            "cross-dissolve over 10 frames"),
    "dissolve_3": Scenario(lambda: _dissolved(29, [0.25, 0.5, 0.75]), (), "cross-dissolve over 3 frames"),
    "fade_white": Scenario(_dip_to_white, (), "dip to white, 8 + 8 frames"),
    "lights_off": Scenario(lambda: _lit(16, lambda x: x * 0.35), (), "lights dimmed to 35% at frame 24"),
    "lights_on": Scenario(lambda: _lit(17, lambda x: x / 0.3 * 0.9, level=0.3), (), "lights on: 30% -> 90% at 24"),
    "white_balance": Scenario(lambda: _lit(18, _bluer), (), "colour temperature jump at 24 (auto white balance)"),
    "exposure_jump": Scenario(lambda: _lit(19, lambda x: (x * 1.2 + 0.25).clamp(0, 1)), (),
                              "auto-exposure jump at 24 (+1 stop, lifted blacks)"),
    "overlay_banner": Scenario(_overlay_banner, (), "red lower-third banner with a title appears at 24"),
    "overlay_title": Scenario(_overlay_title, (), "big white title appears at 24"),
    "overlay_dim_title": Scenario(_overlay_dim_title, (), "background dimmed to 30% under a title, frames 24-35"),
    "cut_different": Scenario(lambda: torch.cat([shot(23, 24), shot(24, 24)]), (24,), "two different scenes"),
    "cut_similar_region": Scenario(lambda: torch.cat([shot(25, 24, x0=100), shot(25, 24, x0=900)]), (24,),
                                   "far apart regions of one world (same palette)"),
    "cut_jump": Scenario(lambda: torch.cat([shot(26, 24), shot(26, 24, x0=260, y0=130)]), (24,),
                         "jump cut: the same place moved 60 px"),
    "cut_zoom": Scenario(lambda: torch.cat([shot(27, 24), shot(27, 24, x0=240, y0=122, zoom=2.0)]), (24,),
                         "cut to a 2x closer view of the same place"),
    "cut_dark": Scenario(lambda: 0.12 * torch.cat([shot(28, 24), shot(29, 24)]), (24,), "two night shots (12%)"),
    "cut_very_dark": Scenario(lambda: sensor(0.05 * torch.cat([shot(30, 24), shot(31, 24)]), noise=3, seed=5), (24,),
                              "two very dark noisy shots (5%)"),
    "cut_dark_to_bright": Scenario(lambda: torch.cat([0.12 * shot(32, 24), shot(33, 24)]), (24,),
                                   "a dark shot to a bright one"),
    "cut_pan_to_pan": Scenario(lambda: torch.cat([shot(34, 24, x0=50, vx=16), shot(35, 24, x0=50, vx=16)]), (24,),
                               "between two panning shots"),
    **{f"cut_at_{p}": Scenario(functools.partial(_cut_at, p), (p,),
                               "a cut at this phase of the windows") for p in range(8, 16)},
    **{f"short_{n}frame_mid": Scenario(functools.partial(_short_shot, n), (19, 19 + n),
                                       f"a shot of {n} frame(s) at 19, inside window 16-26") for n in (1, 2, 3)},
    "short_1frame_insert": Scenario(_insert, (19, 20), "one frame of another shot at 19, then back to the first"),
    "montage_2frame": Scenario(lambda: torch.cat([shot(41 + i, 2) for i in range(10)]), tuple(range(2, 20, 2)),
                               "ten shots of 2 frames"),
    "montage_1frame": Scenario(lambda: torch.cat([shot(60, 11), *(shot(51 + i, 1) for i in range(6)), shot(57, 12)]),
                               tuple(range(11, 18)), "six shots of 1 frame, then a shot"),
}


def clip(name: str) -> torch.Tensor:
    """The frames (T, 3, HEIGHT, WIDTH), float in [0, 1] on 8-bit levels, of scenario `name`, with sensor
    noise of its own."""
    return sensor(SCENARIOS[name].make(), seed=list(SCENARIOS).index(name))
