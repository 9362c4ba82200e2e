"""One's own sharp material added to a source cache (`deblur synth --add DIR --sources CACHE`).

Each image in DIR is a scene; so is each subfolder of frames and each video, of which FRAMES_PER_CLIP
frames, evenly spaced, are kept: consecutive frames are near copies, and a long clip would otherwise
outweigh every photo. They are stored as `photos/own-<DIR's name>/<scene>~<frame>.npy` (own-<name>-2, ...,
for another folder of the same name), decoded and shrunk as the fetched photos are, and `photos.scene_group` reads the scene from the name, so that a clip's frames
all land on one side of the train/validation split. With OpenCV, each video is also prepared as the fetched
videos are (`videos/own-<DIR's name>~<video>/`: frames and optical flow), a source of real-motion clips
for training. Adding DIR again replaces what it added before (the new photos are built in a
hidden folder, which training does not read, and then put in place).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

from deblur_cli.callbacks import Say
from deblur_cli.data.decode import shrunk_rgb
from deblur_cli.data.manifest import OWN_PREFIX, read_manifest, write_manifest
from deblur_cli.data.npy import save_npy
from deblur_cli.data.photos import SCENE_MARK, scene_group
from deblur_cli.data.sources import LONG_SIDE, MIN_SIDE, has_opencv
from deblur_cli.data.videos import INSTALL_OPENCV, VIDEOS_DIR, prepare_video
from deblur_cli.errors import InputError, OutputError, UsageError
from deblur_cli.weights.verify import file_digest
from deblur_cli.wording import count, some

FRAMES_PER_CLIP = 8
# what --add takes as sharp material: fewer kinds than `deblur run` reads (video_io.images.IMAGE_SUFFIXES,
# VIDEO_SUFFIXES): 8-bit photos and camera video, no float or HDR images, no GIFs
SOURCE_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})
SOURCE_VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".mpg", ".ts"})


def _listed(suffixes: frozenset[str]) -> str:
    return ", ".join(sorted(suffixes))


def add_own(
    cache: str | Path, folder: str | Path, *, progress: Say | None = None, warn: Say | None = None
) -> list[dict]:
    """Add the images, frame folders and videos of `folder` (or the one image or video it is) to the
    source cache `cache`; returns the manifest entries written. InputError where nothing is usable."""
    cache, folder = Path(cache), Path(folder)
    if not folder.exists():
        raise InputError(f"--add {folder}: no such file or folder")
    if folder.is_dir() and folder.resolve() in (cache.resolve(), *cache.resolve().parents):
        raise UsageError(
            f"--sources {cache} is inside --add {folder}: the cache would be written among your pictures",
            hint="give the cache a folder of its own",
        )
    source = _source_name(cache, folder)
    target = cache / "photos" / source
    building = target.with_name(f".{source}.tmp")
    _remove(building)  # left by an add that was stopped
    entries: list[dict] = []
    unreadable, small = [], []
    paths = [p for p in (sorted(folder.iterdir()) if folder.is_dir() else [folder]) if not p.name.startswith(".")]
    named: set[str] = set()  # scenes' names as stored: walk/ and walk.mp4 are two scenes
    for scene, frames in _scenes(paths):
        stored = _unused(_safe(scene), named)
        named.add(stored)
        kept, hashed = 0, (None, None)  # (file, its SHA-256): a video's frames share it
        for index, path, frame in frames:
            if frame is None:
                unreadable.append(path.name)
                continue
            factor = max(1.0, max(frame.width, frame.height) / LONG_SIDE)
            video = path.suffix.lower() in SOURCE_VIDEO_SUFFIXES
            photo = shrunk_rgb(frame, round(frame.width / factor), round(frame.height / factor), video=video)
            if min(photo.shape[:2]) < MIN_SIDE:
                small.append(path.name)
                continue
            name = f"{stored}{SCENE_MARK}{index:04d}.npy"
            save_npy(building / name, photo)
            kept += 1
            if hashed[0] != path:
                hashed = path, file_digest(path, "sha256")
            entries.append({
                "photo": str((target / name).relative_to(cache)),
                "source": source,
                "original": str(path.resolve()),
                "group": scene_group(name),
                "sha256": hashed[1],
                "size": [photo.shape[1], photo.shape[0]],
            })  # fmt: skip
        if kept and progress:
            progress(f"{stored}: {count(kept, 'frame')}")
    if unreadable and warn:
        warn(f"left out {count(len(unreadable), 'file')} that could not be decoded: {some(unreadable, 3)}")
    if small and warn:  # by file: a video's frames are all of its size
        small = list(dict.fromkeys(small))
        warn(f"left out {count(len(small), 'file')} under {MIN_SIDE} px a side (too little room for motion): "
             + some(small, 3))  # fmt: skip
    if not entries:
        _remove(building)
        raise InputError(
            f"{folder}: no images, frame folders or videos of at least {MIN_SIDE} px a side",
            hint=f"images ({_listed(SOURCE_IMAGE_SUFFIXES)}) or videos ({_listed(SOURCE_VIDEO_SUFFIXES)})",
        )
    _remove(target)
    building.rename(target)
    videos = [
        p for p in paths if p.is_file() and p.suffix.lower() in SOURCE_VIDEO_SUFFIXES and p.name not in unreadable
    ]
    entries += _video_sources(cache, source, videos, progress, warn)
    others = [e for e in read_manifest(cache) if e.get("source") != source]
    if warn and (twice := _added_before(entries, others)):
        warn(f"{some(twice, 3)} {'is' if len(twice) == 1 else 'are'} in the cache already, added from another folder:"
             " training sees each copy (remove a folder's copies by adding it again without them)")  # fmt: skip
    write_manifest(cache, others + entries)
    return entries


def _source_name(cache: Path, folder: Path) -> str:
    """own-<name of `folder`>, the source a folder or file of that name adds: the one this folder added before
    (to replace it), else the first of own-<name>, own-<name>-2, ... that no other folder holds (trip1/frames and
    trip2/frames are two sources)."""
    base = OWN_PREFIX + _safe(folder.resolve().name if folder.is_dir() else folder.stem)
    where = folder.resolve()
    originals: dict[str, list[Path]] = {}
    for entry in read_manifest(cache):
        originals.setdefault(entry.get("source"), []).append(Path(entry.get("original", "")))
    for number in itertools.count(1):
        name = base if number == 1 else f"{base}-{number}"
        held = originals.get(name)
        if held is None and not (cache / "photos" / name).exists():
            return name
        if held and all(path == where or where in path.parents for path in held):
            return name
    raise AssertionError("unreachable")


def _added_before(entries: list[dict], others: list[dict]) -> list[str]:
    """The names of the files among `entries` that `others` hold too (the same SHA-256)."""
    known = {e.get("sha256") for e in others if e.get("sha256")}
    return sorted({Path(e["original"]).name for e in entries if e.get("sha256") in known})


def _video_sources(cache: Path, source: str, videos: list[Path], progress: Say | None, warn: Say | None) -> list[dict]:
    """Each of `videos` prepared as a real-motion source, as the fetched videos are (frames and optical flow,
    `videos.prepare_video`), in `videos/<source>~<name>/`, replacing what `source` added before; their
    manifest entries. Where OpenCV is missing, a warning: the videos are stills only."""
    for old in (cache / VIDEOS_DIR).glob(f"{source}{SCENE_MARK}*"):
        _remove(old)
    if not videos:
        return []
    if not has_opencv():
        if warn:
            warn("your videos are added as stills only: real-motion clips need OpenCV's optical flow "
                 f"({INSTALL_OPENCV}), then --add again")  # fmt: skip
        return []
    entries = []
    for path in videos:
        folder = cache / VIDEOS_DIR / f"{source}{SCENE_MARK}{_safe(path.stem)}"
        try:
            prepared = prepare_video(path, folder, meta={"licence": "your own", "original": str(path.resolve())})
        except InputError as e:
            if warn:
                warn(f"{path.name} is added as stills only: {e}")
            continue
        if progress:
            progress(f"{path.stem}: {count(len(prepared.frames), 'frame')} and optical flow, for real-motion clips")
        entries.append({
            "video": str(folder.relative_to(cache)),
            "source": source,
            "original": str(path.resolve()),
            "sha256": file_digest(path, "sha256"),
            "size": list(prepared.size),
            "frames": len(prepared.frames),
        })  # fmt: skip
    return entries


def _scenes(paths: list[Path]) -> Iterator[tuple[str, Iterator[tuple[int, Path, object]]]]:
    """(scene, its frames as (frame number, file, decoded av.VideoFrame or None)) for each image, frame
    folder and video of `paths`; other kinds of files are passed over."""
    for path in paths:
        suffix = path.suffix.lower()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SOURCE_IMAGE_SUFFIXES)
            yield path.name, ((i, files[i], _picture(files[i])) for i in _evenly(len(files)))
        elif suffix in SOURCE_IMAGE_SUFFIXES:
            yield path.stem, iter([(0, path, _picture(path))])
        elif suffix in SOURCE_VIDEO_SUFFIXES:
            yield path.stem, _video_frames(path)


def _evenly(count: int) -> list[int]:
    """FRAMES_PER_CLIP indices spread over `count` frames, first and last included (all where fewer)."""
    if count <= FRAMES_PER_CLIP:
        return list(range(count))
    return sorted({round(i * (count - 1) / (FRAMES_PER_CLIP - 1)) for i in range(FRAMES_PER_CLIP)})


def _picture(path: Path):
    """The picture of an image file, or None where it cannot be decoded."""
    import av

    from deblur_cli.video_io.containers import open_input

    try:
        with open_input(path) as container:
            return next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, IndexError, OSError):
        return None


def _video_frames(path: Path) -> Iterator[tuple[int, Path, object]]:
    """FRAMES_PER_CLIP frames of a video, evenly spaced: its packets are counted first (no decoding), then
    the chosen frames decoded. One None for a video that cannot be read."""
    import av

    from deblur_cli.video_io.containers import open_input

    try:
        with open_input(path) as container:
            packets = sum(1 for packet in container.demux(video=0) if packet.size)
        wanted = set(_evenly(packets))
        with open_input(path) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index in wanted:
                    wanted.discard(index)
                    yield index, path, frame
                if not wanted:
                    return
    except (av.FFmpegError, IndexError, OSError):
        yield 0, path, None


def _unused(name: str, named: set[str]) -> str:
    """`name`, or name-2, name-3 ... where it is taken."""
    return next(f"{name}-{n}" for n in itertools.count(2) if f"{name}-{n}" not in named) if name in named else name


def _safe(name: str) -> str:
    """A file name part: no path separators, no scene mark, no control characters."""
    cleaned = "".join("-" if c in "/\\" + SCENE_MARK or ord(c) < 32 else c for c in name).strip(". ")
    return cleaned or "scene"


def _remove(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise OutputError(f"cannot remove {path}: {e.strerror}") from None
