"""Choosing the video encoder: FFmpeg encoder name, pixel format and options for an output and an input."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import av

from deblur_cli.errors import EncoderOptionError, OutputError, did_you_mean
from deblur_cli.video_io.grey import grey_format
from deblur_cli.video_io.info import bit_depth_of, has_alpha_channel

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


@dataclass(frozen=True)
class EncodeOptions:
    """What the user asked of the video encoder; `resolve_encoder` turns it into concrete settings."""

    codec: str | None = None  # encoder name or alias ("x264", "ffv1", "x264-lossless"); None = from the suffix
    crf: int | None = 18  # constant-quality level, lower is better; None = the encoder's own default
    preset: str = "medium"  # x264 speed preset name, mapped onto the other encoders' speed settings
    pix_fmt: str | None = None  # output pixel format; None = chosen from the input's bit depth and size
    audio: bool = True  # carry the source's audio; False leaves it out on purpose
    asked: frozenset[str] = frozenset()  # of "crf" and "preset", those the user set: noted where unused


@dataclass(frozen=True)
class Encoder:
    """A named encoder variant: which FFmpeg encoder, its preferred pixel formats, how options map."""

    name: str  # FFmpeg encoder for 8-bit input
    formats: tuple[str, ...]  # pixel formats for 8-bit input, best first
    deep_formats: tuple[str, ...]  # pixel formats for input above 8 bits, best first
    options: Callable[[EncodeOptions], dict[str, str]] = lambda options: {}  # EncodeOptions -> encoder options
    deep_name: str | None = None  # a different FFmpeg encoder for input above 8 bits, if needed
    env: dict[str, str] = field(default_factory=dict)  # defaults for variables the encoder library reads


@dataclass(frozen=True)
class Encoding:
    """Concrete settings for one output's video stream."""

    encoder: str  # FFmpeg encoder name
    pix_fmt: str  # pixel format fed to the encoder
    options: dict[str, str] = field(default_factory=dict)  # FFmpeg encoder options
    env: dict[str, str] = field(default_factory=dict)  # environment defaults to set before opening it

    def set_environment(self) -> None:
        """Set the environment defaults the encoder library reads (`env`) before it opens; a value the user
        set wins."""
        for name, value in self.env.items():
            os.environ.setdefault(name, value)

    def cannot_hold(self, container: str, hint: str) -> OutputError:
        """The error for a container (its suffix or format name) that cannot hold this encoder's video: a
        bad option (exit code 2), -o's suffix or --codec, as an unknown suffix is."""
        return EncoderOptionError(f"the {container} container cannot hold {self.encoder} video", hint=hint)

    @property
    def alpha(self) -> bool:
        """Whether the pixel format stores an alpha channel."""
        return has_alpha_channel(self.pix_fmt)


_YUV8 = ("yuv420p", "yuv444p", "yuvj420p", "yuvj444p", "gbrp", "rgb24", "bgr0")
_YUV_DEEP = ("yuv420p10le", "yuv444p10le", "yuv420p12le", "yuv444p12le", "gbrp10le", "gbrp12le", "gbrp16le")


def _crf(o: EncodeOptions) -> dict[str, str]:
    return {} if o.crf is None else {"crf": str(o.crf)}


X26X_MAX_CRF = 51  # x264's and x265's scale ends here (VP9's and AV1's at 63); above it they quietly use 51


def _x264(o: EncodeOptions, name: str = "libx264") -> dict[str, str]:
    if o.crf is not None and o.crf > X26X_MAX_CRF:
        raise EncoderOptionError(
            f"--crf {o.crf} is beyond {name}'s scale, 0 to {X26X_MAX_CRF}",
            hint=f"--crf {X26X_MAX_CRF} is its smallest file",
        )
    return {"preset": o.preset, **_crf(o)}


def _x265(o: EncodeOptions) -> dict[str, str]:
    return {**_x264(o, "libx265"), "x265-params": "log-level=error"}  # x265 otherwise writes its banner to stderr


_VP9_CPU_USED = dict(zip(PRESETS, (8, 7, 6, 5, 4, 3, 2, 1, 0, 0)))
_SVT_PRESET = dict(zip(PRESETS, (12, 11, 10, 9, 8, 6, 5, 4, 3, 2)))


