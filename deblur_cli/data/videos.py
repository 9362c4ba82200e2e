"""Real video for blur synthesis: frames and optical flow, prepared once into the source cache.

Real footage is not high-frame-rate, so averaging its frames gives ghosts, not blur. Instead, each pair
of consecutive frames gets a dense optical flow both ways (OpenCV's DIS, which needs no weights), and
`video_blur.py` renders sub-frames between them along that flow. `prepare_video` decodes a file (PyAV),
shrinks it, splits it at scene cuts, computes the flows and stores, under `cache/videos/<name>/`:

    frames.npy     (N, H, W, 3) uint8 sRGB
    flow_fwd.npy   (N - 1, H/2, W/2, 2) float16: flow i -> i+1, in full-resolution pixels (x, y)
    flow_bwd.npy   (N - 1, H/2, W/2, 2) float16: flow i+1 -> i
    meta.json      fps, segments (frame ranges without a cut), origin and licence

Flows are smooth, so half resolution loses little and quarters their size. Decoding and flow need PyAV
and OpenCV (the `data` extra), imported only here; training reads the arrays with numpy alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deblur_cli.data.npy import save_npy
from deblur_cli.data.decode import DECODE
from deblur_cli.errors import DeblurError, InputError
from deblur_cli.files import write_bytes

VIDEOS_DIR = "videos"  # under the source cache, beside photos/
LONG_SIDE = 640  # px; real footage carries some blur of its own, which shrinking reduces
MAX_FRAMES = 160  # per video, to bound the cache (about 250 MB for the largest)
CUT_RATIO = 4.0  # a frame difference this many times the video's median (and CUT_LEVEL) is a cut
CUT_LEVEL = 20.0  # mean absolute grey-level difference (0-255) below which no frame change is a cut
MAX_SOURCE_MOTION = 8.0  # px per frame (median over the frame): faster pans are blurred in the source
# itself and would make blurred "sharp" targets, so clips never span them


@dataclass(frozen=True)
class VideoFrames:
    """A prepared video, memory-mapped: what `video_blur.synthesize_video_clip` renders from."""

    name: str
    frames: np.ndarray  # (N, H, W, 3) uint8
    flow_fwd: np.ndarray  # (N - 1, H/2, W/2, 2) float16, i -> i+1
    flow_bwd: np.ndarray  # (N - 1, H/2, W/2, 2) float16, i+1 -> i
    segments: tuple[tuple[int, int], ...]  # [start, end) frame ranges without a scene cut

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) of the frames."""
        return self.frames.shape[2], self.frames.shape[1]


def list_videos(cache: str | Path) -> list[Path]:
    """Prepared video folders under `cache`, in a stable order."""
    root = Path(cache) / VIDEOS_DIR
    return sorted(p.parent for p in root.glob("*/meta.json")) if root.is_dir() else []


