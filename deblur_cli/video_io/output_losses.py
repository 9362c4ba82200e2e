"""What a video output loses of its source: the warnings a VideoEncoder gives, decided from the source's
VideoInfo, the options, the chosen Encoding and the container's format, without opening a stream (whether
the output records full range is found by writing one small frame in memory, full_range.py)."""

from __future__ import annotations

import math

import av

from deblur_cli.errors import OutputError
from deblur_cli.video_io.encoding import (
    ALIASES,
    DEEP_CODEC_FOR_SUFFIX,
    PALETTE_FORMATS,
    X265_SMALLEST,
    EncodeOptions,
    Encoding,
    resolve_encoder,
    takes_size,
    unused_options,
)
from deblur_cli.video_io.full_range import records_full_range
from deblur_cli.video_io.grey import is_grey_format
from deblur_cli.video_io.hdr import HDR_PARAMS, dynamic_losses
from deblur_cli.video_io.info import VideoInfo, alpha_left_out, bit_depth_of, has_alpha_channel, turn_in_words
from deblur_cli.video_io.track_tags import language_lost, names_lost

# Containers that store a display matrix (MP4/MOV track matrix, Matroska projection).
ROTATING_FORMATS = {"mp4", "mov", "matroska", "webm", "ipod", "3gp", "3g2"}
# Where an anamorphic video's pixel aspect ratio survives: MP4/MOV store it for any codec (a pasp box);
# elsewhere only codecs that keep it in their own headers do. PyAV cannot set the ratio Matroska and
# WebM take from the stream (AVStream's, not the codec's), so there FFV1, ProRes, VP9 and AV1 lose it.
_ASPECT_FORMATS = {"mp4", "mov", "ipod", "3gp", "3g2"}
_ASPECT_CODECS = {"libx264", "libx264rgb", "libx265", "mpeg2video", "mpeg4", "mjpeg", "png"}
# Containers that store a timecode: a timecode track (MP4, MOV), a TIMECODE tag (Matroska, WebM) or a material
# package timecode (MXF).
TIMECODE_FORMATS = {"mp4", "mov", "matroska", "webm", "mxf"}
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG

# What the bit-depth warning offers, where this FFmpeg's can, and the outputs that hold each (the first
# named where the output's does not); those the output holds are offered first.
_DEEP_ENCODERS = {
    "libx264": (".mkv", ".mp4", ".mov"),
    "libx265": (".mkv", ".mp4", ".mov"),
    "ffv1": (".mkv", ".avi"),
    "libsvtav1": (".mkv", ".webm", ".mp4"),
}

# Encoders whose usual output is 4:2:0, which players expect of them; an odd frame side makes them write 4:4:4
# (said where the source is not 4:4:4 YUV itself)
_SUBSAMPLING = {"libx264", "libx265", "libvpx-vp9"}

_BT709_OR_NONE = (None, 1, 2)  # a colour tag of BT.709 (1), or none (2: unspecified)
# Containers with no colour description of their own: an output keeps the input's primaries, transfer and
# matrix only where its codec's stream stores them. Measured with FFmpeg 8.1.2 (PyAV 18.1), BT.2020 PQ frames
# written to .avi, .nut and .ivf and read back: FFV1, raw video, MPEG-4, HuffYUV, FFVHuff, MagicYUV and UT Video
# came back unspecified (UT Video keeps BT.601 or BT.709 alone), VP9 with its matrix only.
_UNDESCRIBED_FORMATS = {"avi", "nut", "ivf", "yuv4mpegpipe"}
# The encoders whose streams hold them (H.264 and HEVC in their VUI, MPEG-2 in its sequence display extension,
# AV1 in its sequence header, PNG in its cICP chunk), and which of them.
_DESCRIPTION = ("primaries", "transfer", "matrix")
_DESCRIBING_ENCODERS = {
    "libx264": _DESCRIPTION,
    "libx264rgb": _DESCRIPTION,
    "libx265": _DESCRIPTION,
    "mpeg2video": _DESCRIPTION,
    "libsvtav1": _DESCRIPTION,
    "png": ("primaries", "transfer"),
    "libvpx-vp9": ("matrix",),
}