def _vp9(o: EncodeOptions) -> dict[str, str]:
    # constant quality needs the bitrate target off; row-mt lets libvpx use every core
    return {"cpu-used": str(_VP9_CPU_USED[o.preset]), "deadline": "good", "row-mt": "1", "b": "0", **_crf(o)}


def _mpeg2(o: EncodeOptions) -> dict[str, str]:
    # MPEG-2 has no constant-quality factor: --crf picks a fixed quantiser scale (1 best, 31 worst), about
    # a sixth of it (18 gives 3, which keeps fine texture; FFmpeg's default, a 200 kb/s target, smears it)
    if o.crf is None:
        return {}
    scale = str(min(31, max(1, round(o.crf / 6))))
    return {"qmin": scale, "qmax": scale}


def _svtav1(o: EncodeOptions) -> dict[str, str]:
    return {"preset": str(_SVT_PRESET[o.preset]), **_crf(o)}


ENCODERS: dict[str, Encoder] = {
    "libx264": Encoder("libx264", _YUV8, _YUV_DEEP, _x264),
    "libx265": Encoder("libx265", _YUV8, _YUV_DEEP, _x265),
    "libvpx-vp9": Encoder("libvpx-vp9", _YUV8, _YUV_DEEP, _vp9),
    # SVT-AV1 logs to stderr by itself; SVT_LOG=1 keeps it to errors
    "libsvtav1": Encoder("libsvtav1", ("yuv420p",), ("yuv420p10le",), _svtav1, env={"SVT_LOG": "1"}),
    # lossless choices for evaluation: FFV1 stores our RGB arrays bit-exactly; x264 at qp 0 in RGB does too
    # for 8-bit input and keeps 10-bit input in 4:4:4 YUV (exact up to the RGB/YUV rounding)
    "ffv1": Encoder("ffv1", ("bgr0",), ("rgb48le", "gbrp16le"), lambda o: {"level": "3"}),
    "x264-lossless": Encoder(
        "libx264rgb", ("rgb24", "bgr24"), ("yuv444p10le",), lambda o: {"preset": o.preset, "qp": "0"}, "libx264"
    ),
    # Motion JPEG stores full-range YUV ("yuvj"); the writer tags the range to match
    "mjpeg": Encoder("mjpeg", ("yuvj420p", "yuvj444p"), ("yuvj420p", "yuvj444p")),
    "prores_ks": Encoder("prores_ks", ("yuv422p10le", "yuv444p10le"), ("yuv422p10le", "yuv444p10le")),
    # MPEG-2 for .mpg and .vob (DVD): 8 bits, 4:2:0 as DVD players take it
    "mpeg2video": Encoder("mpeg2video", ("yuv420p", "yuv422p"), ("yuv420p", "yuv422p"), _mpeg2),
    # uncompressed YUV, as .y4m holds it for metrics tools (VMAF, SSIMULACRA): 4:2:0 like the clips they compare
    # with; --pix-fmt yuv444p keeps the restored chroma whole
    "rawvideo": Encoder("rawvideo", ("yuv420p", "yuv444p"), ("yuv420p10le", "yuv444p10le")),
}
# Pixel formats with an alpha channel, for 8-bit and for deeper frames, best first, of the encoders that
# store transparency; the others (H.264, HEVC as players read it, AV1, DNxHR, JPEG) leave it out.
ALPHA_FORMATS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "prores_ks": (("yuva444p10le",), ("yuva444p10le",)),  # ProRes 4444 with its alpha channel
    "libvpx-vp9": (("yuva420p",), ("yuva420p",)),  # libvpx stores transparency at 8 bits only
    "ffv1": (("bgra",), ("rgba64le", "gbrap16le")),
    "qtrle": (("argb",), ("argb",)),
    "utvideo": (("gbrap",), ("gbrap",)),
    "png": (("rgba",), ("rgba64be",)),
}
# Where the input has transparency and no codec is asked for, a container that holds an encoder which
# keeps it gets that encoder: ProRes 4444 in .mov and .mkv, as editors exchange such footage.
ALPHA_CODEC_FOR_SUFFIX = {".mov": "prores_ks", ".mkv": "prores_ks", ".webm": "libvpx-vp9"}
ALIASES = {
    "h264": "libx264",
    "x264": "libx264",
    "hevc": "libx265",
    "h265": "libx265",
    "x265": "libx265",
    "vp9": "libvpx-vp9",
    "av1": "libsvtav1",
    "svtav1": "libsvtav1",
    "prores": "prores_ks",
    "dnxhr": "dnxhd",
}
CODEC_FOR_SUFFIX = {
    ".mp4": "libx264",
    ".m4v": "libx264",
    ".mov": "libx264",
    ".mkv": "libx264",
    ".avi": "libx264",
    ".webm": "libvpx-vp9",
    ".y4m": "rawvideo",
    ".mpg": "mpeg2video",
    ".mpeg": "mpeg2video",
    ".vob": "mpeg2video",
    ".m2v": "mpeg2video",  # elementary streams: the codec is the format
    ".hevc": "libx265",
    ".h265": "libx265",
    ".ivf": "libvpx-vp9",  # VP8, VP9 and AV1 only (a bare .obu or .mjpeg stream reads back at 25 fps: not offered)
}
# The x265 library aborted the process on frames with a side under 64 pixels (48x40 and 40x40). Such tiny
# deep video goes to H.264's High 10 instead. (The garbage decode timestamps of two-frame encodes, first
# seen at 64x32, come at any size: writer.with_sane_dts repairs them.)
X265_SMALLEST = 64
# Input above 8 bits (HDR and log footage from phones and cameras) stays deep in HEVC Main 10: H.264's
# High 10 profile holds it too, but Apple's players and most hardware decoders cannot play it.
DEEP_CODEC_FOR_SUFFIX = {".mp4": "libx265", ".m4v": "libx265", ".mov": "libx265", ".mkv": "libx265"}
# WebM's codecs for input above 8 bits, best first: VP9 where this FFmpeg's libvpx is built for high bit
# depth, which many builds (PyAV's wheels among them) are not, else AV1, whose SVT-AV1 stores 10 bits, so
# that HDR video tagged PQ or HLG is not cut to 8 bits, where its gradients band. 8-bit VP9 where neither can.
DEEP_WEBM_CODECS = ("libvpx-vp9", "libsvtav1")
SMALLEST_SIDE = {"libsvtav1": 4}  # SVT-AV1 refuses smaller frames
DNXHR_SMALLEST = (256, 120)  # FFmpeg's DNxHR encoder refuses frames narrower or lower
# Editing and archive codecs an output keeps where its container holds them: ProRes or DNxHR from an
# editor comes back as itself (of the same profile), and a lossless FFV1 master as FFV1, not as H.264.
KEPT_CODECS = {
    "prores": ("prores_ks", {".mov", ".mkv"}),
    "dnxhd": ("dnxhd", {".mov"}),
    "ffv1": ("ffv1", {".mkv", ".avi"}),
}
# ProRes profiles by the names FFmpeg's decoder reports, as prores_ks takes them.
_PRORES_PROFILES = {
    "proxy": "proxy", "lt": "lt", "standard": "standard", "hq": "hq", "4444": "4444", "xq": "4444xq", "4444xq": "4444xq"
}  # fmt: skip
# DNxHR profiles (as the decoder names them) and the pixel format each encodes; DNxHD, whose bit rates
# are tied to a few frame sizes and rates, comes back as DNxHR HQ (HQX above 8 bits).
_DNXHR_PROFILES = {
    "dnxhr lb": ("dnxhr_lb", "yuv422p"),
    "dnxhr sq": ("dnxhr_sq", "yuv422p"),
    "dnxhr hq": ("dnxhr_hq", "yuv422p"),
    "dnxhr hqx": ("dnxhr_hqx", "yuv422p10le"),
    "dnxhr 444": ("dnxhr_444", "yuv444p10le"),
}
_DNXHR_FOR_FORMAT = {
    "yuv422p": "dnxhr_hq", "yuv422p10le": "dnxhr_hqx", "yuv444p10le": "dnxhr_444", "gbrp10le": "dnxhr_444"
}  # fmt: skip


