"""Finding the blurred/sharp sequence pairs of a dataset folder, in any of the layouts the public sets
use (GoPro, DVD, BSD, REDS, BasicSR, `deblur synth`): what `deblur evaluate` scores. No torch, so that
a wrong folder is reported at once."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from deblur_cli.errors import InputError, OutputError
from deblur_cli.folders import walk_once
from deblur_cli.video_io import VIDEO_SUFFIXES, input_identity
from deblur_cli.video_io.images import is_image
from deblur_cli.wording import some

# Names of the blurred and sharp halves of a pair, compared without case or file suffix: GoPro
# (blur, sharp), DVD (input, GT), BSD (Blur, Sharp), BasicSR (lq, gt) and `deblur synth` (blurred, sharp).
# A split's name before them is ignored, as in REDS (val_blur, val_sharp).
BLURRED_NAMES = ("blur", "blurred", "blurry", "input", "lq")
SHARP_NAMES = ("sharp", "gt", "groundtruth", "target", "hq")
_SPLIT_PREFIX = re.compile(r"^(train|training|val|valid|validation|test|testing)_")


@dataclass(frozen=True)
class SequencePair:
    name: str  # where it sits in the dataset, e.g. "GOPR0384_11_00"
    blurred: Path  # a video file or a folder of frames
    sharp: Path


def find_sequences(root: str | os.PathLike, unmatched: list[str] | None = None) -> list[SequencePair]:
    """The blurred/sharp pairs under `root`, sorted by name. A folder that holds a blurred entry and
    a sharp one (names as in BLURRED_NAMES and SHARP_NAMES, after a split's name such as `val_`;
    videos or folders of frames, a lone `RGB` subfolder looked into, as in BSD) is either one
    sequence, `<seq>/blur` + `<seq>/sharp`, or, when both hold further folders or videos instead of frames, a set of them paired by name
    (without case or file suffix), `blur/<seq>` + `sharp/<seq>`. Blurred entries without a sharp
    counterpart, and blurred folders without frames beside sharp frames, are left out, and their
    paths added to `unmatched` when given.
    InputError when `root` holds no pair."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder", hint="give the dataset's folder, e.g. GOPRO_Large/test")
    pairs: list[SequencePair] = []
    for here, subfolders, _ in walk_once(root):  # linked sequence folders too
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        entries = _pair_entries(here)
        blurred = next((entries[n] for n in BLURRED_NAMES if n in entries), None)
        sharp = next((entries[n] for n in SHARP_NAMES if n in entries), None)
        if blurred is None or sharp is None:
            if blurred is not None and unmatched is not None:
                unmatched.append(blurred.as_posix())
            continue
        subfolders.clear()  # a pair's halves are not searched again
        prefix = here.relative_to(root).as_posix()
        if blurred.is_file() or sharp.is_file() or _has_frames(_frames_of(blurred)):
            name = prefix if prefix != "." else root.resolve().name  # "." for the root itself: its own name
            pairs.append(SequencePair(name, _frames_of(blurred), _frames_of(sharp)))
            continue
        if _has_frames(_frames_of(sharp)):  # a sequence whose blurred frames are missing, not a set of them
            if unmatched is not None:
                unmatched.append(blurred.as_posix())
            continue
        sharp_entries = _clips_by_key(sharp)
        for clip in _clips_by_key(blurred).values():
            if _key(clip) not in sharp_entries:
                if unmatched is not None:
                    unmatched.append(clip.as_posix())
                continue
            # a video's sequence is named without its suffix, as a folder of frames is, so that
            # `--results DIR/seq0/` is found for it and `--save` writes `DIR/seq0/`
            stem = clip.stem if clip.is_file() else clip.name
            name = stem if prefix == "." else f"{prefix}/{stem}"
            pairs.append(SequencePair(name, _frames_of(clip), _frames_of(sharp_entries[_key(clip)])))
    if not pairs:
        raise InputError(
            f"no blurred/sharp pairs under {root}",
            hint=f"expected folders or videos named {'/'.join(BLURRED_NAMES)} beside {'/'.join(SHARP_NAMES)} (docs/evaluate.md)",
        )
    return sorted(pairs, key=lambda p: p.name)


def _listed(folder: Path) -> list[Path]:
    """The entries of `folder` by name, hidden ones left out: macOS's `._x.mkv` resource forks,
    `.thumbs` or `.ipynb_checkpoints` are no sequences or frames (images.list_images skips them too)."""
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)


def _pair_entries(folder: Path) -> dict[str, Path]:
    """The videos and frame folders in `folder` by kind (`_kind`); InputError for two blurred or two
    sharp ones of one name (`blurred.mkv` and `blurred.mp4`), of which one would be scored unseen."""
    entries: dict[str, Path] = {}
    for entry in filter(_is_clip, _listed(folder)):
        kind = _kind(entry)
        if kind in entries and kind in (*BLURRED_NAMES, *SHARP_NAMES):
            raise InputError(
                f"{entries[kind]} and {entry.name} are both the {kind} clip of one sequence",
                hint="keep one of them in the folder",
            )
        entries[kind] = entry
    return entries


