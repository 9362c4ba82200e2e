"""What `deblur info` says of one input (`describe_input`): its format, colour, interlacing and timing, the other
streams `deblur run` carries over, and what `deblur run` without -o would write for it, with the warnings reading
and writing it would give; a dict by name, which the command prints as a table or as JSON. With --estimate
(`ModelTiming`), each entry's "estimate": how long `deblur run`'s model would take on it here, timed by estimate.py.
No torch at import: `deblur info` without --estimate does without it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from deblur_cli.auto_model import AUTO, choose_model
from deblur_cli.errors import DeblurError
from deblur_cli.model_specs import model_spec
from deblur_cli.outputs import nearest_folder, writable
from deblur_cli.run_options import sampling_note, window_options
from deblur_cli.span import Span
from deblur_cli.video_io import EncodeOptions, VideoInfo
from deblur_cli.video_io.extras import describe_extras
from deblur_cli.video_io.frame_timing import timing_of
from deblur_cli.video_io.info import HDR_TRANSFERS, UNSPECIFIED, reading_matrix, srgb_source, turn_in_words
from deblur_cli.video_io.sinks import plan_sink
from deblur_cli.video_io.sources import reading_warnings

if TYPE_CHECKING:  # they import torch, which `deblur info` without --estimate does without
    from deblur_cli.estimate import Estimate
    from deblur_cli.restorer import Restorer
    from deblur_cli.restorers import ModelOptions

TIMED_STEPS = 2  # the sampler steps a diffusion model is timed at, its time then scaled to the steps asked

# FFmpeg's names for its colour enums, as ffprobe prints them (a few with a plainer name beside), for the values
# cameras and phones write.
_PRIMARIES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
    10: "smpte428", 11: "smpte431 (DCI-P3)", 12: "smpte432 (Display P3)", 22: "ebu3213",
}  # fmt: skip
_TRANSFERS = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear", 9: "log100",
    10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1 (sRGB)", 14: "bt2020-10",
    15: "bt2020-12", 16: "PQ (smpte2084)", 17: "smpte428", 18: "HLG (arib-std-b67)",
}  # fmt: skip
_MATRICES = {
    0: "rgb", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco", 9: "bt2020nc",
    10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc", 13: "chroma-derived-c", 14: "ictcp",
}  # fmt: skip
_RANGES = {1: "limited range", 2: "full range"}
# the matrices info.assumed_matrix takes for video that names none, as `info` says it
_ASSUMED = {1: "bt709, as players take HD video", 5: "bt601, as players take SD video"}


class ModelTiming:
    """`--estimate`: the model `deblur run` would restore with, built once, timed once for each frame size and
    window (estimate.py). A diffusion model is timed at TIMED_STEPS sampler steps at most, of the samples asked
    (they run together, as in the run), and the time scaled to the steps asked: its network runs once a step."""

    def __init__(
        self, model: str, options: ModelOptions, steps: int, samples: int, *, named: bool, ignored: str | None
    ):
        self.model, self.options, self.steps, self.samples = model, options, steps, samples
        self.diffusion = model_spec(model).architecture == "wtsa"
        self.named = named  # the model was named, not chosen as auto
        self.ignored = ignored  # the note on sampling options the model ignores, said once it is built

    @classmethod
    def asked(cls, model: str, weights: Path | None, device: str, precision: str, steps: int | None,
              samples: int | None, cache_dir: Path | None, offline: bool) -> ModelTiming:  # fmt: skip
        """The model the options name (auto: as `deblur run` chooses it), checked, not yet built."""
        from deblur_cli.devices import resolve_device
        from deblur_cli.restorers import ModelOptions

        named = model != AUTO
        model = choose_model(model, device=resolve_device(device), weights=weights, cache_dir=cache_dir)
        steps, samples = steps or 20, samples or 1
        ignored = sampling_note(model, steps, 0.0, samples, 0)
        sampling = {"steps": steps, "samples": samples}
        if model_spec(model).architecture == "wtsa":
            sampling["steps"] = min(steps, TIMED_STEPS)
        options = ModelOptions(weights=weights, device=device, precision=precision, cache_dir=cache_dir,
                               offline=offline or None, **sampling)  # fmt: skip
        return cls(model, options, steps, samples, named=named, ignored=ignored)

    def add_estimates(
        self,
        described: list[tuple[dict, VideoInfo, Span]],
        *,
        build: Callable[[str, ModelOptions], Restorer],
        warn: Callable[[str], None],
        note: Callable[[str], None],
    ) -> None:
        """Each report given its "estimate" of how long the model takes on the frames of its span (in seconds, as
        the input's span was read: `video` describes those frames), its windows checked as
        `deblur run` checks them (UsageError for a window longer than the model takes), and what `deblur run` says
        of the model (restorers.load_checked) told to `warn` as it says it; the model built by `build`, and `note`
        told of each timing as it begins."""
        from deblur_cli.estimate import estimate, timed_window
        from deblur_cli.restorers import load_checked

        windows, notes = window_options(self.model, None, None, "auto", None)
        restorer, said = load_checked(
            self.model, self.options, windows, [self.ignored, *notes], named=self.named, build=build
        )
        for line in said:
            warn(line)
        scale = self.steps / self.options.steps if self.diffusion else 1.0
        precision = str(restorer.dtype or "").removeprefix("torch.") or None
        timed: dict[tuple, Estimate] = {}  # by frame size and the window timed for it, which the frames decide
        for report, video, span in described:
            size = (video.height, video.width)  # as stored: the frames the model restores
            window = timed_window(windows.window, windows.overlap, video.frame_count, restorer.max_frames)
            if (size, window) not in timed:
                note(f"timing {self.model} on {video.width}x{video.height} frames, a window of {window[0]} (twice)")
                timed[size, window] = estimate(
                    restorer, size, windows.window, windows.overlap, frames=video.frame_count, scale=scale
                )
            found, frames = timed[size, window], video.frame_count
            seconds = found.seconds(frames, windows.last) if frames else None
            report["estimate"] = {
                "model": self.model,
                "device": str(restorer.device),
                "precision": precision,
                "steps": self.steps if self.diffusion else None,
                "samples": self.samples if self.diffusion else None,
                "timed_steps": self.options.steps if self.diffusion else None,
                "seconds": None if seconds is None else round(seconds, 3),
                "seconds_per_frame": round(found.seconds_per_frame if seconds is None else seconds / frames, 6),
                "frames": frames,
                "span": None if span.whole else span.describe(),
                "timed": f"{found.probe[1]}x{found.probe[0]}" + (" strip" if found.strip else ""),
                "window": found.window,
                "new_frames": found.new_frames,
                "scale": found.scale,
            }


def describe_input(path: Path, info: VideoInfo, sink: Path | str | None, seen: list[str]) -> dict:
    """The facts about one input `path`, read as `info` (sources.first_look), by name, None where they do not
    apply, as `deblur info` prints them; `sink` is where `deblur run` without -o writes, as the sinks take it
    ("NAME/" for a folder of frames; None for a glob, which needs -o: it is described as written to PNG frames);
    `seen`, the warnings of the frames decoded to describe it."""
    planned = sink is not None  # a glob's frames are described as written to a folder of PNG frames
    sink = sink if planned else "deblurred/"
    target = Path(sink)
    shown_target = str(target) if planned else "none: a glob needs -o (a folder for PNG frames, or a video file)"
    width, height = info.display_size
    alpha = "kept" if info.alpha else None
    try:
        plan = plan_sink(sink, info, EncodeOptions(), source=path)
        warnings, writes = list(plan.warnings), plan.writes
        if info.alpha and not plan.alpha_kept:
            alpha = "left out"
    except DeblurError as e:  # the container refuses the encoder, say
        warnings, writes = [], f"nothing: {e}"
    warnings = reading_warnings(path, info) + seen + warnings
    if planned and (folder := nearest_folder(target)).is_dir() and not writable(folder):
        warnings.append(f"{folder} cannot be written: deblur run needs -o to put the result elsewhere")  # a card
    container = _container_name(path, info.container)
    extras = describe_extras(path) if info.container else {}
    return {
        "input": str(path),
        "format": ", ".join(filter(None, [container, info.codec, info.pix_fmt])),
        "bit_depth": info.bit_depth,
        "size": f"{info.width}x{info.height}",
        "shown_as": f"{width}x{height}, {turned}" if (turned := turn_in_words(info.rotation, info.mirrored)) else None,
        "pixel_aspect": str(info.sample_aspect_ratio) if info.sample_aspect_ratio not in (None, 1) else None,
        "frame_rate": float(info.fps or info.rate) if info.fps or (info.frame_count or 0) > 1 else None,
        "variable_frame_rate": _variable_rate(path, info),
        "frames": info.frame_count,
        "duration_s": round(info.duration, 3) if info.duration is not None else None,
        "file_duration_s": _longer(extras.get("seconds"), info.duration),
        "colour": _colour(info),
        "hdr10_metadata": info.hdr is not None or None,
        "dynamic_hdr": _dynamic_hdr(info),
        "interlaced": _interlacing(info),
        "timecode": info.timecode,
        "audio": info.has_audio if info.container else None,
        "audio_tracks": extras.get("audio"),
        "subtitles": info.has_subtitles if info.container else None,
        "subtitle_tracks": extras.get("subtitles"),
        "alpha": alpha,
        "chapters": extras.get("chapters"),
        "telemetry": ", ".join(extras["telemetry"]) if "telemetry" in extras else None,
        "other_data": ", ".join(extras["data"]) if "data" in extras else None,
        "attachments": ", ".join(extras["attachments"]) if "attachments" in extras else None,
        "other_video_streams": extras.get("other_video"),
        "default_output": shown_target,
        "written_with": writes,
        "warnings": warnings,
    }


def _dynamic_hdr(info: VideoInfo) -> str | None:
    """The dynamic HDR metadata of the input, which no output keeps: "Dolby Vision 8.4", "HDR10+"; None without."""
    found = []
    if (vision := info.dolby_vision) is not None:
        found.append(f"Dolby Vision {vision.name}")
    if info.hdr10_plus:
        found.append("HDR10+")
    return ", ".join(found) or None


def _longer(file_seconds: float | None, video_seconds: float | None) -> float | None:
    """The file's duration where its sound (or other streams) plays half a second or more past the video
    (a still with music: one frame, minutes of audio), which deblur run keeps whole; else None."""
    if file_seconds is None or video_seconds is None or file_seconds < video_seconds + 0.5:
        return None
    return round(file_seconds, 3)


def _variable_rate(path: Path, info: VideoInfo) -> str | None:
    """How the time between frames varies in a video file (frame_timing.Timing.varying), which deblur run keeps;
    None where it is steady, for images, and where it is steady but for frames missing (a warning says so)."""
    if not info.container or info.frame_names is not None or not path.is_file():
        return None
    if (timing := timing_of(path)) is None or timing.varying is None:
        return None
    return f"{timing.varying.describe()}; deblur run keeps each frame's time"


def _container_name(path: Path, demuxer: str | None) -> str:
    """The format the file was read as: the demuxer's name, spelled as the file's suffix spells it where
    that is one of the demuxer's names ("mp4" of "mov,mp4,m4a,3gp,3g2,mj2"), else its first (an .mp4 that
    is Matroska inside is "matroska"); an image file's suffix, which its demuxer (image2, dpx_pipe) names
    no better than its codec does."""
    suffix = path.suffix[1:].lower() if path.is_file() else ""
    if demuxer is None or demuxer == "image2" or demuxer.endswith("_pipe"):
        return suffix
    names = demuxer.split(",")
    return suffix if suffix in names else names[0]


def _colour(info: VideoInfo) -> str:
    """The colour tags by name: primaries, transfer, matrix, range; those that are not set left out. Where
    YUV video names no matrix, the one deblur reads it with (BT.709 for HD, BT.601 for SD, as players take
    it: info.reading_matrix); where RGB frames or images name nothing, that they are read as sRGB."""
    color = info.color
    tables = {"primaries": _PRIMARIES, "transfer": _TRANSFERS, "matrix": _MATRICES, "range": _RANGES}
    names = [
        table.get(value, f"{key} {value}")  # a value newer than this table: its number, not nothing
        for key, table in tables.items()
        if not _unset(key, value := color.get(key))
    ]
    assumed = reading_matrix(info) if _unset("matrix", color.get("matrix")) else None
    if assumed is not None:
        reading = f"read as {_ASSUMED[assumed]}"
        names.append(f"matrix not tagged ({reading})" if names else f"not tagged ({reading})")
    unsaid = "not tagged (read as sRGB)" if srgb_source(info) else "not tagged"
    tags = ", ".join(filter(None, names)) or unsaid
    if color.get("transfer") in HDR_TRANSFERS:
        tags += " (HDR: restored on an sRGB-like curve)"
    return tags


def _unset(key: str, value: int | None) -> bool:
    """Whether a colour tag says nothing: missing, or a value FFmpeg calls unspecified or reserved."""
    return value is None or value in UNSPECIFIED[key]


def _interlacing(info: VideoInfo) -> str | None:
    if info.container is None:
        return None
    if info.field_order is None:
        return "no (progressive)"
    order = f"{info.field_order} field first" if info.field_order in ("top", "bottom") else "field order per frame"
    return f"yes, {order}: deinterlaced by default (--deinterlace)"