def resolve_encoder(
    options: EncodeOptions,
    suffix: str,
    bit_depth: int,
    width: int,
    height: int,
    *,
    source_codec: str | None = None,
    source_profile: str | None = None,
    alpha: bool = False,
    grey: bool = False,
) -> Encoding:
    """Concrete encoder settings for an output file with this suffix and frames of this depth and size.

    Without a codec in `options`, an input in an editing or archive codec (`source_codec`, KEPT_CODECS)
    keeps it where the suffix's container holds it, ProRes with its profile (`source_profile`).
    Otherwise the suffix picks: H.264 for 8-bit frames, HEVC for deeper ones; in WebM VP9, and for deeper
    frames the first of DEEP_WEBM_CODECS that keeps more than 8 bits in this FFmpeg.
    Frames with `alpha` get ProRes 4444 in .mov and .mkv (ALPHA_CODEC_FOR_SUFFIX), and a pixel format with
    an alpha channel where the encoder has one (ALPHA_FORMATS; the Encoding's `alpha` says whether it does).
    `grey` frames (a grey video's) get a grey pixel format where the encoder has one (grey.GREY_FORMATS:
    FFV1), else the encoder's usual, with neutral chroma.
    Raises OutputError for an unknown codec, preset or pixel format, or a pixel format that cannot hold
    the frame size (4:2:0 needs even sides; the size is never changed behind the user's back).
    """
    if options.preset not in PRESETS:
        raise EncoderOptionError(f"unknown preset '{options.preset}'", hint=f"choose one of: {', '.join(PRESETS)}")
    kept, containers = KEPT_CODECS.get(source_codec or "", (None, set()))
    if options.codec is None and suffix.lower() in containers:
        return _kept_encoding(kept, options, bit_depth, width, height, source_profile, alpha, grey)
    deep_defaults = {**DEEP_CODEC_FOR_SUFFIX, ".webm": _deep_webm_codec(options, bit_depth, width, height)}
    defaults = {**(deep_defaults if bit_depth > 8 else {}), **(ALPHA_CODEC_FOR_SUFFIX if alpha else {})}
    name = options.codec or defaults.get(suffix.lower()) or CODEC_FOR_SUFFIX.get(suffix.lower(), "libx264")
    name = ALIASES.get(name, name)
    if name == "libx265" and min(width, height) < X265_SMALLEST:
        bare = CODEC_FOR_SUFFIX.get(suffix.lower()) == "libx265"  # .hevc holds HEVC only: no H.264 in its place
        if options.codec is not None or bare:
            raise OutputError(
                f"libx265 cannot encode {width}x{height} frames (it fails on frames with a side under {X265_SMALLEST} "
                "pixels)",
                hint="write .h264 or .mkv instead" if bare else "use --codec libx264, which keeps 10 bits too",
            )
        name = "libx264"
    if name == "dnxhd":  # asked for: DNxHR, of the input's profile where the input is DNxHR
        profile = source_profile if source_codec == "dnxhd" else None
        return _kept_encoding(name, options, bit_depth, width, height, profile, alpha, grey)
    variant = ENCODERS.get(name) or _generic(name)
    deep = bit_depth > 8
    encoder = variant.deep_name if deep and variant.deep_name else variant.name
    preferred = (variant.deep_formats + variant.formats) if deep else variant.formats
    if grey and not alpha and (grey_pix_fmt := grey_format(encoder, bit_depth)):
        preferred = (grey_pix_fmt, *preferred)
    pix_fmt = _pixel_format(_with_alpha(preferred, encoder, deep, alpha), encoder, options, width, height)
    return Encoding(encoder=encoder, pix_fmt=pix_fmt, options=variant.options(options), env=variant.env)


