"""Torch datasets of synthetic clips, drawn on the fly from cached photos (or procedural scenes) and,
when the cache has them, real videos.

The train/validation split is by whole scene (`photos.is_validation`) and whole video
(HELD_OUT_VIDEOS): no crop of a held-out photo or frame of a held-out video is ever trained on. Clip k
of a stream has a seed derived from (seed, k) alone, so a resumed run continues the same stream, and
DDP ranks take disjoint, interleaved indices and loader workers whole batches in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from deblur_cli.data.manifest import MANIFEST
from deblur_cli.data.own import SOURCE_IMAGE_SUFFIXES, SOURCE_VIDEO_SUFFIXES
from deblur_cli.data.photos import is_validation, list_photos, load_photo
from deblur_cli.data.synth import CLEAN_SHARE, synthesize_clip
from deblur_cli.data.video_blur import fits as video_fits
from deblur_cli.data.video_blur import synthesize_video_clip
from deblur_cli.data.videos import VideoFrames, list_videos, load_video
from deblur_cli.errors import InputError

PROCEDURAL_SHARE = 0.2  # of training clips: crisp synthetic edges complement photos' soft backgrounds
VIDEO_SHARE = 0.15  # of training clips, when videos are cached: real scenes and real object motion
HELD_OUT_VIDEOS = frozenset({"tree"})  # whole videos kept for validation
ROOM = 1.2  # a photo must be this many times the clip size each way (room for the camera path), or it is left out


def split_photos(cache: str | Path | None) -> tuple[list[Path], list[Path]]:
    """(train, validation) photo paths of a source cache; both empty when there is no cache."""
    photos = list_photos(cache) if cache else []
    return [p for p in photos if not is_validation(p)], [p for p in photos if is_validation(p)]


def sources_note(
    sources: str | Path | None, photos: Sequence[Path], size: tuple[int, int], *, resumed: bool = False
) -> str | None:
    """What to tell a user whose `sources` (a cache folder, given) yields none of `photos` (its split's)
    for clips of `size` (W, H): every photo clip is then a procedural scene instead, which would
    otherwise pass unnoticed. None when some photo fits, or without `sources`. InputError when
    `sources` is no folder (a cache moved since a run began), and when it holds one's own pictures as
    they are: they would not be read, and weights trained without them look like weights trained on them
    (a note for a `resumed` run, which an earlier release began so: it goes on as it began)."""
    if sources is None:
        return None
    if not Path(sources).is_dir():
        raise InputError(f"the photo cache {sources} is not a folder", hint="give its new place with --sources")
    if not photos:
        if _holds_media(Path(sources)):  # one's own pictures, given as they are; or a --pack folder
            packed = (Path(sources) / MANIFEST).is_file()
            command = f"deblur synth --unpack {sources}" if packed else f"deblur synth --add {sources}"
            if resumed:
                return f"{sources} holds images or videos, not a source cache: the clips are procedural scenes"
            raise InputError(
                f"{sources} holds {'a packed cache' if packed else 'images or videos'}, not a source cache: "
                "they cannot be read from there",
                hint=f"make a cache of them with `{command} --sources CACHE`, then give that --sources CACHE",
            )
        return (
            f"{sources} holds no photos of this split: the clips are procedural scenes"
            f" (`deblur synth --fetch --sources {sources}` fetches photos)"
        )
    if not any(_fits(p, size) for p in photos):
        w, h = size
        return (
            f"none of the {len(photos)} photos in {sources} is {ROOM:g} times {w}x{h} each way: the clips are"
            " procedural scenes (smaller clips use the photos)"
        )
    return None


def _holds_media(folder: Path) -> bool:
    """Whether `folder` or a folder in it holds image or video files, as `deblur synth --add` takes them."""
    near = [p for sub in folder.iterdir() for p in (sub.iterdir() if sub.is_dir() else [sub])]
    return any(p.suffix.lower() in SOURCE_IMAGE_SUFFIXES | SOURCE_VIDEO_SUFFIXES for p in near)


def split_videos(cache: str | Path | None) -> tuple[list[Path], list[Path]]:
    """(train, validation) prepared video folders of a source cache; both empty without any."""
    videos = list_videos(cache) if cache else []
    return [v for v in videos if v.name not in HELD_OUT_VIDEOS], [v for v in videos if v.name in HELD_OUT_VIDEOS]


def clip_seed(seed: int, index: int, split: str = "val") -> int:
    """The synthesis seed of clip `index` of the stream `seed`; the "train" split's clips come from
    seeds of their own, so that its procedural scenes (the same for both splits without photos) are
    not the validation clips."""
    entropy = [seed, index] if split == "val" else [seed, index, 1]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]) >> 1


class _PhotoPool:
    """Photos big enough for clips of `size` (W, H), opened lazily (memory-mapped) so that each loader
    worker holds only what it touches. With a `device` other than the CPU, each photo is copied there
    once, as uint8, and served from there (synthesis on a GPU)."""

    def __init__(self, paths: Sequence[Path], size: tuple[int, int], device: torch.device | None = None):
        self.paths = [p for p in paths if _fits(p, size)]
        self.device = device if device is not None and device.type != "cpu" else None
        self._open: dict[int, np.ndarray | torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray | torch.Tensor:
        if i not in self._open:
            photo = load_photo(self.paths[i], mmap=True)
            self._open[i] = photo if self.device is None else torch.from_numpy(np.array(photo)).to(self.device)
        return self._open[i]


class _VideoPool:
    """Prepared videos that hold clips of `frames` frames of `size` (W, H), opened lazily (memory-mapped)
    like the photos, so that a loader worker started by pickling does not copy their arrays."""

    def __init__(self, folders: Sequence[Path], frames: int, size: tuple[int, int]):
        self.folders = [f for f in folders if video_fits(load_video(f), frames, size)]
        self._open: dict[int, VideoFrames] = {}

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, i: int) -> VideoFrames:
        if i not in self._open:
            self._open[i] = load_video(self.folders[i])
        return self._open[i]


def _fits(path: Path, size: tuple[int, int]) -> bool:
    h, w = load_photo(path, mmap=True).shape[:2]
    return w >= ROOM * size[0] and h >= ROOM * size[1]


def make_clip(
    seed: int,
    pool: _PhotoPool,
    *,
    frames: int,
    size: tuple[int, int],
    procedural_share: float,
    max_layers: int = 2,
    videos: _VideoPool | None = None,
    still: bool | None = None,
    handheld_share: float = 0.0,
    stabilized_share: float = 0.0,
    clean_share: float = CLEAN_SHARE,
    device: torch.device | str = "cpu",
    on_frame: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One (blurred, sharp) clip, (T, 3, H, W) each on `device`, drawn by `seed`: from one of `videos` in
    VIDEO_SHARE of clips when there are any, else a background and layers from `pool`. `still` forces an
    almost still (True) or a moving (False) camera on photo clips, `handheld_share` the share of moving ones
    that are shake-dominated, `stabilized_share` that are such shake stabilised, `clean_share` the share left
    without noise and compression (see synthesize_clip).
    `on_frame` hears each blurred frame rendered."""
    rng = np.random.default_rng(seed)
    if videos and rng.random() < VIDEO_SHARE:
        video = videos[int(rng.integers(len(videos)))]
        return synthesize_video_clip(
            int(rng.integers(0, 2**62)), video, frames=frames, size=size, clean_share=clean_share, device=device,
            on_frame=on_frame,
        )  # fmt: skip
    photo, layers = None, []
    if len(pool) and rng.random() >= procedural_share:
        picks = rng.choice(len(pool), size=min(3, len(pool)), replace=False)
        photo, layers = pool[int(picks[0])], [pool[int(i)] for i in picks[1:]]
    return synthesize_clip(
        int(rng.integers(0, 2**62)),
        frames=frames, size=size, photo=photo, layer_photos=layers, max_layers=max_layers, still=still,
        handheld_share=handheld_share, stabilized_share=stabilized_share, clean_share=clean_share, device=device,
        on_frame=on_frame,
    )  # fmt: skip


class TrainClips(IterableDataset):
    """An endless stream of (blurred, sharp) training clips, (T, 3, crop, crop) float32 in [0, 1], for a
    DataLoader that collates `batch` of them per step; `start` (a multiple of `batch`) is the first clip.

    `device`: where the clips are rendered (the CPU unless given; a GPU only in the training process
    itself, since loader worker processes cannot use CUDA). The stream is the same clips on any device.
    """

    def __init__(
        self,
        photos: Sequence[Path],
        *,
        frames: int,
        crop: int,
        seed: int,
        batch: int = 1,
        start: int = 0,
        rank: int = 0,
        world_size: int = 1,
        videos: Sequence[Path] = (),
        handheld_share: float = 0.0,
        stabilized_share: float = 0.0,
        clean_share: float = CLEAN_SHARE,
        device: torch.device | str = "cpu",
    ):
        self.device = torch.device(device)
        self.handheld_share = handheld_share  # of moving camera paths, shake-dominated (motion.handheld_path)
        self.stabilized_share = stabilized_share  # of moving camera paths, such shake stabilised (EIS)
        self.clean_share = clean_share  # of clips, left without noise and compression (synth.camera_pipeline)
        self.pool = _PhotoPool(photos, (crop, crop), self.device)
        self.videos = _VideoPool(videos, frames, (crop, crop))
        if start % batch:
            raise ValueError(f"start ({start}) must be a multiple of batch ({batch})")
        self.frames, self.crop, self.seed, self.batch = frames, crop, seed, batch
        self.start, self.rank, self.world_size = start, rank, world_size
        # with no photos at all every clip is procedural
        self.procedural_share = PROCEDURAL_SHARE if len(self.pool) else 1.0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        # This rank's j-th clip is global clip j * world_size + rank, and its batch b is its clips
        # b * batch ... (b + 1) * batch - 1. A loader collates each batch from one worker's items and takes
        # the workers in turn, so worker w makes whole batches w, w + workers, ...: the batches come in
        # order and hold the same clips whatever the number of workers (which may change on --resume).
        b = self.start // self.batch + worker
        while True:
            for j in range(b * self.batch, (b + 1) * self.batch):
                yield make_clip(
                    clip_seed(self.seed, j * self.world_size + self.rank),
                    self.pool,
                    frames=self.frames,
                    size=(self.crop, self.crop),
                    procedural_share=self.procedural_share,
                    videos=self.videos,
                    handheld_share=self.handheld_share,
                    stabilized_share=self.stabilized_share,
                    clean_share=self.clean_share,
                    device=self.device,
                )
            b += workers


class FixedClips(Dataset):
    """A fixed, reproducible set of clips (validation): clip i always comes from the same seed."""

    def __init__(
        self,
        photos: Sequence[Path],
        *,
        count: int,
        frames: int,
        size: tuple[int, int],
        seed: int,
        max_layers: int = 2,
        still: bool | None = None,
        handheld_share: float = 0.0,
        stabilized_share: float = 0.0,
        split: str = "val",
    ):
        self.pool = _PhotoPool(photos, size)
        self.split = split  # "train" or "val": the photos' split, which picks the clips' seeds (clip_seed)
        self.count, self.frames, self.size, self.seed, self.max_layers = count, frames, size, seed, max_layers
        self.still = still  # None: camera paths drawn as in training (some almost still)
        self.handheld_share = handheld_share
        self.stabilized_share = stabilized_share
        self.procedural_share = 0.0 if len(self.pool) else 1.0

    @property
    def procedural(self) -> bool:
        """Whether every clip is a procedural scene: no photo (of `photos`) fits clips of this size."""
        return not len(self.pool)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.clip(i)

    def clip(self, i: int, on_frame: Callable[[], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip i, `on_frame` hearing each of its blurred frames rendered."""
        if not 0 <= i < self.count:
            raise IndexError(i)
        return make_clip(
            clip_seed(self.seed, i, self.split),
            self.pool,
            frames=self.frames,
            size=self.size,
            procedural_share=self.procedural_share,
            max_layers=self.max_layers,
            still=self.still,
            handheld_share=self.handheld_share,
            stabilized_share=self.stabilized_share,
            on_frame=on_frame,
        )


def _no_video_fits(folders: Sequence[Path], frames: int, size: tuple[int, int]) -> InputError:
    """Why none of the prepared `folders` holds clips of `frames` frames of `size` (W, H): there are
    none, they are all smaller, or no shot of theirs is long enough; with what to change."""
    clip = f"clips of {frames} frames at {size[0]}x{size[1]}"
    if not folders:
        return InputError(f"no video holds {clip}: none of this split is installed", hint="install the videos with `deblur synth --fetch` (needs OpenCV)")
    sizes = [load_video(f).size for f in folders]
    if not any(w >= size[0] and h >= size[1] for w, h in sizes):
        largest = " and ".join(dict.fromkeys(f"{w}x{h}" for w, h in sizes))
        return InputError(
            f"no video holds {clip}: the videos of this split are {largest}",
            hint=f"choose a --size that fits in {largest}",
        )
    return InputError(f"no video holds {clip}: no shot of theirs is that long at that size", hint="ask for fewer --frames")


class FixedVideoClips(Dataset):
    """A fixed, reproducible set of clips from real videos: clip i comes from video i mod n, by seed."""

    def __init__(self, folders: Sequence[Path], *, count: int, frames: int, size: tuple[int, int], seed: int):
        self.pool = _VideoPool(folders, frames, size)
        if not len(self.pool):
            raise _no_video_fits(folders, frames, size)
        self.count, self.frames, self.size, self.seed = count, frames, size, seed

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.clip(i)

    def clip(self, i: int, on_frame: Callable[[], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip i, `on_frame` hearing each of its blurred frames rendered."""
        if not 0 <= i < self.count:
            raise IndexError(i)
        video = self.pool[i % len(self.pool)]
        return synthesize_video_clip(
            clip_seed(self.seed, i), video, frames=self.frames, size=self.size, on_frame=on_frame
        )


class SharpInputClips(Dataset):
    """`clips` with the sharp clip, rounded to 8 bits, as the input: what a model does to footage that
    needs no deblurring (an ideal model returns it unchanged)."""

    def __init__(self, clips: Dataset):
        self.clips = clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        _, sharp = self.clips[i]
        return torch.round(sharp * 255) / 255, sharp
