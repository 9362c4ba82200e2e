"""Sharp scene material: photos from the source cache, and procedural scenes that need no files.

Photos are kept in the cache as `.npy` arrays (H, W, 3) uint8 sRGB so that training reads them without
an image codec; `deblur_cli.data.sources` writes them.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np

from deblur_cli.data.npy import TEMP_SUFFIX
from deblur_cli.data.videos import VIDEOS_DIR
from deblur_cli.folders import walk_once
from deblur_cli.errors import InputError

SCENE_MARK = "~"  # in an added photo's name: its scene, the mark, its frame number


def procedural_scene(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A textured scene (H, W, 3) float32 sRGB in [0, 1] of `size` (W, H), drawn from `rng`.

    Natural-image statistics matter more than realism for learning to deblur: a 1/f background, flat
    and textured shapes with anti-aliased edges at every orientation, thin lines and fine stripes.
    """
    w, h = size
    img = _pink_noise(rng, w, h)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    scale = math.sqrt(w * h)
    for _ in range(int(rng.integers(25, 60))):
        _draw_shape(rng, img, xs, ys, scale)
    return np.clip(img, 0.0, 1.0)


def _pink_noise(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Colour noise whose amplitude falls as 1/f, like photographs, contrast-normalised to [0, 1]."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    out = np.empty((h, w, 3), np.float32)
    mix = rng.uniform(0.5, 1.0, size=(3, 3))  # correlated channels: mostly luminance, some colour
    fields = []
    for _ in range(3):
        spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** rng.uniform(0.9, 1.3)
        spectrum[0, 0] = 0
        field = np.fft.irfft2(spectrum, s=(h, w))
        fields.append(field / (field.std() + 1e-8))
    for c in range(3):
        field = sum(mix[c, k] * fields[k] for k in range(3))
        out[..., c] = 0.5 + 0.12 * field / mix[c].sum() + rng.uniform(-0.15, 0.15)
    return out


def _draw_shape(rng: np.random.Generator, img: np.ndarray, xs: np.ndarray, ys: np.ndarray, scale: float) -> None:
    h, w = img.shape[:2]
    kind = rng.choice(["rect", "ellipse", "line", "stripes"], p=[0.35, 0.3, 0.2, 0.15])
    a = scale * math.exp(rng.uniform(math.log(0.01), math.log(0.2)))
    b = a * math.exp(rng.uniform(-1.2, 1.2)) if kind != "line" else rng.uniform(0.6, 3.0)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    angle = rng.uniform(0, math.pi)
    reach = int(math.hypot(a, b)) + 2
    x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, w)
    y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    dx, dy = xs[y0:y1, x0:x1] - cx, ys[y0:y1, x0:x1] - cy
    u = math.cos(angle) * dx + math.sin(angle) * dy
    v = -math.sin(angle) * dx + math.cos(angle) * dy
    if kind == "ellipse":
        dist = (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * min(a, b)
    else:
        dist = np.maximum(np.abs(u) - a, np.abs(v) - b)
    alpha = np.clip(0.5 - dist, 0.0, 1.0)[..., None]  # one-pixel anti-aliased edge
    colour = rng.uniform(0.0, 1.0, size=3).astype(np.float32)
    if kind == "stripes":
        period = rng.uniform(2.5, 12.0)
        other = rng.uniform(0.0, 1.0, size=3).astype(np.float32)
        t = (0.5 + 0.5 * np.sin(2 * math.pi * u / period))[..., None]
        fill = colour * t + other * (1 - t)
    else:
        shade = rng.uniform(-0.15, 0.15) * (u / a)[..., None]  # a gentle gradient, like lit surfaces
        fill = colour + shade
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - alpha) + fill * alpha


def load_photo(path: str | Path, *, mmap: bool = False) -> np.ndarray:
    """A cached photo: (H, W, 3) uint8 sRGB; with `mmap`, memory-mapped (its header read and its size
    checked, its pixels only when used). InputError for a file that is not such an array."""
    path = Path(path)
    hint = "rebuild the cache with `deblur synth --fetch`"
    try:
        photo = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except OSError as e:
        raise InputError(f"cannot read cached photo {path}: {e.strerror or e}", hint=hint) from None
    except (ValueError, EOFError):  # numpy's words would suggest loading pickled data: never from a cache
        raise InputError(f"cached photo {path} is truncated or not an array of pixels", hint=hint) from None
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise InputError(f"cached photo {path} is not (H, W, 3) uint8", hint=hint)
    return photo


def list_photos(cache: str | Path) -> list[Path]:
    """All cached photos under `cache`, in a stable order (prepared videos' arrays, and arrays being
    written, are not photos, nor is anything in a hidden folder, where `deblur synth --add` builds).
    Folders linked into the cache are followed (a photos folder shared between caches), each once."""
    cache = Path(cache)
    walk = _visible(walk_once(cache))
    arrays = (folder / name for folder, _, names in walk for name in names if name.endswith(".npy"))
    return sorted(
        p for p in arrays
        if VIDEOS_DIR not in p.relative_to(cache).parts[:-1] and not p.name.endswith(TEMP_SUFFIX)
    )  # fmt: skip


def _visible(walk):
    for folder, subfolders, names in walk:
        subfolders[:] = [s for s in subfolders if not s.startswith(".")]
        yield folder, subfolders, names


def scene_group(path: str | Path) -> str:
    """The scene a photo shows. One's own material (data/own.py) names it before SCENE_MARK
    (walk~0003). The packages' views of one scene share a name up to a numbered or lettered suffix
    (aloeL / aloeR / aloeGT, graf1 / graf3, ela_original / ela_modified)."""
    stem = Path(path).stem
    if SCENE_MARK in stem:
        return stem.rsplit(SCENE_MARK, 1)[0]
    return re.sub(r"(_?\d+|L|R|GT|A|B|N|_original|_modified)$", "", stem)


def is_validation(path: str | Path, fraction: float = 0.15) -> bool:
    """Whether a photo belongs to the held-out split; stable across machines and runs.

    The split is by a hash of the scene group, so neither crops of one photo nor two views of one
    scene land on both sides.
    """
    digest = hashlib.sha256(scene_group(path).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def random_crop(rng: np.random.Generator, photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (h, w, 3) window of `photo` for `size` (w, h); the whole photo if it is smaller."""
    w, h = size
    ph, pw = photo.shape[:2]
    y = int(rng.integers(0, max(ph - h, 0) + 1))
    x = int(rng.integers(0, max(pw - w, 0) + 1))
    return photo[y : y + h, x : x + w]