def _deep_webm_codec(options: EncodeOptions, bit_depth: int, width: int, height: int) -> str:
    """The first of DEEP_WEBM_CODECS that this FFmpeg has with a pixel format above 8 bits (or the one
    asked for with --pix-fmt) that holds frames of this size; VP9 where none does."""
    for name in DEEP_WEBM_CODECS:
        try:
            supported = _supported_formats(name) or set()
        except ValueError:  # av.codec.codec.UnknownCodecError: not in this build
            continue
        wanted = (options.pix_fmt,) if options.pix_fmt else ENCODERS[name].deep_formats
        deeper = [f for f in wanted if f in supported and (options.pix_fmt or bit_depth_of(av.VideoFormat(f)) > 8)]
        if any(_fits(f, width, height) for f in deeper) and min(width, height) >= SMALLEST_SIDE.get(name, 1):
            return name
    return "libvpx-vp9"


def _kept_encoding(
    name: str,
    options: EncodeOptions,
    bit_depth: int,
    width: int,
    height: int,
    profile: str | None,
    alpha: bool,
    grey: bool,
) -> Encoding:
    """The Encoding of a kept codec: ProRes of the input's profile (HQ where it is not known), 4:4:4 for
    the 4444 profiles, with the alpha channel where there is one; DNxHR of the input's profile; FFV1 as
    `--codec ffv1` sets it."""
    if name == "prores_ks":
        chosen = _PRORES_PROFILES.get((profile or "").lower(), "hq")
        formats: tuple[str, ...] = ("yuv444p10le",) if chosen.startswith("4444") else ("yuv422p10le",)
        if chosen.startswith("4444"):
            formats = _with_alpha(formats, name, bit_depth > 8, alpha)
    elif name == "dnxhd":
        if width < DNXHR_SMALLEST[0] or height < DNXHR_SMALLEST[1]:
            raise EncoderOptionError(
                f"DNxHR takes frames of {DNXHR_SMALLEST[0]}x{DNXHR_SMALLEST[1]} or more, not {width}x{height}",
                hint="choose another --codec: prores_ks, the other editing codec, takes any size",
            )
        fallback = ("dnxhr_hqx", "yuv422p10le") if bit_depth > 8 else ("dnxhr_hq", "yuv422p")
        chosen, dnxhr_format = _DNXHR_PROFILES.get((profile or "").lower(), fallback)
        if options.pix_fmt and options.pix_fmt != dnxhr_format:  # the profile that encodes the format asked for
            chosen = _DNXHR_FOR_FORMAT.get(options.pix_fmt, chosen)
        formats = (dnxhr_format,)
    else:
        return resolve_encoder(replace(options, codec=name), "", bit_depth, width, height, alpha=alpha, grey=grey)
    pix_fmt = _pixel_format(formats, name, options, width, height)
    return Encoding(encoder=name, pix_fmt=pix_fmt, options={"profile": chosen})


