"""How many samples lossy encoders leave past black and white in limited-range video whose picture lies within
them, which the warning of video_io/headroom.py must not take for super-whites; and what counting them costs.

    python benchmarks/bench_headroom.py [--size 1920x1080] [--repeat 60]

A test card (75% bars, 100% white and black patches, a grey ramp, an 8-pixel black-and-white checker, 1-pixel
white lines), alone and with grain (Gaussian, 2% of full scale), all of it inside black to white, is encoded
(3 frames, BT.709 limited range) by x264 at CRF 18 and 28, x265 10-bit at CRF 28 and VP9 at CRF 40. For its
first frame decoded: the share of luma and chroma samples outside their range, and more than 4 levels (of 255)
outside; whether headroom.Headroom would warn; and CPU ms per frame of Headroom.add against frame_arrays (the
reader's conversion to RGB).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from deblur_cli.video_io import yuv
from deblur_cli.video_io.headroom import Headroom
from deblur_cli.video_io.info import frame_arrays

ENCODINGS = [
    ("libx264", "yuv420p", {"crf": "18"}),
    ("libx264", "yuv420p", {"crf": "28"}),
    ("libx265", "yuv420p10le", {"crf": "28"}),
    ("libvpx-vp9", "yuv420p", {"crf": "40", "b": "0"}),
]


def card(width: int, height: int, grain: bool) -> np.ndarray:
    """The test card as (H, W, 3) uint8 RGB."""
    image = np.zeros((height, width, 3))
    bars = [(1, 1, 1), (1, 1, 0), (0, 1, 1), (0, 1, 0), (1, 0, 1), (1, 0, 0), (0, 0, 1), (0, 0, 0)]
    for index, colour in enumerate(bars):
        image[: height // 4, index * width // 16 : (index + 1) * width // 16] = np.array(colour) * 0.75
    image[height // 4 : height // 2, : width // 4] = 1.0
    image[height // 4 : height // 2, width // 4 : width // 2] = 0.0
    image[height // 2 : 3 * height // 4, : width // 2] = np.linspace(0, 1, width // 2)[None, :, None]
    checker = (np.indices((height // 2, width // 2)) // 8).sum(0) % 2
    image[: height // 2, width // 2 :] = checker[..., None]
    image[height // 2 :: 3, width // 2 :] = 1.0
    if grain:
        image += np.random.default_rng(1).normal(0, 0.02, image.shape)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def encoded(path: Path, rgb: np.ndarray, codec: str, pix_fmt: str, options: dict) -> av.VideoFrame:
    """The first frame of `rgb` encoded 3 times (shifted a little each time), decoded again."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = rgb.shape[1], rgb.shape[0], pix_fmt, options
        stream.codec_context.colorspace, stream.codec_context.color_range = 1, 1
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.roll(rgb, 4 * index, 1), format="rgb24")
            frame = frame.reformat(format=pix_fmt, dst_colorspace=1, dst_color_range=1)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def shares(frame: av.VideoFrame) -> str:
    """Luma and chroma samples outside their range, and more than 4 levels outside, in percent."""
    lay = yuv.layout(frame.format.name)
    unit = 1 << (lay.bits - 8)
    luma, cb, cr = (plane.astype(np.int32) for plane in yuv.planes_of(frame, lay)[:3])
    told = []
    for name, planes, low, high in (("Y", [luma], 16, 235), ("C", [cb, cr], 16, 240)):
        samples = np.concatenate([plane.ravel() for plane in planes])
        for margin in (0, 4):
            outside = (samples < (low - margin) * unit) | (samples > (high + margin) * unit)
            told.append(f"{name}>{margin} {100 * outside.mean():.4f}%")
        told.append(f"{name} {samples.min()}-{samples.max()}")
    return ", ".join(told)


def cpu_ms(call, repeat: int) -> float:
    call()
    start = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - start) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        for grain in (False, True):
            rgb = card(width, height, grain)
            for codec, pix_fmt, options in ENCODINGS:
                frame = encoded(Path(folder) / "card.mkv", rgb, codec, pix_fmt, options)
                headroom = Headroom()
                add = cpu_ms(lambda: headroom.add(frame), args.repeat)
                dtype = np.uint16 if "10" in pix_fmt else np.uint8
                read = cpu_ms(lambda: frame_arrays(frame, dtype, False), args.repeat)
                warns = "warns" if headroom.warning("card") else "quiet"
                label = f"{'grain' if grain else 'card'} {codec} {pix_fmt} crf {options['crf']}"
                print(f"{label}: {shares(frame)}; {warns}; add {add:.2f} ms, frame_arrays {read:.2f} ms (CPU)")
        clean = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), format="rgb24")
        clean = clean.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=1)
        print(f"mid-grey yuv420p: add {cpu_ms(lambda: Headroom().add(clean), args.repeat):.2f} ms (CPU)")


if __name__ == "__main__":
    main()
