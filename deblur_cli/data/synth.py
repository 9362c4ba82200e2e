"""Motion-blurred clips with their sharp targets, GoPro-style: average many sub-frames in linear light.

One clip: a sharp scene seen through a hand-held camera path (`motion.CameraPath`) with rigid foreground
layers moving over it (occlusion included). Frame i is the mean of n sub-frames rendered across its
exposure; its target is the scene at the exposure centre. Then sensor noise, JPEG-like block quantisation
and 8-bit rounding. Everything is drawn from one seed, so a clip is reproducible bit for bit on one machine.

Compression is a torch reimplementation of what JPEG/H.264 intra coding does to an image (4:2:0 chroma,
8x8 DCT, quantisation by a scaled table) rather than a real codec: training must run without PyAV,
and an encoder round trip per frame would cost more than rendering the clip.

Rendering runs on any torch device (`device`): on a GPU a clip costs milliseconds where a CPU core
needs a few tenths of a second. The random draws stay on the CPU (NumPy, and a CPU torch.Generator for
the noise), so a clip is drawn the same on every device; only the arithmetic's rounding differs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from deblur_cli.data.motion import CameraPath, LayerPath, random_camera_path, random_layer_path
from deblur_cli.data.photos import procedural_scene, random_crop
from deblur_cli.transfer import linear_to_srgb, srgb_to_linear

REFERENCE_FRAME = (640, 360)  # a crop is cut from a virtual frame at least this big, so rotation and
# zoom blur vary across it as they would in a full frame
MIN_SUBFRAMES, MAX_SUBFRAMES = 7, 25
SCENE_SPAN = 2  # virtual frames a side, at most, of the scene a clip's camera looks at (more is mirrored)
SUBFRAME_SPACING = 1.0  # px of travel between sub-frames; coarser spacing shows ghost copies, not blur
SHOT_NOISE = (1e-4, 3e-3)  # range of the sensor noise's variance per unit of linear signal
READ_NOISE = (1e-6, 1e-4)  # range of its variance where there is no signal
CLEAN_SHARE = 0.1  # clips left without noise and compression (8-bit rounding only), so that clean
# footage stays clean: a model that only ever saw degraded input "restores" clean input too


def synthesize_clip(
    seed: int,
    *,
    frames: int,
    size: tuple[int, int],
    photo: np.ndarray | torch.Tensor | None = None,
    layer_photos: Sequence[np.ndarray | torch.Tensor] = (),
    max_layers: int = 2,
    degrade: bool = True,
    still: bool | None = None,
    handheld_share: float = 0.0,
    stabilized_share: float = 0.0,
    clean_share: float = CLEAN_SHARE,
    device: torch.device | str = "cpu",
    on_frame: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A (blurred, sharp) pair of clips, each (T, 3, H, W) float32 in [0, 1] on `device`, for `size` (W, H).

    photo: the background scene, (h, w, 3) uint8 or float in [0, 1] sRGB, a NumPy array or a tensor (on
        `device`: a training loop keeps its photos there); None draws a procedural one.
    layer_photos: where foreground objects are cut from, the same kinds; empty means procedural textures.
    max_layers: at most this many moving foreground objects (0 gives camera shake only).
    still: force an almost still (True) or a moving (False) camera; None draws it (motion.STILL_SHARE).
    handheld_share: the share of moving cameras whose shake dominates (motion.handheld_path); 0 draws none.
    stabilized_share: the share of moving cameras that are such shake seen through electronic stabilisation
        (CameraPath.stabilized): blurred frames that hardly move from one to the next; 0 draws none.
    degrade: add sensor noise and compression (except in `clean_share` of clips) and 8-bit rounding to the
        blurred clip.
    on_frame: called as each blurred frame is rendered (most of the work), for a progress bar.
    Deterministic for a given seed and inputs.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    vw, vh = max(w, REFERENCE_FRAME[0]), max(h, REFERENCE_FRAME[1])
    offset = (float(rng.uniform(0, vw - w)), float(rng.uniform(0, vh - h)))
    camera = random_camera_path(rng, still, handheld_share, stabilized_share)
    exposure = float(rng.uniform(0.3, 1.0))  # fraction of the frame period the shutter is open
    layers = [random_layer_path(rng, size) for _ in range(_layer_count(rng, max_layers))]
    blurred, sharp = render_clip(
        rng, camera, exposure, frames=frames, size=size, photo=photo, layers=layers, layer_photos=layer_photos,
        offset=offset, device=device, on_frame=on_frame,
    )  # fmt: skip
    blurred = camera_pipeline(blurred, rng, clean_share) if degrade else linear_to_srgb(blurred)
    return blurred.contiguous(), linear_to_srgb(sharp).contiguous()


def render_clip(
    rng: np.random.Generator,
    camera: CameraPath,
    exposure: float,
    *,
    frames: int,
    size: tuple[int, int],
    photo: np.ndarray | torch.Tensor | None = None,
    layers: Sequence[LayerPath] = (),
    layer_photos: Sequence[np.ndarray | torch.Tensor] = (),
    offset: tuple[float, float] | None = None,
    scale: float | None = None,
    device: torch.device | str = "cpu",
    on_frame: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """What a camera on the path `camera` sees, before the camera's degradations (`camera_pipeline`): the
    blurred clip (each frame the mean of sub-frames across its `exposure`, a fraction of the frame period) and
    the sharp one (the scene at each exposure's centre), each (T, 3, H, W) float32 in linear light on `device`.

    synthesize_clip draws the path; a caller that sets its own (a benchmark's fixed pans) renders it the same
    way. `layers` move over the scene, their textures and the photo's placement drawn from `rng` (photo and
    layer_photos as in synthesize_clip). offset: the crop's corner in the virtual frame (None: centred).
    scale: photo pixels per frame pixel (None: drawn in 1 to 1.4, less only where the photo is too small).
    """
    if frames < 1 or size[0] < 8 or size[1] < 8:
        raise ValueError(f"need frames >= 1 and a size of at least 8x8, got {frames} and {size}")
    device = torch.device(device)
    w, h = size
    vw, vh = max(w, REFERENCE_FRAME[0]), max(h, REFERENCE_FRAME[1])
    offset = ((vw - w) / 2, (vh - h) / 2) if offset is None else offset
    centres = np.arange(frames) - (frames - 1) / 2
    n = _subframe_count(camera, layers, centres, exposure, size, offset, (vw, vh))
    # sub-frame times of every frame, then the exposure centres (the sharp targets); each with its frame's centre
    phases = np.linspace(-exposure / 2, exposure / 2, n)
    times = np.concatenate([(centres[:, None] + phases[None, :]).ravel(), centres])
    of_frame = np.concatenate([np.repeat(centres, n), centres])

    background = _Background(rng, camera, times, of_frame, size, offset, (vw, vh), photo, scale, device)
    textures = [_layer_texture(rng, size, layer_photos, device) for _ in layers]

    def render(part: slice) -> torch.Tensor:
        img = background.render(times[part], of_frame[part])
        for path, (texture, alpha) in zip(layers, textures):
            img = _composite(img, path, texture, alpha, times[part])
        return img

    # One frame's sub-frames at a time, so memory holds the clip and one exposure, however long the clip.
    blurred = torch.empty(frames, 3, h, w, device=device)
    sharp = torch.empty(frames, 3, h, w, device=device)
    for t in range(frames):
        blurred[t] = render(slice(t * n, (t + 1) * n)).mean(dim=0)
        if on_frame is not None:
            on_frame()
    for start in range(0, frames, n):
        sharp[start : start + n] = render(slice(frames * n + start, frames * n + start + n))
    return blurred, sharp


def camera_pipeline(x: torch.Tensor, rng: np.random.Generator, clean_share: float = CLEAN_SHARE) -> torch.Tensor:
    """What a camera does to the light it averaged: x (..., 3, H, W) linear -> sRGB in [0, 1].

    Heteroscedastic sensor noise in linear light, sRGB encoding, JPEG-like compression in 70% of
    clips, and 8-bit rounding; `clean_share` of clips get the encoding and rounding alone. The share only
    moves a threshold on one draw: a clip that stays noisy gets the same noise under any share.
    """
    noisy = rng.random() >= clean_share
    if noisy:
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))  # on the CPU on every device
        x = _sensor_noise(x, rng, generator)
    x = linear_to_srgb(x)
    if noisy and rng.random() < 0.7:
        x = jpeg_like(x, quality=int(rng.integers(45, 96)))
    return torch.round(x * 255) / 255


def _layer_count(rng: np.random.Generator, max_layers: int) -> int:
    drawn = int(rng.choice([0, 1, 2], p=[0.4, 0.35, 0.25]))
    return min(drawn, max_layers)


def _pixel_grid(size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """(H, W, 3) float64 homogeneous pixel-centre coordinates of a (W, H) crop."""
    w, h = size
    rows = torch.arange(h, dtype=torch.float64, device=device) + 0.5
    cols = torch.arange(w, dtype=torch.float64, device=device) + 0.5
    ys, xs = torch.meshgrid(rows, cols, indexing="ij")
    return torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)


def _subframe_count(
    camera: CameraPath,
    layers: list[LayerPath],
    centres: np.ndarray,
    exposure: float,
    size: tuple[int, int],
    offset: tuple[float, float],
    virtual: tuple[int, int],
) -> int:
    """Enough sub-frames that the fastest point moves about SUBFRAME_SPACING px between two of them."""
    w, h = size
    probe = np.linspace(-exposure / 2, exposure / 2, 9)
    times = (centres[:, None] + probe[None, :]).ravel()
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64)
    corners[:, 0] += offset[0] - virtual[0] / 2
    corners[:, 1] += offset[1] - virtual[1] / 2
    poses = camera.homographies(times, math.hypot(*virtual) / 2, np.repeat(centres, len(probe)))
    world = np.einsum("nij,kj->nki", poses, corners)
    world = world[..., :2] / world[..., 2:]
    world = world.reshape(len(centres), len(probe), 4, 2)
    travel = np.linalg.norm(np.diff(world, axis=1), axis=-1).sum(axis=1).max()
    for layer in layers:
        m = layer.inverse_affines(times).reshape(len(centres), len(probe), 2, 3)
        centre_path = -np.einsum("ftji,ftj->fti", m[..., :2], m[..., 2])  # inverse of a rotation is its transpose
        travel = max(travel, np.linalg.norm(np.diff(centre_path, axis=1), axis=-1).sum(axis=1).max())
    return int(np.clip(math.ceil(travel / SUBFRAME_SPACING) + 1, MIN_SUBFRAMES, MAX_SUBFRAMES))


class _Background:
    """The camera's view of the scene, in linear light, at any time of the clip."""

    def __init__(
        self,
        rng: np.random.Generator,
        camera: CameraPath,
        times: np.ndarray,
        of_frame: np.ndarray,
        size: tuple[int, int],
        offset: tuple[float, float],
        virtual: tuple[int, int],
        photo: np.ndarray | torch.Tensor | None,
        scale: float | None,
        device: torch.device,
    ):
        self.camera, self.radius = camera, math.hypot(*virtual) / 2
        grid = _pixel_grid(size, torch.device("cpu"))
        grid[..., 0] += offset[0] - virtual[0] / 2
        grid[..., 1] += offset[1] - virtual[1] / 2
        self.grid = grid.to(device)
        # where the crop's corners travel in the world decides how much scene is needed
        corners = grid[[0, 0, -1, -1], [0, -1, 0, -1]].numpy()
        world = np.einsum("nij,kj->nki", camera.homographies(times, self.radius, of_frame), corners)
        world = (world[..., :2] / world[..., 2:]).reshape(-1, 2)
        lo, hi = world.min(axis=0), world.max(axis=0)
        # A long pan travels further than any scene should be big: the scene covers its middle
        # SCENE_SPAN virtual frames each way, and the camera sees it mirrored beyond.
        most = SCENE_SPAN * np.array(virtual, dtype=np.float64)
        lo = np.where(hi - lo > most, (lo + hi - most) / 2, lo)
        span = np.minimum(hi - lo, most)
        if photo is None:
            self.scale = 1.0
            scene_size = (int(math.ceil(span[0])) + 4, int(math.ceil(span[1])) + 4)
            scene = procedural_scene(rng, scene_size)
            origin = np.array([2.0, 2.0])
        else:
            scene = _as_float(photo)
            ph, pw = scene.shape[:2]
            # source pixels per frame pixel: >= 1 keeps targets sharp; less only if the photo is too small
            if scale is None:
                scale = min(rng.uniform(1.0, 1.4), (pw - 4) / span[0], (ph - 4) / span[1])
            self.scale = float(scale)
            slack = np.maximum(np.array([pw, ph]) - 4 - self.scale * span, 0.0)
            origin = 2.0 + rng.uniform(0, 1, size=2) * slack
        self.lo, self.origin = torch.from_numpy(lo).to(device), torch.from_numpy(origin).to(device)
        scene = _as_tensor(scene[..., :3], device)
        self.scene = srgb_to_linear(rearrange(scene, "h w c -> 1 c h w").clamp(0, 1))

    def render(self, times: np.ndarray, of_frame: np.ndarray) -> torch.Tensor:
        """(N, 3, H, W) linear-light views at `times`, in frames exposed around `of_frame` (CameraPath.homographies)."""
        hom = torch.from_numpy(self.camera.homographies(times, self.radius, of_frame)).to(self.grid.device)
        world = torch.einsum("nij,hwj->nhwi", hom, self.grid)
        world = world[..., :2] / world[..., 2:]
        src = (world - self.lo) * self.scale + self.origin
        return _sample(self.scene, src, "reflection")


def _as_float(photo: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """A photo as float32 in [0, 1], the same kind (array or tensor) and device."""
    if isinstance(photo, torch.Tensor):
        return photo.float() / 255 if photo.dtype == torch.uint8 else photo.float()
    return photo.astype(np.float32) / 255 if photo.dtype == np.uint8 else photo.astype(np.float32)


def _as_tensor(image: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        return image.to(device)
    return torch.from_numpy(np.ascontiguousarray(image)).to(device)


def _sample(image: torch.Tensor, coords: torch.Tensor, padding: str) -> torch.Tensor:
    """Bilinear samples of image (1, C, Hs, Ws) at pixel coordinates (N, H, W, 2) -> (N, C, H, W).

    All N views go through one grid_sample call as one tall grid, so the image is never copied N times.
    """
    n, h, w, _ = coords.shape
    hs, ws = image.shape[-2:]
    size = torch.tensor([ws, hs], dtype=coords.dtype, device=coords.device)
    grid = (2 * coords / size - 1).to(torch.float32)
    grid = rearrange(grid, "n h w k -> 1 (n h) w k")
    out = F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    return rearrange(out, "1 c (n h) w -> n c h w", n=n)


def _layer_texture(
    rng: np.random.Generator, size: tuple[int, int], layer_photos: Sequence[np.ndarray | torch.Tensor], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """A foreground object: linear texture (1, 3, h, w) and soft alpha (1, 1, h, w), on `device`."""
    short = min(size)
    a = rng.uniform(0.15, 0.4) * short
    b = a * math.exp(rng.uniform(-0.5, 0.5))
    lw, lh = int(2 * a) + 4, int(2 * b) + 4
    if layer_photos:
        photo = layer_photos[int(rng.integers(0, len(layer_photos)))]
        texture = random_crop(rng, photo, (lw, lh))
        if isinstance(texture, torch.Tensor):  # a small crop: shaped on the CPU like any other
            texture = texture.cpu().numpy()
        texture = _as_float(texture)
        texture = np.pad(texture, ((0, lh - texture.shape[0]), (0, lw - texture.shape[1]), (0, 0)), mode="reflect")
    else:
        texture = procedural_scene(rng, (lw, lh))
    ys, xs = np.mgrid[0:lh, 0:lw].astype(np.float64) + 0.5
    u, v = xs - lw / 2, ys - lh / 2
    power = rng.uniform(1.5, 6.0)  # superellipse: from diamond-ish blobs to rounded boxes
    phi = np.arctan2(v, u)
    wobble = 1.0 + sum(rng.uniform(-0.08, 0.08) * np.cos(k * phi + rng.uniform(0, 2 * math.pi)) for k in (2, 3, 5))
    rho = (np.abs(u / a) ** power + np.abs(v / b) ** power) ** (1 / power) / wobble
    alpha = np.clip((1.0 - rho) * min(a, b) + 0.5, 0.0, 1.0).astype(np.float32)
    texture = srgb_to_linear(rearrange(_as_tensor(texture, device), "h w c -> 1 c h w").clamp(0, 1))
    return texture, torch.from_numpy(alpha)[None, None].to(device)


def _composite(
    img: torch.Tensor, path: LayerPath, texture: torch.Tensor, alpha: torch.Tensor, times: np.ndarray
) -> torch.Tensor:
    """Paint a moving layer over img (N, 3, H, W) at `times`; later layers occlude earlier ones."""
    n, _, h, w = img.shape
    m = torch.from_numpy(path.inverse_affines(times)).to(img.device)
    local = torch.einsum("nij,hwj->nhwi", m, _pixel_grid((w, h), img.device))
    lh, lw = texture.shape[-2:]
    local = local + torch.tensor([lw / 2, lh / 2], dtype=local.dtype, device=local.device)
    both = torch.cat([texture, alpha], dim=1)
    sampled = _sample(both, local, "zeros")
    a = sampled[:, 3:]
    return img * (1 - a) + sampled[:, :3] * a


def _sensor_noise(x: torch.Tensor, rng: np.random.Generator, generator: torch.Generator) -> torch.Tensor:
    """sensor_noise at levels drawn log-uniformly in SHOT_NOISE and READ_NOISE."""
    shot = math.exp(rng.uniform(math.log(SHOT_NOISE[0]), math.log(SHOT_NOISE[1])))
    read = math.exp(rng.uniform(math.log(READ_NOISE[0]), math.log(READ_NOISE[1])))
    return sensor_noise(x, shot, read, generator)


def sensor_noise(x: torch.Tensor, shot: float, read: float, generator: torch.Generator) -> torch.Tensor:
    """Heteroscedastic Gaussian noise in linear light, of variance shot * x + read: shot noise grows with
    signal, read noise does not. x (..., 3, H, W) on any device; the noise is drawn by the CPU `generator`."""
    std = torch.sqrt(shot * x.clamp_min(0) + read)
    return x + std * torch.randn(x.shape, generator=generator).to(x.device)


# ITU-T T.81 Annex K example tables (luminance, chrominance), the usual basis of JPEG quality settings.
_LUMA_TABLE = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99],
], dtype=torch.float32)  # fmt: skip
_CHROMA_TABLE = torch.full((8, 8), 99.0)
_CHROMA_TABLE[:4, :4] = torch.tensor([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]])


