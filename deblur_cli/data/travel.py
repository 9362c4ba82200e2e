"""Pack a source cache small enough to travel to a training machine, and unpack it there.

The cache holds photos and video frames as raw arrays and flows in float16 (about 650 MB); a GPU
machine that cannot reach the package registries needs them in a few tens of MB. `pack_cache` writes
every photo as a JPEG (quality 95, no chroma subsampling) and every video frame as a JPEG (quality
90, 4:2:0 chroma like the source videos themselves), the videos' segments and the licence records; `unpack_cache` decodes them into a cache again and recomputes the optical flows
there (`videos.compute_flows`). Both use OpenCV (the `data` extra), which such machines usually have
where PyAV is missing. On our cache (70 photos, 4 videos: 44 MB packed) the JPEG round trip kept
the photos at 45 dB PSNR of the originals (median; 36.8 dB for the noisiest) and the video frames at
39-44 dB: far below the blur the models learn to remove.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from deblur_cli.callbacks import Say
from deblur_cli.data.manifest import MANIFEST
from deblur_cli.data.npy import save_npy
from deblur_cli.data.photos import list_photos, load_photo
from deblur_cli.data.videos import VIDEOS_DIR, compute_flows, list_videos, load_video, opencv
from deblur_cli.errors import InputError, OutputError
from deblur_cli.files import write_bytes

PHOTO_QUALITY = 95
FRAME_QUALITY = 90  # video frames: noisier (vtest) and many, and their chroma was 4:2:0 to begin with


def pack_cache(cache: str | Path, out: str | Path, *, progress: Say | None = None) -> Path:
    """Write the photos and videos of `cache` as JPEGs, with segments and licences, into `out`."""
    cv2 = opencv("packing and unpacking source caches")
    cache, out = Path(cache), Path(out)
    photos, videos = list_photos(cache), list_videos(cache)
    if not photos and not videos:
        raise InputError(f"{cache} holds no photos or videos", hint="create it with `deblur synth --fetch`")
    for photo in photos:
        rel = photo.relative_to(cache).with_suffix(".jpg")
        _write_jpeg(cv2, load_photo(photo), out / rel, PHOTO_QUALITY, full_chroma=True)
    if progress:
        progress(f"{len(photos)} photos")
    for folder in videos:
        video = load_video(folder)
        target = out / VIDEOS_DIR / folder.name
        for i, frame in enumerate(video.frames):
            _write_jpeg(cv2, np.asarray(frame), target / "frames" / f"{i:04d}.jpg", FRAME_QUALITY, full_chroma=False)
        shutil.copyfile(folder / "meta.json", _parent(target / "meta.json"))
        if progress:
            progress(f"{folder.name}: {len(video.frames)} frames")
    _copy_records(cache, out)
    return out


def unpack_cache(packed: str | Path, cache: str | Path, *, progress: Say | None = None) -> Path:
    """Turn a folder written by `pack_cache` into a new source cache at `cache` (flows recomputed); a
    `cache` that is not empty is refused, as its lossless arrays would become JPEG round trips."""
    packed, cache = Path(packed), Path(cache)
    if cache.exists() and (not cache.is_dir() or any(cache.iterdir())):
        raise OutputError(f"{cache} is not empty", hint="unpack into a new or empty folder")
    cv2 = opencv("packing and unpacking source caches")
    photos = sorted(p for p in packed.rglob("*.jpg") if VIDEOS_DIR not in p.relative_to(packed).parts)
    metas = sorted((packed / VIDEOS_DIR).glob("*/meta.json"))
    if not photos and not metas:
        raise InputError(f"{packed} is not a packed source cache", hint="write one with `deblur synth --pack`")
    for photo in photos:
        target = cache / photo.relative_to(packed).with_suffix(".npy")
        save_npy(target, _read_jpeg(cv2, photo))
    if progress:
        progress(f"{len(photos)} photos")
    for meta in metas:
        frames = np.stack([_read_jpeg(cv2, f) for f in sorted((meta.parent / "frames").glob("*.jpg"))])
        target = cache / VIDEOS_DIR / meta.parent.name
        fwd, bwd = compute_flows(frames)
        for name, array in (("frames", frames), ("flow_fwd", fwd), ("flow_bwd", bwd)):
            save_npy(target / f"{name}.npy", array)
        shutil.copyfile(meta, target / "meta.json")  # last: it marks the folder complete
        if progress:
            progress(f"{meta.parent.name}: {len(frames)} frames and optical flow")
    _copy_records(packed, cache)
    return cache


def _copy_records(source: Path, target: Path) -> None:
    """The manifest and the licence files, which travel unchanged."""
    for name in (MANIFEST, "licences"):
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        elif (source / name).is_file():
            shutil.copyfile(source / name, _parent(target / name))


def _parent(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {path.parent}: {e.strerror}") from None
    return path


def _write_jpeg(cv2, rgb: np.ndarray, path: Path, quality: int, *, full_chroma: bool) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):  # OpenCV >= 4.5.5; older ones always subsample
        factor = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444 if full_chroma else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor]
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise OutputError(f"cannot encode {path}")
    write_bytes(_parent(path), data.tobytes())


def _read_jpeg(cv2, path: Path) -> np.ndarray:
    image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot decode {path}")
    return np.ascontiguousarray(image[..., ::-1])