def _with_alpha(preferred: tuple[str, ...], encoder: str, deep: bool, alpha: bool) -> tuple[str, ...]:
    """`preferred`, after the encoder's formats with an alpha channel when the frames have one."""
    if not alpha or encoder not in ALPHA_FORMATS:
        return preferred
    shallow, deeper = ALPHA_FORMATS[encoder]
    return (deeper if deep else shallow) + preferred


def _pixel_format(preferred: tuple[str, ...], encoder: str, options: EncodeOptions, width: int, height: int) -> str:
    """The pixel format asked for (--pix-fmt), checked, or the first of `preferred` the encoder takes."""
    supported = _supported_formats(encoder)
    if options.pix_fmt:
        return _check_pix_fmt(options.pix_fmt, encoder, supported, width, height)
    return _pick_pix_fmt(preferred, encoder, supported, width, height)


_SPEED_OPTIONS = ("preset", "cpu-used")  # where each encoder takes --preset
_QUALITY_OPTIONS = ("crf", "qmax")  # where each encoder takes --crf (MPEG-2 as its quantiser scale)


def _options_used(encoder_options: dict[str, str]) -> set[str]:
    """Which of --crf and --preset an encoder's options (Encoder.options' result) take."""
    takes = {"crf": _QUALITY_OPTIONS, "preset": _SPEED_OPTIONS}
    return {option for option, names in takes.items() if any(name in encoder_options for name in names)}


def options_in_effect(options: EncodeOptions) -> EncodeOptions:
    """`options` with --crf and --preset set to None and "" where the named encoder (`options.codec`) takes
    neither (FFV1, ProRes), as unused_options finds them: what decides the output, for telling whether an
    interrupted run's work may be reused; unchanged without a codec (the suffix then picks one that takes
    both)."""
    variant = ENCODERS.get(ALIASES.get(options.codec or "", options.codec) or "")
    if variant is None:
        return options
    used = _options_used(variant.options(options))
    return replace(
        options, crf=options.crf if "crf" in used else None, preset=options.preset if "preset" in used else ""
    )


def unused_options(options: EncodeOptions, encoding: Encoding | None, written_as: str) -> list[str]:
    """Warnings for the quality and speed options the user set (`options.asked`) that the output does
    not use: those a video encoder does not take (`encoding`: FFV1, ProRes) or all of them for images
    (`encoding` None), --pix-fmt too, since images take the format of their frames. `written_as` ends
    the message ("by ffv1", "for PNG frames")."""
    used = _options_used(encoding.options) if encoding is not None else set()
    unused = [f"--{name}" for name in ("crf", "preset") if name in options.asked and name not in used]
    if encoding is None and options.pix_fmt:
        unused.append("--pix-fmt")
    if not unused:
        return []
    verb = "is" if len(unused) == 1 else "are"
    names = unused[0] if len(unused) == 1 else f"{', '.join(unused[:-1])} and {unused[-1]}"
    return [f"{names} {verb} not used {written_as}"]


