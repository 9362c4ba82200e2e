"""How exactly deblur's reader and writer convert between YUV and RGB, and what it costs.

    python benchmarks/bench_colour.py [--size 1920x1080] [--repeat 9] [--sections reader writer siting speed]

- reader: frames of random planes in each pixel format (BT.709, BT.601 and BT.2020 matrices, limited and full
  range) read as `deblur run` reads them (video_io.info.frame_arrays) against the exact float conversion of
  the planes (chroma repeated over its block): mean (R, G, B) difference and the largest, in 8-bit levels.
- writer: RGB frames (8 and 16 bits) written by deblur's writer (FFV1, lossless, in each pixel format), their
  planes against the exact float conversion (chroma: the mean over its block), in 8-bit levels; and read back
  by deblur's reader (the round trip), against the frames written.
- siting: vertical colour edges (odd and even columns) written by deblur's writer (H.264 8-bit, HEVC 10-bit;
  nearly lossless) and read back three ways: deblur's reader, FFmpeg's default conversion (chroma repeated, as
  players that ignore chroma siting show it) and FFmpeg's accurate one (chroma interpolated where the stream
  says it is sited, as mpv shows it): how far the chroma edges moved (pixels) and the mean |R error| at the edges.
- speed: ms per frame of `--size` read (frame_arrays) and converted for the encoder (the writer's conversion,
  timed through a raw-video encoder), best and median of `--repeat`.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deblur_cli.video_io import EncodeOptions, VideoInfo, open_sink, open_source
from deblur_cli.video_io.info import frame_arrays
from deblur_cli.video_io.writer import VideoEncoder

MATRICES = {"bt709": (1, 0.2126, 0.0722), "bt601": (6, 0.299, 0.114), "bt2020nc": (9, 0.2627, 0.0593)}
READ_FORMATS = ("yuv420p", "yuv422p", "yuv444p", "nv12", "nv21", "yuv420p10le", "yuv422p10le", "yuv444p10le",
                "yuv420p12le", "p010le")  # fmt: skip
WRITE_FORMATS = {8: ("yuv420p", "yuv444p"), 16: ("yuv420p10le", "yuv422p10le", "yuv444p10le", "yuv420p")}
SEMI_PLANAR = {"nv12": False, "nv21": True, "p010le": False}  # Cr first


def _bits(pix_fmt: str) -> int:
    return max(component.bits for component in av.VideoFormat(pix_fmt).components)


def _ranges(bits: int, full: bool) -> tuple[float, float, float, float]:
    """(black, luma range, neutral chroma, chroma range) in code values, by ITU-T H.273."""
    if full:
        return 0, (1 << bits) - 1, 1 << (bits - 1), (1 << bits) - 1
    one = 1 << (bits - 8)
    return 16 * one, 219 * one, 128 * one, 224 * one


def _view(plane, dtype, count=1) -> np.ndarray:
    rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // np.dtype(dtype).itemsize)
    return rows[:, : plane.width * count]


def planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Y, Cb, Cr of a frame as int64 code values (P010's shifted down)."""
    name, bits = frame.format.name, _bits(frame.format.name)
    dtype = np.uint8 if bits <= 8 else np.dtype("<u2")
    shift = 16 - bits if name.startswith("p0") else 0
    luma = _view(frame.planes[0], dtype).astype(np.int64) >> shift
    if name not in SEMI_PLANAR:
        return [luma] + [_view(p, dtype).astype(np.int64) >> shift for p in frame.planes[1:3]]
    pairs = _view(frame.planes[1], dtype, 2).astype(np.int64) >> shift
    cb, cr = pairs[:, 0::2], pairs[:, 1::2]
    return [luma, cr, cb] if SEMI_PLANAR[name] else [luma, cb, cr]


def set_planes(frame: av.VideoFrame, values: list[np.ndarray]) -> None:
    name, bits = frame.format.name, _bits(frame.format.name)
    dtype = np.uint8 if bits <= 8 else np.dtype("<u2")
    shift = 16 - bits if name.startswith("p0") else 0
    luma, cb, cr = (v.astype(np.int64) << shift for v in values)
    _view(frame.planes[0], dtype)[...] = luma
    if name in SEMI_PLANAR:
        pairs = _view(frame.planes[1], dtype, 2)
        pairs[:, 0::2], pairs[:, 1::2] = (cr, cb) if SEMI_PLANAR[name] else (cb, cr)
    else:
        _view(frame.planes[1], dtype)[...], _view(frame.planes[2], dtype)[...] = cb, cr