def _dct_matrix() -> torch.Tensor:
    k = torch.arange(8, dtype=torch.float64)
    d = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d.float()


_DCT = _dct_matrix()


def jpeg_like(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Block-DCT quantisation of x (T, 3, H, W) sRGB in [0, 1] at a JPEG quality in 1..100.

    4:2:0 chroma, 8x8 DCT, coefficients rounded to the scaled Annex K tables; returns the same shape.
    """
    t, _, h, w = x.shape
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    tables = [((table * scale + 50) // 100).clamp(1, 255).to(x.device) for table in (_LUMA_TABLE, _CHROMA_TABLE)]
    ycc = _rgb_to_ycbcr(x * 255)
    luma = ycc[:, :1]
    chroma = F.avg_pool2d(F.pad(ycc[:, 1:], (0, w % 2, 0, h % 2), mode="replicate"), 2)
    luma = _quantise_blocks(luma, tables[0])
    chroma = _quantise_blocks(chroma, tables[1])
    chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]
    return (_ycbcr_to_rgb(torch.cat([luma, chroma], dim=1)) / 255).clamp(0, 1)


def _quantise_blocks(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    h, w = plane.shape[-2:]
    padded = F.pad(plane - 128, (0, -w % 8, 0, -h % 8), mode="replicate")
    blocks = rearrange(padded, "t c (hb y) (wb x) -> t c hb wb y x", y=8, x=8)
    dct = _DCT.to(plane.device)
    coeff = dct @ blocks @ dct.T
    coeff = torch.round(coeff / table) * table
    blocks = dct.T @ coeff @ dct
    out = rearrange(blocks, "t c hb wb y x -> t c (hb y) (wb x)")
    return out[..., :h, :w] + 128


def _rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(dim=1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return torch.stack([y, cb, cr], dim=1)


def _ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    y, cb, cr = x[:, 0], x[:, 1] - 128, x[:, 2] - 128
    return torch.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], dim=1)