def encoding_losses(
    info: VideoInfo, options: EncodeOptions, encoding: Encoding, format_name: str, suffix: str
) -> list[str]:
    """What frames like `info` lose written by `encoding` into a container of `format_name` (FFmpeg's
    muxer name; `suffix`: the output's, as the messages name it): options it does not use, alpha, chroma
    samples and bits per channel, and players that will not play it."""
    losses = unused_options(options, encoding, f"by {encoding.encoder}")
    if info.alpha and not encoding.alpha:
        losses.append(alpha_left_out(encoding.encoder))
    losses.extend(
        loss
        for loss in (
            _odd_size_loss(info, options, encoding),
            _full_range_note(info, options, encoding, format_name, suffix),
            _ffv1_note(encoding, format_name, suffix),
            _chroma_loss(info, options, encoding),
            _deep_h264_note(info, options, encoding, suffix),
            _depth_loss(info, options, encoding, suffix),
        )
        if loss
    )
    return losses


def stream_losses(info: VideoInfo, encoding: Encoding, format_name: str, suffix: str) -> list[str]:
    """What the video stream of such an output cannot record of `info`: HDR10 mastering metadata, Dolby Vision's
    and HDR10+'s, the pixel aspect ratio, colour tags (in .avi, .y4m and the like: by codec), the display rotation,
    the language, the title and the timecode."""
    losses = []
    if info.hdr is not None and encoding.encoder not in HDR_PARAMS:
        losses.append(
            f"the input's HDR10 mastering metadata is not written by {encoding.encoder}; players may tone-map "
            "the output differently (libx265, the default for 10-bit input in .mp4/.mov/.mkv, and libsvtav1 "
            "keep it)"
        )
    losses.extend(dynamic_losses(info.dolby_vision, info.hdr10_plus))
    ratio = info.sample_aspect_ratio
    if ratio and ratio != 1 and format_name not in _ASPECT_FORMATS and encoding.encoder not in _ASPECT_CODECS:
        losses.append(
            f"{encoding.encoder} video in {suffix} does not record the input's pixel aspect ratio "
            f"({ratio.numerator}:{ratio.denominator}); players will show it unstretched (.mp4 and .mov "
            "record it for any codec, and libx264 and libx265 in any container)"
        )
    if lost := _description_loss(info, encoding, format_name, suffix):
        losses.append(lost)
    if (info.rotation or info.mirrored) and format_name not in ROTATING_FORMATS:
        turned = turn_in_words(info.rotation, info.mirrored)
        losses.append(
            f"the {suffix} container cannot record the display rotation ({turned}); "
            "players will show the frames as stored (choose .mp4 or .mkv to keep it)"
        )
    if lost := language_lost(format_name, info.tags.get("language"), "the video", suffix):
        losses.append(lost)
    if lost := names_lost(format_name, [info.tags.get("title")], suffix, "the video's"):
        losses.append(lost)
    if info.timecode and format_name not in TIMECODE_FORMATS:
        losses.append(
            f"the {suffix} container cannot record the input's timecode ({info.timecode}); "
            "choose .mov, .mp4 or .mkv to keep it"
        )
    return losses


def _description_loss(info: VideoInfo, encoding: Encoding, format_name: str, suffix: str) -> str | None:
    """The warning for an output that keeps neither in its container nor in its codec's stream the input's colour
    primaries, transfer or matrix (those other than BT.709 or none; the matrix only where the output is YUV)."""
    if format_name not in _UNDESCRIBED_FORMATS:
        return None
    kept = _DESCRIBING_ENCODERS.get(encoding.encoder, ())
    rgb = av.VideoFormat(encoding.pix_fmt).is_rgb  # RGB samples need no matrix
    lost = [
        name
        for name in _DESCRIPTION
        if info.color.get(name) not in _BT709_OR_NONE and name not in kept and not (rgb and name == "matrix")
    ]
    if not lost:
        return None
    written = (suffix or ".y4m") if format_name == "yuv4mpegpipe" else f"{encoding.encoder} in {suffix}"
    return (
        f"{written} cannot record the input's colour {', '.join(lost)}: players guess them, and may show other "
        "colours; .mkv keeps them"
    )