def exact_rgb(frame: av.VideoFrame, kr: float, kb: float, full: bool) -> np.ndarray:
    """Float RGB in [0, 1] of a YUV frame's planes, each chroma sample repeated over the pixels it covers."""
    luma, cb, cr = planes(frame)
    down, across = -(-luma.shape[0] // cb.shape[0]), -(-luma.shape[1] // cb.shape[1])
    cb, cr = (c.repeat(down, 0).repeat(across, 1)[: luma.shape[0], : luma.shape[1]] for c in (cb, cr))
    black, luma_range, neutral, chroma_range = _ranges(_bits(frame.format.name), full)
    y, u, v = (luma - black) / luma_range, (cb - neutral) / chroma_range, (cr - neutral) / chroma_range
    red, blue = y + 2 * (1 - kr) * v, y + 2 * (1 - kb) * u
    return np.clip(np.stack([red, (y - kr * red - kb * blue) / (1 - kr - kb), blue], axis=-1), 0, 1)


def exact_yuv(rgb: np.ndarray, kr: float, kb: float, bits: int, full: bool) -> list[np.ndarray]:
    """Float Y, Cb, Cr code values (full resolution) of float RGB in [0, 1]."""
    y = rgb @ np.array([kr, 1 - kr - kb, kb])
    black, luma_range, neutral, chroma_range = _ranges(bits, full)
    cb, cr = (rgb[..., 2] - y) / (2 - 2 * kb), (rgb[..., 0] - y) / (2 - 2 * kr)
    return [black + y * luma_range, neutral + cb * chroma_range, neutral + cr * chroma_range]


def random_frame(pix_fmt: str, width: int, height: int, matrix: int, full: bool, seed: int = 0) -> av.VideoFrame:
    """A frame of random planes: luma over 80% of its range, chroma within 18% of neutral."""
    rng = np.random.default_rng(seed)
    frame = av.VideoFrame(width, height, pix_fmt)
    frame.colorspace, frame.color_range = matrix, 2 if full else 1
    black, luma_range, neutral, chroma_range = _ranges(_bits(pix_fmt), full)
    chroma = frame.planes[1].height, frame.planes[1].width
    luma = rng.uniform(black + 0.1 * luma_range, black + 0.9 * luma_range, (height, width))
    cb, cr = (neutral + rng.uniform(-0.18, 0.18, chroma) * chroma_range for _ in range(2))
    set_planes(frame, [np.round(v) for v in (luma, cb, cr)])
    return frame


def random_rgb(width: int, height: int, bits: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgb = np.clip(rng.uniform(0.05, 0.95, (height, width, 1)) + rng.uniform(-0.08, 0.08, (height, width, 3)), 0, 1)
    return np.round(rgb * (255 if bits == 8 else 65535)).astype(np.uint8 if bits == 8 else np.uint16)


def reader_section(width: int, height: int) -> None:
    print("reader: mean R, G, B and largest difference from the exact conversion, 8-bit levels")
    for pix_fmt in READ_FORMATS:
        dtype = np.uint8 if _bits(pix_fmt) <= 8 else np.uint16
        level = np.iinfo(dtype).max / 255
        for label, (matrix, kr, kb) in MATRICES.items():
            for full in (False, True):
                frame = random_frame(pix_fmt, width, height, matrix, full, seed=1)
                got = frame_arrays(frame, dtype, alpha=False)[0].astype(np.float64)
                diff = (got - exact_rgb(frame, kr, kb, full) * np.iinfo(dtype).max) / level
                red, green, blue = diff.mean(axis=(0, 1))
                print(f"  {pix_fmt:12} {label:9} {'full' if full else 'limited':7} {red:+7.3f} {green:+7.3f} "
                      f"{blue:+7.3f}  max {np.abs(diff).max():.2f}")  # fmt: skip


def _info(width: int, height: int, bits: int, matrix: int, value_range: int) -> VideoInfo:
    return VideoInfo(width=width, height=height, fps=Fraction(25), time_base=Fraction(1, 25), frame_count=1,
                     bit_depth=8 if bits == 8 else 10, color={"primaries": 1, "transfer": 1, "matrix": matrix,
                     "range": value_range})  # fmt: skip


def writer_section(width: int, height: int, folder: Path) -> None:
    print("writer: mean Y, Cb, Cr difference of the planes written from the exact conversion, 8-bit levels;")
    print("        round trip: mean R, G, B difference of the frames read back from those written")
    for bits, formats in WRITE_FORMATS.items():
        image = random_rgb(width, height, bits, seed=2)
        rgb = image / np.iinfo(image.dtype).max
        for pix_fmt in formats:
            for label, (matrix, kr, kb) in MATRICES.items():
                for full in (False, True):
                    path = folder / f"w_{bits}_{pix_fmt}_{label}_{full}.mkv"
                    info = _info(width, height, bits, matrix, 2 if full else 1)
                    with open_sink(path, info, EncodeOptions(codec="ffv1", pix_fmt=pix_fmt, crf=None)) as sink:
                        sink.write(image, pts=0)
                    with av.open(str(path)) as container:
                        written = planes(next(container.decode(video=0)))
                    depth = _bits(pix_fmt)
                    want = exact_yuv(rgb, kr, kb, depth, full)
                    for i in (1, 2):  # chroma: the mean over each block
                        down, across = height // written[i].shape[0], width // written[i].shape[1]
                        want[i] = want[i].reshape(height // down, down, width // across, across).mean(axis=(1, 3))
                    shift = [((w - x) / (1 << (depth - 8))).mean() for w, x in zip(written, want)]
                    with open_source(path) as source:
                        back = next(iter(source)).image
                    trip = ((back / np.iinfo(back.dtype).max - rgb) * 255).mean(axis=(0, 1))
                    print(f"  rgb{bits:<2} -> {pix_fmt:12} {label:9} {'full' if full else 'limited':7} "
                          f"{shift[0]:+7.3f} {shift[1]:+7.3f} {shift[2]:+7.3f}   round trip "
                          f"{trip[0]:+7.3f} {trip[1]:+7.3f} {trip[2]:+7.3f}")  # fmt: skip


EDGES = (21, 36, 50, 67, 80)  # the columns where the colour changes, odd and even


def _edges(width: int, height: int, bits: int) -> np.ndarray:
    """Vertical edges between two colours of about equal luma, at EDGES."""
    columns = np.cumsum(np.isin(np.arange(width), EDGES)) % 2
    colours = np.array([[0.75, 0.35, 0.30], [0.25, 0.55, 0.75]])[columns]
    image = np.broadcast_to(colours, (height, width, 3)) * (255 if bits == 8 else 65535)
    return np.round(image).astype(np.uint8 if bits == 8 else np.uint16)


def _crossings(image: np.ndarray) -> np.ndarray:
    """Where each edge lies in R - B (averaged over the rows): the centroid of its steps, in pixels."""
    profile = (image[..., 0].astype(np.float64) - image[..., 2]).mean(axis=0)
    steps = np.diff(profile)  # steps[x] lies between pixels x and x + 1
    found = []
    for edge in EDGES:
        at = np.arange(edge - 5, edge + 4)
        found.append((steps[at] * (at + 0.5)).sum() / steps[at].sum())
    return np.array(found)


def siting_section(folder: Path) -> None:
    print("siting: how far chroma edges moved (pixels) and mean |R error| at them (8-bit levels), read three ways")
    width, height = 96, 64
    for bits, codec, pix_fmt in ((8, "libx264", "yuv420p"), (16, "libx265", "yuv420p10le")):
        image = _edges(width, height, bits)
        path = folder / f"edges_{codec}.mp4"
        with open_sink(path, _info(width, height, bits, 1, 1), EncodeOptions(codec=codec, pix_fmt=pix_fmt, crf=4)) as sink:
            for pts in range(2):
                sink.write(image, pts=pts)
        with open_source(path) as source:
            ours = next(iter(source)).image
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
        rgb = "rgb24" if bits == 8 else "rgb48le"
        ways = {
            "deblur's reader": ours,
            "FFmpeg default": frame.to_ndarray(format=rgb),
            "FFmpeg accurate (sited)": frame.to_ndarray(format=rgb, interpolation=0x2 | 0x40000),
        }
        columns = [c for edge in EDGES for c in range(edge - 2, edge + 2)]
        reference = _crossings(image)
        print(f"  {codec} {pix_fmt}")
        for name, read in ways.items():
            moved = (_crossings(read) - reference).mean()
            error = np.abs(read[:, columns, 0].astype(np.float64) - image[:, columns, 0]).mean()
            print(f"    {name:24} moved {moved:+.2f} px, |R error| {error * 255 / np.iinfo(image.dtype).max:5.1f}")


def _timed(function, repeat: int) -> str:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return f"best {min(times):6.1f} ms, median {statistics.median(times):6.1f} ms"


def speed_section(width: int, height: int, repeat: int) -> None:
    print(f"speed: ms per {width}x{height} frame, best and median of {repeat}")
    for pix_fmt in ("yuv420p", "nv12", "yuv420p10le", "yuv422p10le", "p010le"):
        frame = random_frame(pix_fmt, width, height, 1, False)
        dtype = np.uint8 if _bits(pix_fmt) <= 8 else np.uint16
        print(f"  read  {pix_fmt:12} {_timed(lambda: frame_arrays(frame, dtype, alpha=False), repeat)}")
    for bits, pix_fmt in ((8, "yuv420p"), (16, "yuv420p10le")):
        container = av.open(io.BytesIO(), "w", format="nut")
        encoder = VideoEncoder(container, "speed.nut", _info(width, height, bits, 1, 1),
                               EncodeOptions(codec="rawvideo", pix_fmt=pix_fmt, crf=None), [])  # fmt: skip
        image = random_rgb(width, height, bits)
        print(f"  write rgb{bits:<2} -> {pix_fmt:12} {_timed(lambda: encoder.encode(image, 0), repeat)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1920x1080", help="frame size of the speed section")
    parser.add_argument("--check-size", default="256x128", help="frame size of the reader and writer sections")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--sections", nargs="+", default=["reader", "writer", "siting", "speed"],
                        choices=["reader", "writer", "siting", "speed"])  # fmt: skip
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    check_width, check_height = map(int, args.check_size.split("x"))
    print(f"PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info}")
    with tempfile.TemporaryDirectory() as folder:
        if "reader" in args.sections:
            reader_section(check_width, check_height)
        if "writer" in args.sections:
            writer_section(check_width, check_height, Path(folder))
        if "siting" in args.sections:
            siting_section(Path(folder))
    if "speed" in args.sections:
        speed_section(width, height, args.repeat)


if __name__ == "__main__":
    main()
