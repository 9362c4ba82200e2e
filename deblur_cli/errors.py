"""Domain errors. The CLI turns each into one line on stderr plus an optional hint, exit code 1."""

from __future__ import annotations

from collections.abc import Iterable


class DeblurError(Exception):
    """Base of every error a user can cause; `hint` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class InputError(DeblurError):
    """The input cannot be read: missing, not media, no video, corrupt."""


class NoVideoError(InputError):
    """A media file without a video stream (audio only, as a camera card's sound files); `what` says what
    it holds instead."""

    def __init__(self, path, what: str):
        super().__init__(
            f"{path} has no video stream ({what})", hint="deblur needs a video file, an image or a folder of images"
        )
        self.what = what


class SpanError(InputError):
    """--start, --end or --duration names no part of this input: a timecode before its first frame's label, or
    with more frames than its seconds hold. Of one input of several, as InputError: the others are restored."""

    exit_code = 2


class OutputError(DeblurError):
    """The output cannot be written: exists, same as input, unwritable, disk full."""


class DiskFullError(OutputError):
    """The disk, or the user's quota, filled as the output was written: space freed, the same command succeeds."""


class OutputExistsError(OutputError):
    """Something is at the output path already, and this run may not replace it."""


class OutputBusyError(OutputError):
    """Another deblur run holds the output's lock: it is writing the same output now."""


class EncoderOptionError(OutputError):
    """--codec, --preset or --pix-fmt names nothing the encoder knows or takes, or -o a format FFmpeg does not
    know (its suffix): a bad option."""

    exit_code = 2


class WeightsError(DeblurError):
    """Weights missing, unverifiable or incompatible with the architecture."""


class ModelError(DeblurError):
    """A model was asked for something it cannot do (unknown name, too many frames...)."""


class UnknownModelError(ModelError):
    """--model names no model: a bad option."""

    exit_code = 2


class UsageError(DeblurError):
    """Options that do not fit together."""

    exit_code = 2


class FrameError(UsageError, ValueError):
    """Frames given to the library (api.py) of a shape, or with values, it does not take: a ValueError too, so that
    a caller's `except ValueError` catches it as it would NumPy's or torch's."""


class FrameTypeError(UsageError, TypeError):
    """Frames given to the library (api.py) of a type or dtype it does not take (a list, None, int16): a TypeError
    too, as Python's own are."""


def did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """A hint's opening, "did you mean 'dstnet-s'? ", where one of `known` is close to a mistyped `name` (case
    aside; difflib's ratio of at least `cutoff`); all those equally close ("did you mean 'libx264' or 'libx265'? "
    for libx246); "" where none is."""
    from difflib import SequenceMatcher

    lowered = {k.lower(): k for k in known}
    scores = {k: SequenceMatcher(None, name.lower(), k).ratio() for k in lowered}
    best = max(scores.values(), default=0.0)
    if best < cutoff:
        return ""
    close = [repr(lowered[k]) for k in sorted(scores) if scores[k] == best][:3]
    return f"did you mean {' or '.join(close)}? "