def _odd_size_loss(info: VideoInfo, options: EncodeOptions, encoding: Encoding) -> str | None:
    odd = info.width % 2 or info.height % 2
    if odd and options.pix_fmt is None and encoding.encoder in _SUBSAMPLING:  # 4:4:4 out of anything else
        if _subsampled_or_rgb(info.pix_fmt) and not _subsampled_or_rgb(encoding.pix_fmt):
            return (
                f"{info.width}x{info.height} has an odd side, which 4:2:0 cannot hold: written as "
                f"{encoding.encoder} 4:4:4 ({encoding.pix_fmt}), which many phones, browsers and hardware "
                "players do not play (frames with even sides get 4:2:0)"
            )
    return None


def _full_range_note(
    info: VideoInfo, options: EncodeOptions, encoding: Encoding, format_name: str, suffix: str
) -> str | None:
    full_yuv = info.color.get("range") == _FULL_RANGE and info.pix_fmt is not None and not stores_rgb(info.pix_fmt)
    if not full_yuv or av.VideoFormat(encoding.pix_fmt).is_rgb or encoding.pix_fmt.startswith("yuvj"):
        return None
    if not records_full_range(format_name, encoding, info.color):
        return _limited_range_note(info, encoding, suffix)
    if options.pix_fmt is not None and not options.pix_fmt.startswith("yuvj"):
        return (
            f"the input is full range (0-255 levels) and stays so: --pix-fmt {options.pix_fmt} picks the layout, "
            "not the range (the output is tagged full range, as players need to show it right)"
        )
    return None


def _limited_range_note(info: VideoInfo, encoding: Encoding, suffix: str) -> str | None:
    """The note for full-range input written limited range, where the output cannot record full range (the
    writer converts it): levels are lost where the output is no deeper than the input."""
    depth = bit_depth_of(av.VideoFormat(encoding.pix_fmt))
    if depth > info.bit_depth:  # each input level keeps a level of its own (8-bit into 10-bit ProRes)
        return None
    shift = depth - 8
    return (
        f"the input is full range (0-{(1 << info.bit_depth) - 1} levels), which {encoding.encoder} in {suffix} cannot"
        f" record: it is written limited range ({16 << shift}-{235 << shift}), as players take such video, in"
        f" {(219 << shift) + 1} of {1 << depth} levels"
    )


def _ffv1_note(encoding: Encoding, format_name: str, suffix: str) -> str | None:
    if encoding.encoder == "ffv1" and format_name in ("mp4", "mov", "ipod"):
        return (
            f"FFV1 in {suffix} opens only in FFmpeg-based programs (mpv, VLC, ffplay), not in QuickTime "
            "or most editors; .mkv is its usual container"
        )
    return None


def _yuv_input(info: VideoInfo) -> bool:
    return info.pix_fmt is not None and not stores_rgb(info.pix_fmt) and not is_grey_format(info.pix_fmt)


def _chroma_loss(info: VideoInfo, options: EncodeOptions, encoding: Encoding) -> str | None:
    fewer = _yuv_input(info) and math.prod(_chroma_steps(encoding.pix_fmt)) > math.prod(_chroma_steps(info.pix_fmt))
    if not fewer or options.pix_fmt is not None:  # fewer chroma samples than the input has, not asked for
        return None
    sampling = _sampling_name(info.pix_fmt)
    kept = encoding.pix_fmt.replace("420", sampling.replace(":", "")[:3])
    keeps = (
        f"; --pix-fmt {kept} keeps it ({encoding.encoder} {sampling}, which many phones, browsers and "
        "hardware players do not play)"
        if sampling in ("4:4:4", "4:2:2") and encoding.encoder in _SUBSAMPLING and kept != encoding.pix_fmt
        else ""
    )
    why = "as players expect"
    if encoding.encoder == "dnxhd":  # an editing codec: its HQ and HQX profiles are 4:2:2
        why, keeps = "as DNxHR HQ and HQX store it", "; --pix-fmt yuv444p10le keeps it (DNxHR 444)"
    return (
        f"the input's colour is {sampling} ({info.pix_fmt}); it is written as {encoding.pix_fmt} "
        f"({_sampling_name(encoding.pix_fmt)}), with less colour resolution, {why}{keeps}"
    )