def _generic(name: str) -> Encoder:
    try:
        codec = av.codec.Codec(name, "w")
    except (av.FFmpegError, ValueError):
        codec = None
    if codec is None or codec.type != "video":
        known = sorted(set(ENCODERS) | set(ALIASES))
        hint = f"{did_you_mean(name, known)}use one of {', '.join(known)}, or any FFmpeg video encoder"
        raise EncoderOptionError(f"unknown video codec '{name}'", hint=hint)
    return Encoder(name, _YUV8, _YUV_DEEP)


def _supported_formats(encoder: str) -> set[str] | None:
    formats = av.codec.Codec(encoder, "w").video_formats
    return {f.name for f in formats} if formats else None


def takes_size(encoder: str, pix_fmt: str, width: int, height: int) -> bool:
    """Whether `encoder` writes `pix_fmt` frames of this size as they are: chroma planes that cover them
    (_fits), and no side under the smallest the encoder takes (SMALLEST_SIDE, and x265's X265_SMALLEST)."""
    smallest = X265_SMALLEST if encoder == "libx265" else SMALLEST_SIDE.get(encoder, 1)
    return _fits(pix_fmt, width, height) and min(width, height) >= smallest


def _fits(pix_fmt: str, width: int, height: int) -> bool:
    """Whether the format's chroma planes can cover a frame of this size without changing it: each side
    a multiple of its chroma subsampling (2 for 4:2:0's both sides; a 1-pixel side fits none)."""
    fmt = av.VideoFormat(pix_fmt)
    across, down = 1024 // fmt.chroma_width(1024), 1024 // fmt.chroma_height(1024)
    return width % across == 0 and height % down == 0


def _pick_pix_fmt(preferred, encoder: str, supported: set[str] | None, width: int, height: int) -> str:
    for pix_fmt in preferred:
        if (supported is None or pix_fmt in supported) and _fits(pix_fmt, width, height):
            return pix_fmt
    if supported is not None and not supported & set(preferred):  # no size would do
        hint = f"pass --pix-fmt, one of: {', '.join(sorted(supported - PALETTE_FORMATS))}"
        if encoder == "gif":
            hint = "for a GIF, write .mp4 and convert it with a GIF tool (--pix-fmt rgb8 writes 256 colours)"
        raise OutputError(f"{encoder} takes none of the pixel formats deblur picks by itself", hint=hint)
    raise OutputError(
        f"{encoder} cannot encode a {width}x{height} video without changing its size",
        hint="odd sizes need a codec with 4:4:4 or RGB formats: libx264, libx265, vp9 or ffv1",
    )


PALETTE_FORMATS = {"pal8"}  # a frame's colours as indices into a palette that FFmpeg's conversion does not choose


def _check_pix_fmt(pix_fmt: str, encoder: str, supported: set[str] | None, width: int, height: int) -> str:
    try:
        av.VideoFormat(pix_fmt)
    except ValueError:
        close = did_you_mean(pix_fmt, supported or ("yuv420p", "yuv422p", "yuv444p", "yuv420p10le"))
        raise EncoderOptionError(
            f"unknown pixel format '{pix_fmt}'", hint=close.strip() or "e.g. yuv420p, yuv444p, yuv420p10le"
        ) from None
    if supported is not None and pix_fmt not in supported:
        raise EncoderOptionError(
            f"{encoder} cannot encode pixel format {pix_fmt}", hint=f"it accepts: {', '.join(sorted(supported))}"
        )
    if av.VideoFormat(pix_fmt).name in PALETTE_FORMATS:
        raise EncoderOptionError(
            f"deblur cannot write {pix_fmt} frames: a palette of 256 colours would have to be chosen for them",
            hint="choose another --codec; for a GIF, write .mp4 and convert it with a GIF tool",
        )
    if not _fits(pix_fmt, width, height):
        raise EncoderOptionError(
            f"pixel format {pix_fmt} halves the colour resolution and cannot hold the odd size {width}x{height}",
            hint="use a 4:4:4 format such as yuv444p, or leave --pix-fmt out",
        )
    return pix_fmt