def _clips_by_key(folder: Path) -> dict[str, Path]:
    """The videos and frame folders in `folder` by sequence key, in name order; InputError for two of
    one key (`seq0.mkv` and `seq0.mp4`), which would be scored as one sequence."""
    clips: dict[str, Path] = {}
    for clip in filter(_is_clip, _listed(folder)):
        if (key := _key(clip)) in clips:
            raise InputError(
                f"{clips[key]} and {clip.name} would both be sequence {key!r}",
                hint="keep one of them in the folder (sequences are named without case or file suffix)",
            )
        clips[key] = clip
    return clips


def _key(path: Path) -> str:
    return (path.stem if path.is_file() else path.name).lower()


def _kind(path: Path) -> str:
    """The key that says whether an entry is blurred or sharp: `val_blur` is `blur`."""
    return _SPLIT_PREFIX.sub("", _key(path))


def _is_clip(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES


def _has_frames(folder: Path) -> bool:
    return folder.is_dir() and any(is_image(p) for p in _listed(folder))


def _frames_of(path: Path) -> Path:
    """A video, a folder of frames, or the lone RGB subfolder of a folder without frames (BSD)."""
    if path.is_dir() and not _has_frames(path):
        subfolders = [p for p in _listed(path) if p.is_dir()]
        if len(subfolders) == 1 and subfolders[0].name.lower() == "rgb":
            return subfolders[0]
    return path


def find_results(pairs: list[SequencePair], root: str | os.PathLike) -> dict[str, Path]:
    """Where, under `root`, frames restored elsewhere (another method's results, or what `--save` wrote)
    are for each pair, by its name: a folder of frames or a video named as the sequence, looked for at
    its whole name under `root` first, then at ever shorter tails of it (`test/GOPR0384_11_00`, then
    `GOPR0384_11_00`), names compared without case or file suffix; for a single sequence without such
    an entry, `root` itself if it holds frames. InputError, before any work, for a folder that is not there or a sequence
    without results."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder", hint="give the folder that holds the restored frames of each sequence")
    found, missing = {}, []
    for pair in pairs:
        parts = pair.name.split("/")
        tails = (parts[k:] for k in range(len(parts)))
        path = next((p for tail in tails if (p := _entry(root, tail)) is not None), None)
        if path is None and len(pairs) == 1 and _has_frames(root):
            path = root  # after the folder of the sequence's name: a stray image in root is no results
        if path is None:
            missing.append(pair.name)
        else:
            found[pair.name] = _frames_of(path)
    if missing:
        raise InputError(
            f"no results in {root} for {len(missing)} of {len(pairs)} sequences: {some(missing, 3)}",
            hint=f"expected {root}/<sequence>/ holding its frames, or a video {root}/<sequence>.mp4 (docs/evaluate.md)",
        )
    return found


def _entry(root: Path, names: list[str]) -> Path | None:
    """root/names[0]/.../names[-1]: folders, then a folder or video last, each name without case or
    file suffix; None if there is none."""
    here = root
    for i, name in enumerate(names):
        last = i == len(names) - 1
        if not here.is_dir():
            return None
        matches = [p for p in _listed(here) if _key(p) == name.lower() and (p.is_dir() or (last and _is_clip(p)))]
        if not matches:
            return None
        here = matches[0]
    return here if here.is_file() or _has_frames(_frames_of(here)) else None


def sequence_digest(pair: SequencePair) -> str:
    """What tells whether a sequence's files are still those scored before: a digest of the blurred
    and sharp clips' input identities (sources.input_identity: a file by its content, a folder of images by
    its files' paths, sizes and modification times)."""
    identities = [input_identity(pair.blurred), input_identity(pair.sharp)]
    return hashlib.sha256(json.dumps(identities, sort_keys=True).encode()).hexdigest()


def save_folders(pairs: list[SequencePair], root: Path, *, scored: set[str] = frozenset()) -> dict[str, Path]:
    """Where `--save root` writes each sequence's restored frames: root/<sequence name>. OutputError,
    before any work, if one of them exists and is not an empty folder, unless its sequence is among
    `scored` (those a stopped evaluation scored, and saved, already: the command checks them later)."""
    existing = next(p for p in (root, *root.parents) if p.exists())  # the folders below it are made later
    if not existing.is_dir():
        raise OutputError(f"{existing} is a file, not a folder", hint="choose a folder for --save")
    folders = {pair.name: root / pair.name for pair in pairs}
    for name, folder in folders.items():
        if name in scored and folder.is_dir():
            continue
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise OutputError(f"{folder} already exists and is not an empty folder", hint="choose a new --save folder")
    return folders
