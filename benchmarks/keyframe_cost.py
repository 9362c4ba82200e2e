"""What a keyframe every N frames costs in file size: `deblur run` starts each segment it keeps (the points an
interrupted run continues from) with a keyframe, more often where restoring is slow (docs/cli.md, Interrupted
runs).

    python benchmarks/keyframe_cost.py --sources CACHE --videos bikes,bigbuckbunny --every 120,60,34,24,8

Each video of the source cache (`deblur synth --fetch`: CACHE/videos/NAME/frames.npy, exact RGB frames) is
encoded with x264 at `--crf` (preset medium, as `deblur run` encodes) with a keyframe at most every N frames,
and once at x264's default of 250; the size is printed against that one. x264 also puts keyframes of its own
at scene cuts. `--synthetic` encodes a generated panning texture instead (no cache needed).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import av
import numpy as np

DEFAULT_KEYINT = 250  # x264's own


def encoded_size(frames: np.ndarray, fps: float, keyint: int, crf: int) -> int:
    """Bytes of an MP4 of `frames` ((T, H, W, 3) uint8 RGB, even sides) in H.264, a keyframe at most every
    `keyint` frames."""
    buffer = io.BytesIO()
    buffer.name = "clip.mp4"
    with av.open(buffer, "w", format="mp4") as container:
        options = {"crf": str(crf), "preset": "medium", "x264-params": f"keyint={keyint}"}
        stream = container.add_stream("libx264", rate=round(fps), options=options)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getbuffer().nbytes


def panning_texture(frames: int, size: tuple[int, int] = (360, 640), seed: int = 0) -> np.ndarray:
    """A random texture, smoothed, panning two pixels a frame: frames whose differences cost next to nothing."""
    height, width = size
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (height, width + 2 * frames, 3)).astype(np.float32)
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1) + np.roll(texture, (1, 1), (0, 1))) / 4
    return np.stack([texture[:, 2 * t : 2 * t + width] for t in range(frames)]).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=Path, help="the source cache of `deblur synth --fetch`")
    parser.add_argument("--videos", default="bikes,bigbuckbunny", help="its videos, comma-separated")
    parser.add_argument("--synthetic", type=int, default=0, metavar="FRAMES", help="a panning texture instead")
    parser.add_argument("--every", default="120,60,34,24,8", help="keyframe intervals, comma-separated")
    parser.add_argument("--crf", type=int, default=18)
    args = parser.parse_args()
    clips: dict[str, tuple[np.ndarray, float]] = {}
    if args.synthetic:
        clips["panning texture"] = panning_texture(args.synthetic), 30.0
    elif args.sources is None:
        parser.error("give --sources CACHE, or --synthetic FRAMES")
    else:
        for name in args.videos.split(","):
            folder = args.sources / "videos" / name
            fps = json.loads((folder / "meta.json").read_text())["fps"]
            frames = np.load(folder / "frames.npy", mmap_mode="r")
            clips[name] = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2], fps
    for name, (frames, fps) in clips.items():
        base = encoded_size(frames, fps, DEFAULT_KEYINT, args.crf)
        print(f"{name}: {frames.shape[0]} frames {frames.shape[2]}x{frames.shape[1]}, CRF {args.crf}: {base} B")
        for every in (int(n) for n in args.every.split(",")):
            size = encoded_size(frames, fps, every, args.crf)
            print(f"  a keyframe every {every:>3} frames: {size} B, {100 * (size / base - 1):+.0f}%")


if __name__ == "__main__":
    main()
