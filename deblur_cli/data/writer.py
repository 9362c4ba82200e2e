"""Write synthetic clips to disk as a dataset: `clip_0000/blurred/0000.png`, `clip_0000/sharp/0000.png`,
or lossless videos `clip_0000/blurred.mkv`, `clip_0000/sharp.mkv` (FFV1, RGB).

The PNG layout matches what GoPro-style deblurring datasets use, so other tools can train on it too.
Videos are encoded with PyAV, imported only where they are written; PNG frames with zlib.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from deblur_cli import __version__
from deblur_cli.data.dataset import FixedClips, FixedVideoClips, sources_note, split_photos, split_videos
from deblur_cli.data.manifest import MANIFEST
from deblur_cli.errors import OutputError
from deblur_cli.files import output_error, write_bytes, written
from deblur_cli.levels import to_image


def write_dataset(
    out: str | Path,
    *,
    clips: int,
    frames: int,
    size: tuple[int, int],
    sources: str | Path | None,
    split: str,
    seed: int,
    max_layers: int = 2,
    videos: bool = False,
    fmt: str = "png",
    progress: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
    on_frame: Callable[[], None] | None = None,
) -> Path:
    """Write `clips` clips of `frames` frames at `size` (W, H) from the `split` ("train" or "val") photos
    of `sources` (procedural scenes when None), or with `videos` from its real videos, into `out`;
    returns `out`. `fmt` is "png" (a folder of frames per clip) or "ffv1" (a lossless video per clip).
    `out` must be new or empty, or hold what a stopped run with the same settings wrote (recorded in its
    STAMP file): then its whole clips are kept and the others written. `warn(line)`
    hears when `sources` yields no photo for these clips (they are then procedural scenes);
    `progress(done, clips)` of each clip done (written, or kept), `on_frame()` of each frame rendered."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be train or val, got {split!r}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    out = Path(out)
    settings = {
        "deblur": __version__, "clips": clips, "frames": frames, "size": list(size), "split": split, "seed": seed,
        "max_layers": max_layers, "videos": videos, "format": fmt, "sources": _sources_identity(sources),
    }  # fmt: skip
    if videos:
        train_videos, val_videos = split_videos(sources)
        dataset = FixedVideoClips(
            train_videos if split == "train" else val_videos, count=clips, frames=frames, size=size, seed=seed
        )
    else:
        photos = split_photos(sources)[split == "val"]
        if (note := sources_note(sources, photos, size)) and warn:
            warn(note)
        dataset = FixedClips(
            photos,
            count=clips, frames=frames, size=size, seed=seed, max_layers=max_layers, split=split,
        )  # fmt: skip
    _claim(out, settings)  # once the clips can be made: a folder is not claimed for a dataset that cannot be
    for i in range(clips):
        if not (out / f"clip_{i:04d}").is_dir():  # one a stopped run of the same settings wrote is kept
            write_clip(*dataset.clip(i, on_frame), out / f"clip_{i:04d}", fmt)
        if progress:
            progress(i + 1, clips)
    return out


STAMP = ".synth.json"  # in the output folder: the settings its clips were written with


def clips_written(out: str | Path) -> int:
    """How many whole clips `out` holds."""
    return sum(1 for p in Path(out).glob("clip_[0-9][0-9][0-9][0-9]") if p.is_dir())


def _changed(stored: dict, settings: dict) -> str:
    """What differs between the settings a dataset folder was written with and these, as "clips 2 (now 3)"."""

    def shown(key: str, value: object) -> str:
        if key == "size" and isinstance(value, list):
            return "x".join(map(str, value))
        return str(value).split(" ")[0] if key == "sources" else str(value)  # a cache: its path, not its digest

    def change(key: str) -> str:
        was, now = shown(key, stored.get(key)), shown(key, settings[key])
        return f"{key} {was} (its photos and videos changed since)" if was == now else f"{key} {was} (now {now})"

    return ", ".join(change(key) for key in settings if stored.get(key) != settings[key])


