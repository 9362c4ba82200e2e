"""`deblur synth`: install the photo sources, and write synthetic blurred/sharp datasets."""

from __future__ import annotations

import math
from time import monotonic
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from deblur_cli.cli.app import command, err, given_options, note, out, warn
from deblur_cli.cli.progress_lines import lines_for_a_log, progress_bar, time_left
from deblur_cli.cli.options import (
    SMALLEST_SYNTHESIS,
    QuietOpt,
    parse_size,
    seed_option,
    sources_not_a_folder,
)
from deblur_cli.data.manifest import MANIFEST, own_entries
from deblur_cli.data.photos import is_validation
from deblur_cli.errors import DeblurError, UsageError
from deblur_cli.host_memory import check_synthesis_memory, synthesis_memory_error
from deblur_cli.interrupts import Terminated
from deblur_cli.wording import count, some

# The parameters of writing clips, which --add, --pack and --unpack, writing none, would pass over unnoticed
_CLIP_OPTIONS = ["clips", "frames", "size", "split", "seed", "shake_only", "fmt", "videos"]


@command("synth")
def synth(
    ctx: typer.Context,
    output: Annotated[
        Optional[Path], typer.Argument(metavar="OUTPUT", help="Dataset folder to write (clip_NNNN/blurred|sharp/*.png).")
    ] = None,
    sources: Annotated[
        Optional[Path],
        typer.Option("--sources", metavar="DIR", help="Photo cache folder (default: procedural scenes)."),
    ] = None,
    fetch: Annotated[
        bool,
        typer.Option(
            "--fetch",
            metavar="",
            help="First install the photo and video sources into --sources (apt-get download, pip download).",
        ),
    ] = False,
    clips: Annotated[int, typer.Option("--clips", metavar="N", min=1, help="Number of clips.")] = 10,
    frames: Annotated[int, typer.Option("--frames", metavar="N", min=1, help="Frames per clip.")] = 7,
    size: Annotated[str, typer.Option("--size", metavar="WxH", help="Frame size.")] = "640x360",
    split: Annotated[
        str, typer.Option("--split", metavar="NAME", help="train or val: which photos the clips come from.")
    ] = "val",
    seed: Annotated[int, seed_option("Seed: the same seed writes the same clips.")] = 0,
    shake_only: Annotated[
        bool, typer.Option("--shake-only", metavar="", help="Camera motion only, no moving objects.")
    ] = False,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", metavar="NAME", help="png: a folder of frames per clip; ffv1: a lossless .mkv per clip."
        ),
    ] = "png",
    pack: Annotated[
        Optional[Path],
        typer.Option(
            "--pack", metavar="DIR", help="Write --sources as JPEGs into this folder, to carry to a training machine."
        ),
    ] = None,
    unpack: Annotated[
        Optional[Path],
        typer.Option(
            "--unpack", metavar="DIR", help="Rebuild --sources from a folder written by --pack (flows recomputed)."
        ),
    ] = None,
    videos: Annotated[
        bool,
        typer.Option(
            "--videos", metavar="", help="Clips from the split's real videos (in --sources) instead of photos."
        ),
    ] = False,
    add: Annotated[
        Optional[Path],
        typer.Option("--add", metavar="DIR", help="Add your own sharp photos, frame folders and videos to --sources."),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Write blurred/sharp clip pairs: [bold]deblur synth data/val --sources cache --fetch[/]."""
    if split not in ("train", "val"):
        raise UsageError(f"--split must be train or val, got {split!r}")
    if fmt not in ("png", "ffv1"):
        raise UsageError(f"--format must be png or ffv1, got {fmt!r}")
    stray = given_options(ctx, _CLIP_OPTIONS)

    def say(line: str) -> None:  # how far the sources have come
        if not quiet:
            err.print(line, highlight=False, soft_wrap=True)

    if add:
        if sources is None:
            raise UsageError(
                "--add needs --sources CACHE: the source cache to add them to",
                hint=f"deblur synth --add {add} --sources CACHE",
            )
        if fetch or output is not None or pack or unpack or stray:
            raise UsageError(
                f"--add takes --sources alone{_besides(stray)}", hint="deblur synth --add DIR --sources CACHE"
            )
        _add(add, sources, say)
        return
    if pack or unpack:
        if sources is None or fetch or output is not None or (pack and unpack) or stray:
            raise UsageError(
                f"--pack and --unpack each take --sources alone{_besides(stray)}",
                hint="deblur synth --pack DIR --sources CACHE",
            )
        _pack(sources, pack, unpack, say)
        return
    if fetch:
        if sources is None:
            raise UsageError("--fetch needs --sources, the folder to install the photos into")
        _fetch(sources, say)
    elif sources is not None and not sources.is_dir():
        raise sources_not_a_folder(sources, "add --fetch to install the photos there")
    if videos and sources is None:
        raise UsageError("--videos needs --sources, a cache with the videos (deblur synth --fetch)")
    if output is None:
        if not fetch:
            raise UsageError("nothing to do", hint="give an output folder, or --fetch --sources DIR")
        return
    if fmt == "ffv1":
        try:
            import av  # noqa: F401  FFV1 videos are encoded by way of PyAV (PNG frames need no codec)
        except ImportError:
            raise DeblurError(
                "deblur synth --format ffv1 needs PyAV (the av package); PNG frames (the default) do not",
                hint="pip install av",
            ) from None
    width, height = parse_size(size, minimum=SMALLEST_SYNTHESIS)
    check_synthesis_memory(frames, width, height)
    _write_clips(
        output, clips=clips, frames=frames, size=(width, height), sources=sources, split=split, seed=seed,
        max_layers=0 if shake_only else 2, videos=videos, fmt=fmt, quiet=quiet,
    )  # fmt: skip


def _add(add: Path, sources: Path, say: Callable[[str], None]) -> None:
    """--add: the user's own photos, frame folders and videos added to the source cache, and what was added."""
    from deblur_cli.data.own import add_own

    said = [-math.inf]  # when the last line was printed: thousands of photos give a line a second, not each
    # (a video's line comes after the seconds its optical flow takes, so each is printed)

    def adding(line: str) -> None:
        now = monotonic()
        if now - said[0] >= 1.0:
            said[0] = now
            say(f"adding {line}")

    added = add_own(sources, add, progress=adding, warn=warn)
    photos = [entry for entry in added if "photo" in entry]
    scenes, videos = len({entry["group"] for entry in photos}), len(added) - len(photos)
    what = f"{count(len(photos), 'photo')} of {count(scenes, 'scene')}"
    what += f" and {count(videos, 'video')} of real motion" if videos else ""
    out.print(f"{what} added to {sources} from {add}", highlight=False, soft_wrap=True)
    held = sorted({entry["group"] for entry in photos if is_validation(entry["photo"])})
    if held:  # with few scenes the share held out is far from the usual 15%
        note(f"{len(held)} of these {scenes} scenes {'is' if len(held) == 1 else 'are'} held out for validation,"
             f" which training does not see: {some(held, 5)}")  # fmt: skip


def _pack(sources: Path, pack: Path | None, unpack: Path | None, say: Callable[[str], None]) -> None:
    """--pack: the source cache written as JPEGs into a folder to carry; --unpack: the cache rebuilt from one."""
    from deblur_cli.data.travel import pack_cache, unpack_cache

    if pack:
        out.print(str(pack_cache(sources, pack, progress=say)))
    else:
        out.print(str(unpack_cache(unpack, sources, progress=say)))


def _fetch(sources: Path, say: Callable[[str], None]) -> None:
    """--fetch: the photo and video sources installed into `sources`, and how many there are."""
    from deblur_cli.data.sources import fetch_sources

    manifest = fetch_sources(sources, progress=lambda line: say(f"source {line}"))
    n_photos, n_videos = sum("photo" in e for e in manifest), sum("video" in e for e in manifest)
    licences = sources / MANIFEST
    summary = f"{n_photos} photos and {n_videos} videos in {sources} (licences: {licences})"
    if own := own_entries(sources):  # kept: without them counted, the line reads as if they were gone
        mine = sum("photo" in e for e in own)
        summary += f", besides {mine} photos and {len(own) - mine} videos of your own (--add)"
    out.print(summary, highlight=False, soft_wrap=True)


def _write_clips(output: Path, *, clips: int, frames: int, size: tuple[int, int], quiet: bool, **options) -> None:
    """The clips written into `output` (data.writer.write_dataset with `options`), with their progress; what a
    stopped run left is kept, and said."""
    from deblur_cli.data.writer import clips_written, write_dataset
    from deblur_cli.devices import is_out_of_memory

    kept = clips_written(output) if output.is_dir() else 0  # by a stopped run, if its settings were these
    try:
        with _Progress(clips, frames, quiet) as shown:
            write_dataset(
                output, clips=clips, frames=frames, size=size, progress=shown.clip_done, warn=warn,
                on_frame=shown.frame_done, **options,
            )  # fmt: skip
    except (KeyboardInterrupt, Terminated):
        if written := clips_written(output) if output.is_dir() else 0:
            verb = "is" if written == 1 else "are"
            note(f"{written} of {clips} clips {verb} written in {output}: the same command writes the rest")
        raise
    except (RuntimeError, MemoryError) as e:
        if not is_out_of_memory(e):
            raise
        raise synthesis_memory_error(frames, *size) from None
    if kept >= clips:
        were = "the clip was" if clips == 1 else f"the {clips} clips were"
        note(f"{were} there already, written with these settings: nothing to do")
    elif kept:
        verb = "was" if kept == 1 else "were"
        note(f"{kept} of the {clips} clips {verb} there from a stopped run with these settings: kept")
    out.print(str(output))


class _Progress:
    """How far `deblur synth` has come: on a terminal a bar of frames rendered, the clip and the time left;
    in a log a line per clip and, within a long clip, one a minute (progress_lines)."""

    def __init__(self, clips: int, frames: int, quiet: bool):
        self.clips, self.frames, self.quiet = clips, frames, quiet
        self.bar = progress_bar(err, quiet)
        self.lines = lines_for_a_log("synth", err, quiet=quiet)
        self.began, self.rendered = monotonic(), 0  # frames rendered by this run, for its rate

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        self.task = self.bar.add_task(f"clip 1/{self.clips}", total=self.clips * self.frames, left="")
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def frame_done(self) -> None:
        self.rendered += 1
        done = int(self.bar.tasks[0].completed) + 1
        rate = self.rendered / max(monotonic() - self.began, 1e-9)
        total = self.clips * self.frames
        self.bar.update(self.task, completed=done, left=time_left(done, total, rate))
        if self.lines is not None:
            self.lines.update(done, total, rate)

    def clip_done(self, done: int, clips: int) -> None:
        self.bar.update(self.task, completed=done * self.frames, description=f"clip {min(done + 1, clips)}/{clips}")
        if not err.is_terminal and not self.quiet:  # the bar shows it on a terminal
            err.print(f"clip {done}/{clips}", highlight=False)


def _besides(options: list[str]) -> str:
    """The clip options given beside --add, --pack or --unpack, for their error line."""
    return f" ({', '.join(options)} {'is' if len(options) == 1 else 'are'} for writing clips)" if options else ""
