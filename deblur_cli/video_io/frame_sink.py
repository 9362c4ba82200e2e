"""The contract of an output for frames (sinks.open_sink opens one): what the pipeline writes into and reads back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

if TYPE_CHECKING:
    import numpy as np

    from deblur_cli.video_io.info import Frame
    from deblur_cli.video_io.work_folder import Change, ResumePoint


class FrameSink(Protocol):
    """Takes frames in order; `finish` publishes the output under its final name, `abort` removes it.

    As a context manager it finishes on a clean exit and aborts on any exception (Ctrl-C included).
    `warnings` lists what could not be carried over as it was (re-encoded audio, dropped subtitles, an
    alpha channel the output's format has no room for ...).

    The members after `warnings` are optional: a sink that subclasses FrameSink inherits the defaults given
    here, which say what their absence means, and the pipeline reads them as attributes.
    """

    path: Path
    warnings: list[str]

    turns_frames: bool = False  # frames are written turned for display (images have no rotation tag)
    finished: bool = False  # the output is in place under its final name (a stop may still come after)

    # cut(restart, restart_pts): end the output's part so far and keep it; a later run continuing from there
    # reads from frame `restart` (timestamp `restart_pts`). None: the sink has no parts, the pipeline cuts none.
    cut: Callable[[int, int | None], None] | None = None

    # Work kept for a later run (a sink opened with a resume key): `work` the folder it is kept in (None:
    # none is kept), `kept_frames` the frames in it that a later run would not restore again,
    # `resume_point` where the work an earlier run kept ends (None: nothing to continue), `discarded`
    # the frames of earlier work it removed instead, and `changes` why (work_folder.key_changes).
    work: Path | None = None
    kept_frames: int = 0
    resume_point: ResumePoint | None = None
    discarded: int = 0
    damaged: int = 0  # frames of earlier work under the same settings found damaged or incomplete, made again
    changes: Sequence[Change] = ()

    def write(
        self,
        frame: Frame | np.ndarray,
        pts: int | None = None,
        alpha: np.ndarray | None = None,
        duration: int | None = None,
    ) -> None:
        """One frame: an RGB array (with its alpha plane, where the source has one), or a Frame; `duration`,
        how long it shows (in the info's time base), where the source says (a video output holds the last
        frame that long)."""

    def finish(self) -> None: ...

    def abort(self) -> None: ...

    def __enter__(self) -> FrameSink: ...

    def __exit__(self, exc_type, exc, tb) -> None: ...