def load_video(folder: str | Path) -> VideoFrames:
    """Open a folder written by `prepare_video` (arrays memory-mapped). InputError naming the file for a
    damaged one (an array cut short, a meta.json that is not the one written)."""
    folder = Path(folder)
    # a folder whose meta.json is intact counts as prepared: --fetch alone would not prepare it again
    hint = f"delete {folder} and run `deblur synth --fetch` to prepare it again"
    arrays = {}
    for name in ("frames", "flow_fwd", "flow_bwd"):
        path = folder / f"{name}.npy"
        try:
            arrays[name] = np.load(path, mmap_mode="r")  # pickled objects are refused (ValueError)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read prepared video file {path}: {e}", hint=hint) from None
    frames, fwd, bwd = arrays["frames"], arrays["flow_fwd"], arrays["flow_bwd"]
    if frames.ndim != 4 or frames.shape[0] < 2 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise InputError(f"{folder / 'frames.npy'} holds no frames of a prepared video", hint=hint)
    n, h, w = frames.shape[:3]
    flow_shape = (n - 1, (h + 1) // 2, (w + 1) // 2, 2)
    if fwd.shape != flow_shape or bwd.shape != flow_shape:
        raise InputError(f"prepared video {folder} has inconsistent arrays", hint=hint)
    return VideoFrames(folder.name, frames, fwd, bwd, _read_segments(folder / "meta.json", n, hint))


def _read_segments(path: Path, frames: int, hint: str) -> tuple[tuple[int, int], ...]:
    """The segments stored in a prepared video's meta.json: [start, end) ranges of at least 2 of its
    `frames` frames."""
    try:
        segments = json.loads(path.read_text())["segments"]
        segments = tuple((int(a), int(b)) for a, b in segments)
    except (OSError, ValueError, KeyError, TypeError) as e:  # no JSON, no "segments", not pairs of numbers
        reason = f"no {e}" if isinstance(e, KeyError) else str(e)
        raise InputError(f"cannot read the segments of prepared video file {path}: {reason}", hint=hint) from None
    if not all(0 <= a and a + 2 <= b <= frames for a, b in segments):
        raise InputError(f"{path} holds segments outside the video's {frames} frames", hint=hint)
    return segments


def prepare_video(path: str | Path, folder: str | Path, *, meta: dict | None = None) -> VideoFrames:
    """Decode `path`, shrink it, find its cuts, compute both flows and store everything in `folder`.

    `meta` (origin, licence) is stored beside the arrays. Idempotent: a folder prepared with this
    decoding (`decode.DECODE`) is reused; one prepared another way is prepared again.
    """
    folder = Path(folder)
    if is_prepared(folder):
        return load_video(folder)
    frames, fps = decode_frames(path)
    if len(frames) < 2:
        raise InputError(f"{path} has fewer than 2 frames")
    fwd, bwd = compute_flows(frames)
    segments = find_segments(frames, fwd)
    (folder / "meta.json").unlink(missing_ok=True)  # an older preparation stops counting as complete
    for name, array in (("frames", frames), ("flow_fwd", fwd), ("flow_bwd", bwd)):
        save_npy(folder / f"{name}.npy", array)
    info = {"fps": fps, "decode": DECODE, "segments": [list(s) for s in segments], **(meta or {})}
    write_bytes(folder / "meta.json", json.dumps(info, indent=1).encode())  # last: its presence marks a complete folder
    return load_video(folder)


def is_prepared(folder: str | Path) -> bool:
    """Whether `folder` holds a complete preparation with this decoding, which prepare_video reuses."""
    return _prepared_decode(Path(folder)) == DECODE


def _prepared_decode(folder: Path) -> str | None:
    """The decode stamp of a complete prepared folder (None: no folder, or one from before stamps)."""
    try:
        return json.loads((folder / "meta.json").read_text()).get("decode")
    except (OSError, ValueError, AttributeError):
        return None


def decode_frames(path: str | Path) -> tuple[np.ndarray, float]:
    """(N, H, W, 3) uint8 sRGB frames (at most MAX_FRAMES, long side at most LONG_SIDE) and the rate."""
    import av  # only the one-time preparation needs a codec

    from deblur_cli.data.decode import shrunk_rgb
    from deblur_cli.video_io.containers import open_input
    from deblur_cli.video_io.streams import frame_rate

    frames = []
    try:
        with open_input(path) as container:
            stream = container.streams.video[0]
            fps = float(frame_rate(stream) or 0)  # raw DV's stated 60000 fps is its clock's, not its frames'
            factor = max(stream.width, stream.height) / LONG_SIDE
            for frame in container.decode(stream):
                width, height = frame.width, frame.height
                if factor > 1:
                    width, height = 2 * round(frame.width / factor / 2), 2 * round(frame.height / factor / 2)
                frames.append(shrunk_rgb(frame, width, height, video=True))
                if len(frames) == MAX_FRAMES:
                    break
    except (av.FFmpegError, IndexError) as e:
        raise InputError(f"cannot decode {path}: {e}") from None
    return np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8), fps


def find_segments(frames: np.ndarray, flow_fwd: np.ndarray) -> tuple[tuple[int, int], ...]:
    """[start, end) ranges of `frames` (N, H, W, 3) uint8 fit to render clips from: no scene cut and no
    pan faster than MAX_SOURCE_MOTION between any two neighbours inside.

    A cut is a change of the mean absolute grey level between neighbours far above the video's typical
    change: motion changes a few pixels a lot, a cut changes all of them. `flow_fwd` (N - 1, h, w, 2)
    gives the motion.
    """
    grey = frames.astype(np.float32).mean(axis=-1)
    change = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    if change.size == 0:
        return ((0, len(frames)),)
    threshold = max(CUT_LEVEL, CUT_RATIO * float(np.median(change)))
    motion = np.median(np.linalg.norm(flow_fwd.astype(np.float32), axis=-1).reshape(len(change), -1), axis=1)
    breaks = [i + 1 for i in range(change.size) if change[i] > threshold or motion[i] > MAX_SOURCE_MOTION]
    bounds = [0, *breaks, len(frames)]
    return tuple((a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b - a >= 2)


# How to get OpenCV: the project's `data` extra is this one package (the project is `deblur-video`, not PyPI's `deblur`)
INSTALL_OPENCV = "pip install opencv-python-headless"


def opencv(purpose: str):
    """The cv2 module, or a DeblurError saying that `purpose` needs OpenCV and how to install it."""
    try:
        import cv2
    except ImportError:
        hint = f"install it: {INSTALL_OPENCV} (the data extra)"
        raise DeblurError(f"{purpose} needs OpenCV", hint=hint) from None
    return cv2


def compute_flows(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward DIS flows between neighbours, at half resolution, float16 (see module doc)."""
    cv2 = opencv("optical flow for real-video sources")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    h, w = grey[0].shape
    half = (math.ceil(w / 2), math.ceil(h / 2))
    fwd, bwd = [], []
    for a, b in zip(grey[:-1], grey[1:]):
        for out, (src, dst) in ((fwd, (a, b)), (bwd, (b, a))):
            flow = dis.calc(src, dst, None)
            out.append(cv2.resize(flow, half, interpolation=cv2.INTER_AREA).astype(np.float16))
    return np.stack(fwd), np.stack(bwd)
