"""The one orchestrator: decode → windows → tiles → restorer → stitch → encode.

Decoding and encoding run in their own threads, joined to the model by bounded queues, so a GPU never
waits for I/O and memory holds a few windows of frames at most, whatever the video's length.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from deblur_cli import __version__
from deblur_cli.errors import InputError
from deblur_cli.frame_facts import FrameFacts, image_facts
from deblur_cli.levels import as_float, to_compact_tensor, to_image, to_levels
from deblur_cli.mix import Mix
from deblur_cli.outputs import check_free, check_output_path
from deblur_cli.restorer import Restorer, batches, completed
from deblur_cli.prefetch import prefetched, put_unless_stopped
from deblur_cli.side_by_side import Placement, compose, composed_info, placement
from deblur_cli.stream import check_windows, restore_stream
from deblur_cli.transfer import model_curve
from deblur_cli.video_io import (
    EncodeOptions,
    Frame,
    FrameSink,
    ReadOptions,
    VideoInfo,
    check_not_cut,
    input_identity,
    open_sink,
    open_source,
    shows_turned,
    with_grid,
)
from deblur_cli.video_io.encoding import options_in_effect
from deblur_cli.video_io.work_folder import MARKERS, listed
from deblur_cli.windows import WindowOptions, restartable_at

# (frames done, total or None): once before the first frame is restored (done: the frames an interrupted run
# kept, 0 for a fresh run), then after each frame
FramesProgress = Callable[[int, int | None], None]


@dataclass
class RunResult:
    """What one run did; `warnings` holds what the user must hear (e.g. an audio stream re-encoded)."""

    input: str
    output: str
    frames: int
    seconds: float
    width: int  # of the frames written (side by side: both halves and the line between), turned where images are
    height: int
    warnings: list[str] = field(default_factory=list)
    resumed: int = 0  # frames an interrupted earlier run had restored, taken from the work it kept
    deinterlaced: bool = False  # the input's fields were joined into progressive frames first
    # the scene cuts the windows were split at (stream.restore_stream) among the frames this run
    # restored: the index of the output frame after each cut, the first frame being 0
    scene_cuts: list[int] = field(default_factory=list)
    # the tile side this run's windows were last restored in, as `--tile auto` or an out-of-memory
    # retry left it; None: whole frames
    tile: int | None = None
    # the size players show a video whose frames are stored turned (a portrait phone clip's rotation tag)
    shown: tuple[int, int] | None = None

    @property
    def fps(self) -> float:
        """Frames restored by this run per second."""
        return (self.frames - self.resumed) / self.seconds if self.seconds > 0 else 0.0

    def summary(
        self,
        model: str,
        restorer: Restorer,
        windows: WindowOptions,
        mix: Mix = Mix(),
    ) -> dict:
        """This run as `run --json` prints it: `model` is the model's name, `restorer`, `windows` and `mix` what
        the run was given."""
        return {
            "input": self.input,
            "output": self.output,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 3),
            "resumed_frames": self.resumed,
            "deinterlaced": self.deinterlaced,
            "shown": None if self.shown is None else {"width": self.shown[0], "height": self.shown[1]},
            "scene_cuts": self.scene_cuts if windows.scene_cuts else None,  # None: not looked for
            "model": model,
            "device": str(restorer.device),
            "warnings": self.warnings,
            # --tile auto, and out-of-memory retries, decide the tiles as the run goes
            "settings": output_settings(restorer, windows, mix) | {"tile_used": self.tile},
        }


_DONE = object()
SEGMENT_FRAMES = 120  # fewest frames between the points where an interrupted run can be continued (about 4 s)
# ... unless restoring them takes longer than this: a diffusion model on a CPU can spend hours on 120 frames,
# all of it lost to a Ctrl-C before the first cut. The encoding of such slow runs then depends on the
# machine's pace (where the keyframes fall), the restored frames do not.
SEGMENT_SECONDS = 60.0
# ... though never fewer frames than this (about a second): each segment starts with a keyframe, and a cut at
# every window (4 frames apart for WTSA) made an x264 file 5 times the size in a test of panning texture.
SEGMENT_MIN_FRAMES = 30
# ... unless restoring those takes longer still (30 frames of 4K on a CPU: about 8 minutes; of a diffusion model,
# hours): after this long a segment ends at the next restart point, however few its frames, so that a stop
# loses at most this much work and a window. Only runs slower than 10 s a frame cut more often for it.
SEGMENT_MOST_SECONDS = 300.0


@dataclass(frozen=True)
class _Cut:
    """Ends the output's segment before the next frame (segments.py): the frames up to here are kept, and a
    run continuing from here reads from frame `restart`, whose timestamp is `restart_pts`."""

    restart: int
    restart_pts: int | None


class _Cuts:
    """Where a segmented output's segments end: before the first frame SEGMENT_FRAMES or more after the
    last end (or SEGMENT_MIN_FRAMES or more once SEGMENT_SECONDS of restoring have passed, or any number once
    SEGMENT_MOST_SECONDS have) at which the stitching can restart (windows.restartable_at), so that a run
    continuing there writes the frames an uninterrupted run would."""

    def __init__(self, windows: WindowOptions, per_call: int, first: int):
        self._windows, self._per_call = windows, per_call
        self._last = first  # the frame the current segment starts with
        self._since = time.monotonic()  # when it started
        self._recent: collections.deque[int | None] = collections.deque(maxlen=windows.overlap + 1)

    def before(self, index: int, pts: int | None, read: int, held: bool = False) -> _Cut | None:
        """The cut to make before frame `index` (timestamp `pts`; `read` frames read so far), if any. Not
        before a held frame (stream.restore_stream), which a run continuing there could not write as the frame
        before it came out, unless twice SEGMENT_FRAMES went by without a cut (a long still shot; footage on
        twos whose copies fall where the windows can restart) or SEGMENT_MOST_SECONDS of restoring did: a
        continued run then writes the hold after the cut as a copy of a frame it restored again, which differs
        a little. Called for every frame in order, the frames read again on resuming included."""
        self._recent.append(pts)  # the timestamps of frames index - overlap to index
        window, overlap = self._windows.window, self._windows.overlap
        frames = index - self._last
        spent = time.monotonic() - self._since
        overdue = spent >= SEGMENT_MOST_SECONDS
        if held and frames < 2 * SEGMENT_FRAMES and not overdue:
            return None
        due = overdue or frames >= SEGMENT_FRAMES or (frames >= SEGMENT_MIN_FRAMES and spent >= SEGMENT_SECONDS)
        if frames <= 0 or not due or not restartable_at(index, read, window, overlap, self._per_call):
            return None
        self._last, self._since = index, time.monotonic()
        return _Cut(index - overlap, self._recent[0])


def _encode_worker(
    sink: FrameSink, bit_depth: int, out_q: queue.Queue, stop: threading.Event, errors: list[BaseException]
) -> None:
    """Move the frames (in the file's levels, `to_levels`) to the host as arrays and encode them off the main
    thread, until _DONE comes or `stop` is set (a failed or interrupted run: the frames still queued are dropped
    with the output)."""
    try:
        while True:
            try:
                item = out_q.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            if item is _DONE:
                return
            if isinstance(item, _Cut):
                sink.cut(item.restart, item.restart_pts)
                continue
            frame, pts, alpha, duration = item
            sink.write(to_image(frame, bit_depth), pts, alpha, duration)
    except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
        errors.append(e)
        stop.set()


def output_settings(restorer: Restorer, windows: WindowOptions, mix: Mix = Mix()) -> dict:
    """What decides the restored frames besides the input, as `run --json` and `evaluate --json` record
    it (`settings`) and `resume_key` builds on: deblur's version, the restorer's `identity` (None for a
    restorer without one), the windows and tiles as asked for, and what the frames keep of the restoration
    (--strength, --keep-still and --keep-detail, `Mix.settings`)."""
    return {
        "deblur": __version__,
        "restorer": restorer.identity,
        "windows": dataclasses.asdict(windows),
        **mix.settings(),
    }


def resume_key(
    source_path: str | os.PathLike,
    info: VideoInfo,
    restorer: Restorer,
    windows: WindowOptions,
    encode: EncodeOptions,
    read: ReadOptions,
    side_by_side: bool,
    mix: Mix = Mix(),
) -> dict | None:
    """Everything a run's output depends on, for telling whether the work an interrupted run kept can
    be reused: the input's identity, what cuts it into windows and tiles, the encoder's settings, the timing
    the output is encoded at (from `info`, the output's: its rate, time base and AVI grid, sinks.with_grid), and
    the restorer's `identity` (model, weights, precision, sampler). None for a restorer without one."""
    if restorer.identity is None:
        return None
    return output_settings(restorer, windows, mix) | {
        "input": input_identity(source_path),
        "span": [read.span.start, read.span.end],
        "image_rate": None if read.image_rate is None else str(read.image_rate),
        "deinterlace": read.deinterlace,
        # which options the user named changes only the notes, not the output
        # nor do the options the encoder does not take (--crf for FFV1)
        "encode": {
            name: value for name, value in dataclasses.asdict(options_in_effect(encode)).items() if name != "asked"
        },
        "side_by_side": side_by_side,
        # the clock the output is encoded on, which segments joined into one stream must share: work kept by a
        # release whose rate rules timed the input otherwise is discarded
        "timing": {
            name: None if value is None else str(value)
            for name, value in {"rate": info.rate, "time_base": info.time_base, "grid": info.grid}.items()
        },
        **MARKERS,  # how this release writes (a change to what a run writes is marked there)
    }


def deblur_video(
    source_path: str | os.PathLike,
    output_path: str | os.PathLike,
    restorer: Restorer,
    *,
    windows: WindowOptions = WindowOptions(),
    encode: EncodeOptions = EncodeOptions(),
    read: ReadOptions = ReadOptions(),
    force: bool = False,
    side_by_side: bool = False,
    mix: Mix = Mix(),
    resume: bool = True,
    progress: FramesProgress | None = None,
    on_note: Callable[[str], None] | None = None,
    again: str = "the same command",
) -> RunResult:
    """Restore every frame of `source_path`, read as `read` says (its span), with `restorer` and write
    `output_path`.

    The output keeps the input's frame count, size, frame rate, timestamps, rotation, colour metadata
    and audio/subtitle streams; a span keeps what falls inside it, with the clock starting at its first frame. It is written under a temporary name and renamed at the end; on any
    error or Ctrl-C nothing is left under the final name. The input is never modified.
    With `side_by_side`, each output frame shows the input on the left and the restored frame on the
    right, a thin line between them, each captioned where the caption fits (see side_by_side.py). `mix` says what
    the frames keep of the restoration (mix.py): with a strength below 1 each frame is input + strength × (restored −
    input), and at 0 the model is not run; `keep_still` keeps the input where it stands still (still_regions.py) and
    `keep_detail` its fine texture where the restoration smoothed it (kept_detail.py), before the strength mixes.
    `read.image_rate` is the frame rate of an image-sequence input (video_io.DEFAULT_FPS without one).
    `read.deinterlace` ("auto", "on", "off", "double") says whether and how a video's fields are joined
    into progressive frames before they are restored (video_io/deinterlace.py).

    A video file output from a restorer with an `identity` is encoded in segments of SEGMENT_FRAMES
    frames or more, kept beside the output until the end (video_io.segments). When a run stops early,
    the finished segments stay, and the next run with the same `resume_key` continues after them
    (`resume=False` starts over): it reads again from the window start before that point, so that the
    frames it writes are those an uninterrupted run would have written. `on_note` hears about it, told that
    `again` continues (in a batch whose earlier outputs are finished: the same command with --skip-existing).
    A stop that came once the output was in place (it is complete) has an `output_finished` attribute, True.
    """
    restorer = completed(restorer)
    check_output_path(source_path, output_path, force=force)
    check_windows(restorer, windows)
    check_not_cut(source_path, read.span)  # now, not after every frame up to the cut was restored
    started = time.perf_counter()
    note = on_note or (lambda message: None)

    with open_source(source_path, read) as source:
        info: VideoInfo = source.info
        turned = shows_turned(output_path)  # else the halves are placed for frames shown as stored (.avi)
        sink_info = composed_info(info, turned) if side_by_side else info
        sink_info = with_grid(output_path, sink_info, source_path)  # before the key, which holds the output's clock
        key = resume_key(source_path, sink_info, restorer, windows, encode, read, side_by_side, mix)
        sink = open_sink(output_path, sink_info, encode, source=source_path, resume_key=key, fresh=not resume)
        try:
            with sink:
                check_free(output_path, force=force)  # again, under the lock: a run may have finished it meanwhile
                begin, resumed = _resume(sink, source, info.frame_count, note, asked=resume, name=output_path)
                restored = _restore_into(
                    sink, source, restorer, windows,
                    begin=begin, resumed=resumed, mix=mix, progress=progress,
                    placement=placement(info, (restorer.identity or {}).get("model"), turned, mix=mix)
                    if side_by_side else None,
                )  # fmt: skip
        except BaseException as e:
            if sink.finished:  # stopped as the output was renamed into place: nothing is left to do
                note(f"{output_path} was finished before the stop: it is complete")
                e.output_finished = True  # for a batch, which lists the output as finished, not interrupted
            elif (kept := sink.kept_frames) and kept == info.frame_count:  # stopped while joining
                note(
                    f"all {kept} frames of {output_path} are restored and kept in {sink.work}: {again} "
                    "only joins them, in seconds (delete that folder to free its space)"
                )
            elif kept:
                # an input that cannot be read on stops the same command there again, and once repaired it is
                # another input (fuzz48)
                unread = isinstance(e, InputError)
                when = " if the input can then be read as it is (a repaired one starts over; " if unread else " ("
                note(
                    f"the first {kept} frames of {output_path} are kept in {sink.work}: {again} "
                    f"continues from there{when}delete that folder to free its space)"
                )
            elif sink.work is not None and isinstance(e, KeyboardInterrupt):  # Ctrl-C, SIGTERM...
                unchanged = f" ({output_path}, already there, is unchanged)" if os.path.exists(output_path) else ""
                note(
                    f"no restored frames of {output_path} were kept{unchanged}: a run keeps its frames"
                    f" {SEGMENT_FRAMES} at a time (or {SEGMENT_SECONDS:g} s of restoring, at least {SEGMENT_MIN_FRAMES}"
                    f" frames; or {SEGMENT_MOST_SECONDS:g} s of restoring), and this one stopped before the first were"
                    " finished"
                )
            raise
        read_warnings = list(source.warnings)  # damaged packets skipped
    warnings = read_warnings + list(sink.warnings) + list(restored.retries.values())
    if info.alpha and side_by_side:
        warnings.insert(0, "side-by-side frames are opaque: the input's transparency is left out")
    written = sink_info.display_size if sink.turns_frames else (sink_info.width, sink_info.height)
    # where the output records the rotation (not .avi) and it turns the frames
    shown = sink_info.display_size if turned and sink_info.display_size != written else None
    return RunResult(
        input=str(source_path),
        output=os.path.normpath(output_path),  # "frames.v2/" names the folder, without its slash
        frames=restored.frames,
        seconds=time.perf_counter() - started,
        # as written: images are turned for display, videos stored with the rotation as a tag
        width=written[0],
        height=written[1],
        warnings=warnings,
        resumed=resumed,
        deinterlaced=info.deinterlaced,
        scene_cuts=restored.scene_cuts,
        tile=restored.tile,
        shown=shown,
    )


@dataclass
class _Restored:
    """What _restore_into made of an input."""

    frames: int  # the frames the output holds
    retries: dict[str, str]  # what out-of-memory retries changed, for the user: the latest of each kind
    scene_cuts: list[int]  # the cuts the windows were split at among the frames written (RunResult.scene_cuts)
    tile: int | None  # the tile side the last windows were restored in (RunResult.tile)


def _restore_into(
    sink: FrameSink,
    source,
    restorer: Restorer,
    windows: WindowOptions,
    *,
    begin: int | None,
    resumed: int,
    placement: Placement | None,
    mix: Mix,
    progress: FramesProgress | None,
) -> _Restored:
    """Decode `source` from frame `begin` (None: not at all), restore it and write the frames from
    `resumed` on into `sink`. Decoding and encoding run in threads of their own. `placement`: how
    side-by-side frames are composed, None for the restored frames alone."""
    info: VideoInfo = source.info
    size = (info.height, info.width)
    curve = model_curve(info.color.get("transfer"))  # HDR frames are restored on an sRGB-like curve
    retries: dict[str, str] = {}
    scene_cuts: list[int] = []
    tiles: list[int | None] = []  # the tile sides used, the latest last
    stop = threading.Event()
    out_q: queue.Queue = queue.Queue(maxsize=windows.window + 2)
    encode_errors: list[BaseException] = []
    done = resumed
    # of each frame read and not yet written: its timestamp, alpha plane and duration (Frame's), and whether it
    # is held (restore_stream writes the frame before it again; no segment ends before it, mostly: _Cuts)
    pts_fifo: collections.deque[tuple[int | None, np.ndarray | None, int | None, bool]] = collections.deque()
    carry_alpha = info.alpha and placement is None  # side-by-side frames are opaque
    inputs_fifo: collections.deque[torch.Tensor] = collections.deque()  # the input frames, to show side by side
    # Decoding runs in a thread of its own, which also puts the frames on the restorer's device, 8-bit
    # frames as uint8 and deeper ones as uint16: the frames read ahead take a quarter (a half) of float32's
    # memory, and on a GPU of its upload. Each window is converted to float when it is restored.
    # Each frame's facts (held, grey) are told there too, on the host, off the restoring thread's path.
    frames = (
        (to_compact_tensor(frame.image, restorer.device), facts, frame.pts, frame.alpha, frame.duration)
        for frame, facts in _with_facts(source)
    )
    frames_in = prefetched(frames if begin is not None else iter(()), depth=windows.window + 2)
    read = begin or 0  # frames of the span read so far

    def decoded() -> Iterator[tuple[torch.Tensor, FrameFacts]]:
        nonlocal read
        for frame, facts, pts, alpha, duration in frames_in:
            read += 1
            pts_fifo.append((pts, alpha if carry_alpha else None, duration, facts.held))  # alpha bypasses the model
            if placement is not None:
                inputs_fifo.append(frame)
            yield frame, facts

    segmented = sink.cut is not None  # where its segments end is decided here
    if mix.strength > 0:
        cuts = _Cuts(windows, windows.batch if batches(restorer) else 1, first=resumed)
    else:  # the frames pass one at a time, no windows stitched: a run can continue from any of them
        cuts = _Cuts(WindowOptions(window=1, overlap=0), 1, first=resumed)
    encoder = threading.Thread(
        target=_encode_worker, args=(sink, info.bit_depth, out_q, stop, encode_errors), daemon=True
    )
    encoder.start()
    if progress is not None:  # the total now, not after the first window (a while for large frames on a CPU)
        progress(done, info.frame_count)
    try:
        with torch.inference_mode():
            split: set[int] = set()  # frames after a cut the windows were split at
            # at --strength 0 the input as it is, in its own levels, and no model run
            restored_frames = restore_stream(
                decoded(), restorer, windows, size, mix=mix,
                on_retry=retries.__setitem__, on_cut=lambda t: split.add((begin or 0) + t), on_tile=tiles.append,
                curve=curve, first=begin or 0,
            )  # fmt: skip
            for index, restored in enumerate(restored_frames, start=begin or 0):
                if encode_errors:
                    raise encode_errors[0]
                pts, alpha, duration, held = pts_fifo.popleft()
                source_frame = inputs_fifo.popleft() if placement is not None else None
                cut = cuts.before(index, pts, read, held and mix.strength > 0) if segmented else None
                if index < resumed:  # read again to restore the window it shares with the next
                    continue
                if index in split:
                    scene_cuts.append(index)
                if cut is not None:
                    put_unless_stopped(out_q, cut, stop)
                if placement is not None:
                    restored = as_float(restored)
                    placement = placement.to(restored.device)  # the captions moved there once, not every frame
                    restored = compose(as_float(source_frame).to(restored), restored, *placement)
                # queued in the file's levels: at 3840x2160 a float32 frame is 99.5 MB, a uint8 one 24.9 MB
                levels = to_levels(restored, info.bit_depth)
                if not put_unless_stopped(out_q, (levels, pts, alpha, duration), stop):
                    raise encode_errors[0]
                done += 1
                if progress is not None:
                    progress(done, info.frame_count)
        put_unless_stopped(out_q, _DONE, stop)
        encoder.join()
        if encode_errors:
            raise encode_errors[0]
    finally:
        stop.set()
        frames_in.close()  # stops the decoding thread before the source closes
        encoder.join(timeout=5)
    return _Restored(done, retries, scene_cuts, tiles[-1] if tiles else None)


def _with_facts(frames: Iterable[Frame]) -> Iterator[tuple[Frame, FrameFacts]]:
    """Each frame, and the facts of its picture (the alpha plane bypasses the model, and does not count), which
    restore_stream takes rather than telling them again on the device."""
    before = None
    for frame in frames:
        yield frame, image_facts(frame.image, before)
        before = frame.image


def _resume(
    sink: FrameSink, source, total: int | None, note: Callable[[str], None], *, asked: bool, name: str | os.PathLike
) -> tuple[int | None, int]:
    """Where this run starts reading (None: nowhere, every frame is kept) and how many frames an
    earlier run kept, moving `source` there. `asked`: whether the caller wanted kept work reused; `name`:
    the output as the caller named it (a folder's trailing slash kept), for the notes."""
    if sink.discarded:
        changes = sink.changes
        kinds = {change.kind for change in changes}
        if not asked:
            why = "are discarded (--no-resume)"
        elif "input" in kinds:
            why = "were made from another input, or the input has changed since"
        elif "input_or_version" in kinds:
            why = "were made from another input, or by another version of deblur"
        elif kinds == {"version"}:
            why = "were made by another version of deblur"
        elif changes:
            why = f"were made with other settings ({listed([change.text for change in changes])})"
        else:
            why = "were made with other settings or another input"
        note(f"the {sink.discarded} frames an earlier run kept for {name} {why}: starting over")
    if sink.damaged:
        note(
            f"{sink.damaged} frames an earlier run kept for {name} are damaged or incomplete on disk (their data does"
            " not match what was written): restoring them again"
        )
    point = sink.resume_point
    if point is None:
        return 0, 0
    of = f" of {total}" if total else ""
    note(f"continuing an interrupted run of {name}: {point.frames}{of} frames were kept")
    if point.restart is None:
        return None, point.frames
    source.skip_to(point.restart, point.restart_pts)
    return point.restart, point.frames