def _claim(out: Path, settings: dict) -> None:
    """Make `out` this dataset's folder: a new or empty folder, or one that a stopped run with the same
    `settings` left (its clips are kept and the rest written). OutputError for a file, or a folder
    holding anything else: new clips beside other files would make a dataset nobody asked for."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a folder", hint="write the clips into a new or empty folder")
    if out.is_dir() and any(p.name != STAMP for p in out.iterdir()):  # a stamp alone: no clip was written
        try:
            stored = json.loads((out / STAMP).read_text())
        except (OSError, ValueError):
            stored = None
        if stored == settings:
            return
        if isinstance(stored, dict) and (changed := _changed(stored, settings)):
            raise OutputError(
                f"{out} holds clips written with other settings: {changed}",
                hint="write the clips into a new or empty folder (one continues only with the settings it began with)",
            )
        raise OutputError(
            f"{out} is not empty",
            hint="write the clips into a new or empty folder (the same command continues one it stopped)",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / STAMP).write_text(json.dumps(settings, indent=1) + "\n")
    except OSError as e:
        raise output_error(out, e) from None


def _sources_identity(sources: str | Path | None) -> str | None:
    """The source cache as its manifest stands (the photos and videos it lists): a cache that gained or
    lost some since a run stopped would give other clips."""
    if sources is None:
        return None
    manifest = Path(sources) / MANIFEST
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else "no manifest"
    return f"{Path(sources).resolve()} {digest}"


def write_clip(blurred: torch.Tensor, sharp: torch.Tensor, final: Path, fmt: str) -> None:
    """One clip's folder, built under a temporary name and renamed when complete, so that a run stopped
    part-way (Ctrl-C, SIGTERM, a full disk) leaves no half-written clip under a clip's name."""
    temp = final.with_name(f".{final.name}.tmp")
    try:
        for name, clip in (("blurred", blurred), ("sharp", sharp)):
            folder = temp / (name if fmt == "png" else "")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise output_error(folder, e) from None
            if fmt == "ffv1":
                write_ffv1(clip, folder / f"{name}.mkv")
                continue
            for t, frame in enumerate(clip):
                write_png(frame, folder / f"{t:04d}.png")
        temp.rename(final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


FORMATS = ("png", "ffv1")


def write_ffv1(clip: torch.Tensor, path: str | Path, fps: int = 30) -> None:
    """clip: (T, 3, H, W) float in [0, 1]; written atomically as a lossless 8-bit RGB FFV1 video."""
    import av

    from deblur_cli.video_io.containers import local_name

    # a full disk, Ctrl-C, SIGTERM: no half-written clip left to block the next run
    with written(Path(path)) as temp, av.open(local_name(temp), "w") as container:
        container.flags |= av.container.Flags.bitexact.value  # no random segment ID or date: same seed, same bytes
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = clip.shape[-1], clip.shape[-2], "bgr0"
        for frame in clip:
            array = to_image(frame, 8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24").reformat(format="bgr0")))
        container.mux(stream.encode())


def write_png(frame: torch.Tensor, path: str | Path) -> None:
    """frame: (3, H, W) float in [0, 1]; written atomically as 8-bit RGB PNG.

    Encoded here with zlib rather than PyAV, so that `deblur train --evaluate --sample` works where
    PyAV is not installed (a training machine needs only torch)."""
    write_bytes(Path(path), png_bytes(to_image(frame, 8)))


def png_bytes(rgb: np.ndarray) -> bytes:
    """A PNG file of `rgb`, (H, W, 3) uint8: every row with the "Sub" filter (each byte minus the same
    channel of the pixel to its left, PNG spec 9.2), which suits photographs, then zlib."""
    height, width, _ = rgb.shape
    rows = rgb.reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), np.uint8)
    filtered[:, 0] = 1  # filter type Sub
    filtered[:, 1:4] = rows[:, :3]
    filtered[:, 4:] = rows[:, 3:] - rows[:, :-3]  # uint8 arithmetic wraps modulo 256, as the spec wants

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