def _deep_h264_note(info: VideoInfo, options: EncodeOptions, encoding: Encoding, suffix: str) -> str | None:
    depth = bit_depth_of(av.VideoFormat(encoding.pix_fmt))
    asked_h264 = ALIASES.get(options.codec, options.codec) == "libx264"  # not x264-lossless: an archive's
    # without --codec, deep frames get HEVC Main 10, but in .avi H.264 (and frames too small for x265)
    x265_would = min(info.width, info.height) >= X265_SMALLEST
    chosen_h264 = options.codec is None and encoding.encoder == "libx264" and x265_would
    if depth > 8 and (asked_h264 or chosen_h264):
        deep_default = suffix.lower() in DEEP_CODEC_FOR_SUFFIX  # where leaving out --codec gives HEVC
        instead = "leave out --codec for HEVC Main 10" if deep_default else ".mp4 and .mkv get HEVC Main 10"
        return (
            f"H.264 at {depth} bits (High 10 and up) plays in few players: not on Apple devices, nor on most hardware"
            f" decoders ({instead}, or add --pix-fmt yuv420p for 8-bit H.264)"
        )
    return None


def _depth_loss(info: VideoInfo, options: EncodeOptions, encoding: Encoding, suffix: str) -> str | None:
    depth = bit_depth_of(av.VideoFormat(encoding.pix_fmt))
    if depth >= info.bit_depth:
        return None
    alpha = info.alpha and encoding.alpha
    suffix = suffix.lower()
    # the chroma layout a deeper format should have: the one asked for, else the input's where it is YUV
    like = options.pix_fmt or (info.pix_fmt if _yuv_input(info) else encoding.pix_fmt)
    if _holds(encoding.encoder, info.bit_depth, alpha, info.width, info.height):
        return (
            f"{encoding.pix_fmt} stores {depth} bits per channel; the {info.bit_depth}-bit input is rounded"
            f" (--pix-fmt {_deeper_format(encoding.encoder, info.bit_depth, info, alpha, like)} keeps them)"
        )
    deeper = [
        _keeping_depth(encoder, suffix if suffix in suffixes else suffixes[0], info, alpha, like)
        + ("" if suffix in suffixes else f" in {suffixes[0]}")
        for encoder, suffixes in sorted(_DEEP_ENCODERS.items(), key=lambda item: suffix not in item[1])
        if _holds(encoder, info.bit_depth, alpha, info.width, info.height)
    ]
    keeps = f"{' or '.join(deeper)} keeps them" if deeper else ""
    within = _deeper_format(encoding.encoder, depth + 1, info, alpha, like)
    if within is not None:  # --pix-fmt chose fewer bits than the encoder stores
        stored = bit_depth_of(av.VideoFormat(within))
        keeps = f"--pix-fmt {within} keeps {stored}" + (f"; {keeps} all {info.bit_depth}" if keeps else "")
        return (
            f"{encoding.pix_fmt} stores {depth} bits per channel; the {info.bit_depth}-bit input is rounded "
            f"({keeps})"
        )
    return (
        f"{encoding.encoder} here cannot store more than {depth} bits per channel; the "
        f"{info.bit_depth}-bit input is written as {encoding.pix_fmt}" + (f" ({keeps})" if keeps else "")
    )


