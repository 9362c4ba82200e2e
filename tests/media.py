"""Synthetic test media made with PyAV: videos in any container, audio, subtitles, image files, broken files.

Tests generate everything they need in a temporary directory; the repository holds no binary fixtures.
Sizes and lengths stay tiny (e.g. 64x48, a few frames) so that every file is made in milliseconds.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deblur_cli.video_io import EncodeOptions, VideoInfo, open_sink, open_source
from deblur_cli.video_io.writer import with_sane_dts

VIDEO_CODEC_FOR_SUFFIX = {
    ".mp4": "libx264",
    ".mov": "libx264",
    ".mkv": "libx264",
    ".avi": "libx264",
    ".webm": "libvpx-vp9",
}
SUBTITLE_CODEC_FOR_SUFFIX = {".mp4": "mov_text", ".mov": "mov_text", ".mkv": "subrip", ".webm": "webvtt"}
IMAGE_CODECS = {
    ".png": "png", ".tif": "tiff", ".tiff": "tiff", ".jpg": "mjpeg", ".jpeg": "mjpeg", ".webp": "libwebp", ".tga": "targa",
    ".dpx": "dpx",
}  # fmt: skip


def pattern(index: int, width: int, height: int, *, bit_depth: int = 8) -> np.ndarray:
    """A deterministic RGB test frame: (H, W, 3) uint8 for bit_depth 8, else uint16 on the full 16-bit scale.

    Smooth gradients (which lossy codecs keep close) plus a bright square that moves with `index`, so every frame
    differs from its neighbours and a reordered or repeated frame is detectable.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = x / max(width - 1, 1)
    green = y / max(height - 1, 1)
    blue = 0.5 + 0.25 * np.sin((x + y) / 6.0 + index * 0.7)
    image = np.stack([red, green, blue], axis=-1) * 0.8 + 0.1
    side = max(min(width, height) // 4, 2)
    left = (index * 3) % max(width - side, 1)
    top = (index * 2) % max(height - side, 1)
    image[top : top + side, left : left + side] = 0.95
    peak = 255 if bit_depth == 8 else 65535
    return np.ascontiguousarray(np.round(image * peak).astype(np.uint8 if bit_depth == 8 else np.uint16))


def alpha_plane(index: int, width: int, height: int, *, bit_depth: int = 8) -> np.ndarray:
    """A deterministic (H, W) alpha plane for frame `index`: a ramp across the width from fully transparent
    to opaque, shifted with `index` so that every frame's plane differs from its neighbours'."""
    peak = 255 if bit_depth == 8 else 65535
    ramp = (np.arange(width) / max(width - 1, 1) + index * 0.137) % 1.0
    plane = np.repeat(ramp[None, :], height, axis=0)
    plane[: max(height // 4, 1), : max(width // 4, 1)] = 0.0  # a transparent corner
    return np.ascontiguousarray(np.round(plane * peak).astype(np.uint8 if bit_depth == 8 else np.uint16))


def rgba_pattern(index: int, width: int, height: int, *, bit_depth: int = 8) -> np.ndarray:
    """`pattern` with `alpha_plane` as a fourth channel: (H, W, 4)."""
    rgb = pattern(index, width, height, bit_depth=bit_depth)
    return np.ascontiguousarray(np.dstack([rgb, alpha_plane(index, width, height, bit_depth=bit_depth)]))


def make_alpha_video(
    path: str | Path, *, codec: str, pix_fmt: str, frames: int = 6, size: tuple[int, int] = (48, 32), fps: int = 25
) -> Path:
    """Write a small video with transparency: `rgba_pattern` frames (8-bit) in an encoder's alpha format,
    e.g. ("qtrle", "argb") in .mov, ("libvpx-vp9", "yuva420p") in .webm, ("ffv1", "bgra") in .mkv."""
    path = Path(path)
    width, height = size
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(rgba_pattern(index, width, height), format="rgba")
            container.mux(video.encode(frame.reformat(format=pix_fmt)))
        container.mux(video.encode())
    return path


def read_rgba(path: str | Path, *, format: str = "rgba") -> list[np.ndarray]:
    """Every frame of the first video stream as an (H, W, 4) array; WebM transparency is decoded by libvpx
    (FFmpeg's own VP9 decoder drops it)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.metadata.get("alpha_mode") == "1":
            decoder = av.CodecContext.create("libvpx-vp9", "r")
            decoder.extradata = stream.codec_context.extradata
            frames = [f for packet in container.demux(stream) for f in decoder.decode(packet)]
        else:
            frames = list(container.decode(stream))
        return [f.to_ndarray(format=format) for f in frames]


def _default_pix_fmt(width: int, height: int, bit_depth: int) -> str:
    base = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    return base if bit_depth == 8 else base + "10le"


def make_video(
    path: str | Path,
    *,
    frames: int = 10,
    size: tuple[int, int] = (64, 48),
    fps: int | Fraction = 25,
    codec: str | None = None,
    pix_fmt: str | None = None,
    bit_depth: int = 8,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int = 0,
    mirrored: bool = False,
    audio: str | None = None,
    audio_seconds: float | None = None,
    subtitles: str | bool | None = None,
    color: dict[str, int] | None = None,
    gop: int | None = None,
    data: str | None = None,
    data_handler: str | None = None,
    chapters: list[tuple[float, float, str]] | None = None,
) -> Path:
    """Write a small video of `pattern` frames and return its path.

    size: (width, height). pts: explicit per-frame timestamps in `time_base` units (VFR); by default frame i has
    timestamp i / fps. rotation: counter-clockwise display rotation in degrees, stored as a display matrix;
    `mirrored` adds a left-right mirror after the turn (as a flipped camera's display matrix does).
    audio: an audio encoder name ("aac", "libopus", "pcm_s16le", "libmp3lame", "flac") for a 440 Hz stereo tone
    lasting `audio_seconds` (default: the video's length). subtitles: True for the container's usual text codec,
    or a codec name; two cues are written. color: {"primaries", "transfer", "matrix", "range"} FFmpeg enum values
    tagged on the stream; the YUV conversion uses that matrix and range. gop: frames between keyframes (the
    encoder's default otherwise), so that seeking has keyframes to land on. data: a data stream's codec,
    "bin_data" (in MP4/MOV: GoPro's GPMF telemetry track) or "klv" (MPEG-TS), with a packet every 0.1 s
    holding b"telemetry N"; `data_handler` names its track's handler (MP4 names a binary track "GoPro MET"
    unless told otherwise). chapters: (start s, end s, title) of each chapter.
    """
    path = Path(path)
    width, height = size
    codec = codec or VIDEO_CODEC_FOR_SUFFIX[path.suffix]
    pix_fmt = pix_fmt or _default_pix_fmt(width, height, bit_depth)
    rate = Fraction(fps)
    time_base = time_base or 1 / rate
    if pts is None:
        pts = [int(i / rate / time_base) for i in range(frames)]
    with av.open(str(path), "w") as container:
        quiet = {"x265-params": "log-level=error"} if codec == "libx265" else {}  # x265 prints a banner otherwise
        # x265 leaves some short encodes' decode times unset (garbage), which the muxer refuses now and then
        earliest = (pts[0] * time_base - Fraction(len(pts)) / rate) if pts else None  # no reordering reaches further

        def sane(packets: list) -> list:
            return with_sane_dts(packets, earliest) if codec == "libx265" else packets

        video = container.add_stream(codec, rate=rate, options=quiet)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.time_base = time_base
        video.codec_context.time_base = time_base
        if gop:
            video.codec_context.gop_size = gop
        if rotation or mirrored:
            video.set_display_rotation(rotation, hflip=mirrored)
        if color:
            _tag_color(video, color)
        telemetry = container.add_data_stream(data) if data else None
        if telemetry is not None and data_handler:
            telemetry.metadata["handler_name"] = data_handler
        if chapters:
            container.set_chapters(
                [
                    {"id": i + 1, "start": round(a * 1000), "end": round(b * 1000), "time_base": Fraction(1, 1000),
                     "metadata": {"title": title}}
                    for i, (a, b, title) in enumerate(chapters)
                ]
            )  # fmt: skip
        sound = _add_audio(container, audio) if audio else None
        subtitle_codec = subtitles if isinstance(subtitles, str) else SUBTITLE_CODEC_FOR_SUFFIX.get(path.suffix)
        subtitle = _add_subtitles(container, subtitle_codec) if subtitles else None
        duration = float(pts[-1] * time_base + 1 / rate) if pts else 0.0
        for index, stamp in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(
                pattern(index, width, height, bit_depth=bit_depth), format="rgb24" if bit_depth == 8 else "rgb48le"
            )
            frame = frame.reformat(
                format=pix_fmt,
                dst_colorspace=(color or {}).get("matrix"),
                dst_color_range=(color or {}).get("range"),
            )
            frame.pts, frame.time_base = stamp, time_base
            container.mux(sane(video.encode(frame)))
            if telemetry is not None:
                _write_telemetry(container, telemetry, float(stamp * time_base), float(1 / rate))
        container.mux(sane(video.encode()))
        container.start_encoding()  # writes the header even when there were no frames
        if sound is not None:
            _write_tone(container, sound, audio_seconds if audio_seconds is not None else duration)
        if subtitle is not None:
            _write_cues(container, subtitle, subtitle_codec, duration)
    return path


def _write_telemetry(container, stream, start: float, length: float) -> None:
    """The data packets (one every 0.1 s, numbered from 0) that fall in [start, start + length)."""
    first, stop = math.ceil(start * 10 - 1e-9), math.ceil((start + length) * 10 - 1e-9)
    for number in range(first, stop):
        packet = av.Packet(f"telemetry {number}".encode())
        packet.stream = stream
        packet.pts = packet.dts = number * 100
        packet.duration = 100
        packet.time_base = Fraction(1, 1000)
        container.mux(packet)


def _tag_color(video, color: dict[str, int]) -> None:
    context = video.codec_context
    context.color_primaries = color.get("primaries", context.color_primaries)
    context.color_trc = color.get("transfer", context.color_trc)
    context.colorspace = color.get("matrix", context.colorspace)
    context.color_range = color.get("range", context.color_range)


def _add_audio(container, codec: str):
    rate = 48000
    stream = container.add_stream(codec, rate=rate, layout="stereo")
    stream.time_base = Fraction(1, rate)
    return stream


def _write_tone(container, stream, seconds: float) -> None:
    rate = stream.codec_context.sample_rate
    total = round(seconds * rate)
    chunk = 1024
    for start in range(0, total, chunk):
        count = min(chunk, total - start)
        t = (np.arange(start, start + count) / rate).astype(np.float32)
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def _add_subtitles(container, codec: str):
    stream = container.add_mux_stream(codec)
    stream.time_base = Fraction(1, 1000)
    return stream


def _write_cues(container, stream, codec: str, seconds: float) -> None:
    half = int(seconds * 500)
    for index, text in enumerate(["first cue", "second cue"]):
        payload = text.encode()
        if codec == "mov_text":
            payload = len(payload).to_bytes(2, "big") + payload  # tx3g samples carry a 16-bit length prefix
        packet = av.Packet(payload)
        packet.stream = stream
        packet.pts = packet.dts = index * half
        packet.duration = half
        packet.time_base = Fraction(1, 1000)
        container.mux(packet)


def make_dv(path: str | Path, *, ntsc: bool = False, frames: int = 4) -> Path:
    """Raw DV as a DV camcorder's tape is captured: NTSC (720x480, 30000/1001 fps, 4:1:1) or PAL (720x576,
    25 fps, 4:2:0), in the `dv` muxer, whose stream states a time base of 1/60000 and that as its rate."""
    path = Path(path)
    width, height, rate, pix_fmt = (720, 480, Fraction(30000, 1001), "yuv411p") if ntsc else (720, 576, 25, "yuv420p")
    with av.open(str(path), "w", format="dv") as container:
        video = container.add_stream("dvvideo", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(index, width, height), format="rgb24").reformat(format=pix_fmt)
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
    return path


def make_latin1_titled(
    path: str | Path, *, frames: int = 1, size: tuple[int, int] = (64, 48), codec: str = "libx264"
) -> Path:
    """A video whose title tag is Latin-1, not UTF-8, as an old camera writes "Cafe-Tour" with an e-acute: the tag
    is written as UTF-8 text, then its "e" made the one Latin-1 byte of an e-acute."""
    path = Path(path)
    width, height = size
    with av.open(str(path), "w") as container:
        container.metadata["title"] = "Cafe-Tour"
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pattern(index, width, height), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    assert data.count(b"Cafe-Tour") == 1
    path.write_bytes(data.replace(b"Cafe-Tour", b"Caf\xe9-Tour"))
    return path


def make_audio_only(path: str | Path, *, codec: str = "aac", seconds: float = 0.5, cover: bool = False) -> Path:
    """An audio file without a real video stream (e.g. song.m4a, song.mp3). cover=True adds cover art: a
    one-picture PNG stream flagged as an attached picture, as in tagged MP3s."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = _add_audio(container, codec)
        if cover:
            art = container.add_stream("png", rate=1)
            art.width, art.height, art.pix_fmt = 64, 48, "rgb24"
            art.disposition = av.stream.Disposition.attached_pic
            picture = av.VideoFrame.from_ndarray(pattern(0, 64, 48), format="rgb24")
            picture.pts = 0
            container.mux(art.encode(picture) + art.encode())
        _write_tone(container, stream, seconds)
    return path


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write one (H, W, 3) RGB or (H, W, 4) RGBA image; the format follows the suffix (.png, .tif/.tiff,
    .jpg/.jpeg, .webp (lossless), .tga, .dpx; RGBA in PNG, TIFF, WebP, TGA and DPX only).

    uint8 arrays give 8-bit files; uint16 arrays give 16-bit PNG/TIFF (JPEG has no 16-bit form).
    """
    path = Path(path)
    codec = IMAGE_CODECS[path.suffix.lower()]
    deep = image.dtype == np.uint16
    if deep and codec == "mjpeg":
        raise ValueError("JPEG cannot hold 16-bit images")
    if image.shape[2] == 4:
        frame = av.VideoFrame.from_ndarray(image, format="rgba64le" if deep else "rgba")
        target = {
            "png": "rgba64be" if deep else "rgba", "tiff": "rgba64le" if deep else "rgba", "libwebp": "bgra",
            "targa": "bgra", "dpx": "rgba64be" if deep else "rgba",
        }  # fmt: skip
    else:
        frame = av.VideoFrame.from_ndarray(image, format="rgb48le" if deep else "rgb24")
        target = {
            "png": "rgb48be" if deep else "rgb24", "tiff": "rgb48le" if deep else "rgb24", "mjpeg": "yuvj444p",
            "libwebp": "bgra", "targa": "bgr24", "dpx": "rgb48be" if deep else "rgb24",
        }  # fmt: skip
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = frame.width, frame.height, target[codec]
    context.time_base = Fraction(1, 25)
    if codec == "libwebp":
        context.options = {"lossless": "1"}
    frame = frame.reformat(format=target[codec], dst_color_range=2 if codec == "mjpeg" else None)
    data = b"".join(bytes(p) for p in context.encode(frame) + context.encode(None))
    path.write_bytes(data)
    return path


def make_images(
    directory: str | Path,
    *,
    count: int = 5,
    size: tuple[int, int] = (64, 48),
    suffix: str = ".png",
    bit_depth: int = 8,
    name: str = "img_{:03d}",
    start: int = 1,
) -> list[Path]:
    """Write `count` pattern images named name.format(start + i) + suffix into `directory` (created)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    width, height = size
    return [
        write_image(directory / (name.format(start + i) + suffix), pattern(i, width, height, bit_depth=bit_depth))
        for i in range(count)
    ]


def make_edited(path: str | Path, shots: list[tuple[int, int]], *, size: tuple[int, int] = (96, 64)) -> Path:
    """An FFV1 video of several shots cut together, each (seed, frames) a blurred camera-shake clip of
    `deblur synth`'s procedural scenes, at 25 fps."""
    import torch

    from deblur_cli.data.synth import synthesize_clip

    frames = torch.cat([synthesize_clip(seed, frames=count, size=size)[0] for seed, count in shots])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "bgr0"
        for frame in frames:
            image = (frame.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return Path(path)


def make_held(path: str | Path, order: list[int], *, size: tuple[int, int] = (96, 64)) -> Path:
    """An FFV1 video at 25 fps of a blurred camera-shake clip's frames in `order` (their indices in the clip), a
    frame repeated where it is held: decoded, the copies are equal."""
    import torch

    from deblur_cli.data.synth import synthesize_clip

    clip = synthesize_clip(0, frames=max(order) + 1, size=size)[0]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "bgr0"
        for index in order:
            image = (clip[index].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return Path(path)


def truncate(path: str | Path, keep: float, target: str | Path | None = None) -> Path:
    """Copy the first `keep` fraction of a file's bytes to `target` (default: next to it, prefixed "cut-")."""
    path = Path(path)
    data = path.read_bytes()
    target = Path(target) if target else path.with_name("cut-" + path.name)
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def faststart(path: str | Path, target: str | Path) -> Path:
    """The video of an MP4 remuxed with its index (moov) at the front, as web uploads have it: a file cut
    short still opens."""
    with av.open(str(path)) as source, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return Path(target)


def with_dolby_vision(path: str | Path, target: str | Path, profile: int = 8, compatibility: int = 4) -> Path:
    """An MP4 or MOV copy of `path` whose video sample entry holds a Dolby Vision configuration (dvcC up to profile 7,
    dvvC from 8), as a phone that records Dolby Vision writes it: profile 8 with `compatibility` 4 is an iPhone's
    HLG base layer. The atoms around it grow by its size; the index must follow the media (no offsets move)."""
    data = bytearray(Path(path).read_bytes())

    def atoms(start: int, end: int):
        while start + 8 <= end:
            size = int.from_bytes(data[start : start + 4], "big")
            yield bytes(data[start + 4 : start + 8]), start, start + size
            start += size

    top = [kind for kind, _, _ in atoms(0, len(data))]
    assert top.index(b"moov") > top.index(b"mdat"), "the index must follow the media"
    record = bytes([1, 0, profile << 1, (1 << 5) | (1 << 4) | 1, compatibility << 4]) + bytes(19)  # rpu, bl present
    box = (8 + len(record)).to_bytes(4, "big") + (b"dvcC" if profile <= 7 else b"dvvC") + record
    parents, place = [], (0, len(data))
    for name in (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"):
        kind, start, end = next(atom for atom in atoms(*place) if atom[0] == name)
        parents.append(start)
        place = (start + 8 + (8 if name == b"stsd" else 0), end)  # stsd: version, flags and count first
    entry = place[0]
    parents.append(entry)
    insert_at = entry + int.from_bytes(data[entry : entry + 4], "big")
    data[insert_at:insert_at] = box
    for start in parents:
        data[start : start + 4] = (int.from_bytes(data[start : start + 4], "big") + len(box)).to_bytes(4, "big")
    Path(target).write_bytes(bytes(data))
    return Path(target)


def make_hdr10_plus(path: str | Path, frames: int = 3) -> Path:
    """A raw HEVC stream (Annex B, 64x64, 10-bit) whose every picture carries HDR10+ dynamic metadata: an ST 2094-40
    message in an ITU-T T.35 SEI (Samsung's provider code), which FFmpeg's decoder gives as DYNAMIC_HDR_PLUS."""
    bits: list[int] = []
    for value, width in [
        (0xB5, 8), (0x003C, 16), (0x0001, 16), (4, 8), (1, 8),  # T.35 country, provider, its code; application 4, v1
        (1, 2), (400, 27), (0, 1),  # one window; the targeted display's peak; no measured peaks
        (1000, 17), (1000, 17), (1000, 17), (100, 17), (1, 4), (50, 7), (100, 17), (0, 10),  # maxscl, percentiles
        (0, 1), (0, 1), (0, 1),  # no mastering peaks, tone mapping or colour saturation mapping
    ]:  # fmt: skip
        bits += [(value >> (width - 1 - i)) & 1 for i in range(width)]
    bits += [0] * (-len(bits) % 8)
    payload = bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))
    message, escaped, zeros = bytes([4, len(payload)]) + payload + b"\x80", bytearray(), 0
    for byte in message:  # emulation prevention: no 00 00 0x (x <= 3) inside a NAL unit
        if zeros >= 2 and byte <= 3:
            escaped.append(3)
            zeros = 0
        escaped.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    sei = bytes([39 << 1, 1]) + bytes(escaped)  # a prefix SEI NAL unit
    with av.open(str(path), "w", format="hevc") as out:
        stream = out.add_stream("libx265", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p10le"
        stream.options = {"x265-params": "log-level=error:bframes=0"}
        for index in range(frames):
            image = np.full((64, 64, 3), 40 * index, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p10le")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    data = Path(path).read_bytes()
    pieces = data.split(b"\x00\x00\x01")  # x265 starts each NAL unit with 00 00 00 01 or 00 00 01
    kept = bytearray(pieces[0])
    for piece in pieces[1:]:
        if (piece[0] >> 1) & 0x3F < 32 and piece[2] >> 7:  # a picture's first slice: its SEI goes before it
            kept += b"\x00\x00\x01" + sei + b"\x00"  # the zero: the next start code's fourth byte
        kept += b"\x00\x00\x01" + piece
    Path(path).write_bytes(bytes(kept))
    return Path(path)


def without_first_packets(path: str | Path, target: str | Path, count: int) -> Path:
    """The video of `path` remuxed without its first `count` packets: a clip cut from a longer recording
    without re-encoding, which starts mid-GOP with packets it cannot decode."""
    with av.open(str(path)) as source, av.open(str(target), "w") as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        for index, packet in enumerate(source.demux(video=0)):
            if packet.dts is not None and index >= count:
                packet.stream = stream
                out.mux(packet)
    return Path(target)


def damage(path: str | Path, start: float, length: int, target: str | Path | None = None) -> Path:
    """Copy a file with `length` bytes from fraction `start` on overwritten by a fixed noise pattern."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    offset = int(len(data) * start)
    noise = np.random.default_rng(0).integers(0, 256, length, dtype=np.uint8).tobytes()
    data[offset : offset + length] = noise[: len(data) - offset]
    target = Path(target) if target else path.with_name("bad-" + path.name)
    target.write_bytes(bytes(data))
    return target


def remux(path: str | Path, target: str | Path, options: dict[str, str] | None = None) -> Path:
    """Copy a file's video packets into `target`, not re-encoded, with the muxer's `options` (an MP4's movflags
    frag_keyframe+empty_moov: a fragmented file)."""
    with av.open(str(path)) as reading, av.open(str(target), "w", options=options or {}) as writing:
        copy = writing.add_stream_from_template(reading.streams.video[0])
        for packet in reading.demux(video=0):
            if packet.size:
                packet.stream = copy
                writing.mux(packet)
    return Path(target)


def cut_without_reencoding(path: str | Path, target: str | Path, frames: int) -> Path:
    """Copy an MP4/MOV's packets into `target`, all of them, with the video's clock moved back by `frames`
    frames, as editors cut a file without re-encoding: the muxer writes an edit list that hides those first
    frames, while the file's index still counts every sample."""
    with av.open(str(path)) as source, av.open(str(target), "w") as output:
        video = source.streams.video[0]
        streams = {s.index: output.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
        shift = round(frames / video.average_rate / video.time_base)
        for packet in source.demux(*[source.streams[i] for i in streams]):
            if not packet.size:
                continue
            if packet.stream.index == video.index:
                packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
    return Path(target)


def drop_keyframes(path: str | Path, target: str | Path) -> Path:
    """Remux the video stream without its keyframes: a file whose stream has packets but no decodable frame."""
    target = Path(target)
    with av.open(str(path)) as source, av.open(str(target), "w") as output:
        stream = output.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(video=0):
            if packet.dts is not None and not packet.is_keyframe:
                packet.stream = stream
                output.mux(packet)
    return target


def make_undecodable(path: str | Path, *, frames: int = 3) -> Path:
    """A Matroska file whose video codec (AVS2) this FFmpeg build has no decoder for."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_mux_stream("avs2", width=64, height=48)
        stream.time_base = Fraction(1, 25)
        for index in range(frames):
            packet = av.Packet(b"\x00\x00\x01\xb0" + bytes(60))
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, index, index, Fraction(1, 25)
            container.mux(packet)
    return path


def read_frames(path: str | Path, *, format: str = "rgb24") -> list[np.ndarray]:
    """Every frame of the first video stream as an (H, W, 3) array, decoded with PyAV directly (independent of
    deblur_cli.video_io, so round-trip checks do not use the code under test on both sides)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format=format) for frame in container.decode(video=0)]


def decode(path: str | Path) -> list[np.ndarray]:
    """Every frame of `path` as deblur_cli.video_io reads it (open_source): the images a run restores."""
    with open_source(path) as frames:
        return [frame.image for frame in frames]


def write_video(path: str | Path, images) -> Path:
    """A lossless video (FFV1, RGB) of (H, W, 3) uint8 images, a list or an (N, H, W, 3) array."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = images[0].shape[1], images[0].shape[0], "bgr0"
        for image in images:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="bgr0")))
        container.mux(stream.encode())
    return path


def read_video_pts(path: str | Path) -> tuple[list[int], Fraction]:
    """(pts of each decoded frame in presentation order, stream time base), decoded with PyAV directly."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.pts for frame in container.decode(stream)], stream.time_base


def convert(source, target, **options) -> tuple[VideoInfo, list[np.ndarray], list[str]]:
    """Decode `source` and encode it to `target` unchanged; (input info, input frames, sink warnings)."""
    with open_source(source) as frames:
        images = []
        with open_sink(target, frames.info, EncodeOptions(**options), source=source) as sink:
            for frame in frames:
                images.append(frame.image)
                sink.write(frame)
    return frames.info, images, sink.warnings