def _deep_formats(encoder: str, bit_depth: int, alpha: bool, width: int, height: int) -> list[str]:
    """The pixel formats of `bit_depth` bits or more (with an alpha channel) that this FFmpeg's `encoder`
    writes frames of this size in (encoding.takes_size: an odd side needs 4:4:4), shallowest first."""
    try:
        formats = av.codec.Codec(encoder, "w").video_formats or []
    except ValueError:  # av.codec.codec.UnknownCodecError: not in this build
        return []
    return [
        f.name
        for f in sorted(formats, key=bit_depth_of)
        if bit_depth_of(f) >= bit_depth
        and (has_alpha_channel(f.name) or not alpha)
        and takes_size(encoder, f.name, width, height)
        and f.name not in PALETTE_FORMATS
        and not is_grey_format(f.name)  # no colour (gif's gray), whatever its depth
    ]


def _holds(encoder: str, bit_depth: int, alpha: bool, width: int, height: int) -> bool:
    """Whether this FFmpeg's `encoder` has a pixel format that keeps `bit_depth` bits (see _deep_formats)."""
    return bool(_deep_formats(encoder, bit_depth, alpha, width, height))


def _keeping_depth(encoder: str, suffix: str, info: VideoInfo, alpha: bool, like: str) -> str:
    """The options that have `encoder` keep `info`'s bits: `--codec NAME`, and where the pixel format it
    picks by itself has fewer (HEVC picks Main 10, which players play), `--pix-fmt` with the shallowest that
    does not, of the chroma layout of `like` where one has it."""
    asked = f"--codec {encoder}"
    try:
        picked = resolve_encoder(EncodeOptions(codec=encoder), suffix, info.bit_depth, info.width, info.height,
                                 alpha=alpha).pix_fmt  # fmt: skip
    except OutputError:
        picked = None
    if picked is not None and bit_depth_of(av.VideoFormat(picked)) >= info.bit_depth:
        return asked
    deeper = _deeper_format(encoder, info.bit_depth, info, alpha, like)
    return f"{asked} --pix-fmt {deeper}" if deeper else asked


def _deeper_format(encoder: str, bits: int, info: VideoInfo, alpha: bool, like: str) -> str | None:
    """The shallowest pixel format `encoder` keeps `bits` bits in, for frames of `info`'s size, of `like`'s
    chroma layout where one is."""
    formats = _deep_formats(encoder, bits, alpha, info.width, info.height)
    layout = (_chroma_steps(like), stores_rgb(like))
    same_layout = [f for f in formats if (_chroma_steps(f), stores_rgb(f)) == layout]
    return (same_layout or formats or [None])[0]


def _chroma_steps(pix_fmt: str) -> tuple[int, int]:
    """Pixels per chroma sample across and down: (1, 1) for 4:4:4 YUV and RGB, (2, 2) for 4:2:0."""
    fmt = av.VideoFormat(pix_fmt)
    return (1, 1) if fmt.is_rgb else (1024 // fmt.chroma_width(1024), 1024 // fmt.chroma_height(1024))


def subsampled(pix_fmt: str) -> bool:
    """Whether a pixel format stores YUV with fewer chroma samples than pixels."""
    return _chroma_steps(pix_fmt) != (1, 1)


def _sampling_name(pix_fmt: str) -> str:
    """A YUV format's chroma subsampling as people write it: "4:4:4", "4:2:2", "4:2:0", "4:1:1"."""
    names = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (4, 1): "4:1:1"}
    return names.get(_chroma_steps(pix_fmt), "subsampled")


def _subsampled_or_rgb(pix_fmt: str | None) -> bool:
    """Whether a pixel format is anything but 4:4:4 YUV (an unknown one, None, counts as such)."""
    return pix_fmt is None or stores_rgb(pix_fmt) or subsampled(pix_fmt)


def stores_rgb(pix_fmt: str | None) -> bool:
    """Whether a source's pixel format holds RGB: RGB planes or a palette of RGB colours."""
    return pix_fmt is not None and (pix_fmt == "pal8" or av.VideoFormat(pix_fmt).is_rgb)
