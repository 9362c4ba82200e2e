"""deblur: remove motion blur from video.

The command line is `deblur` (deblur_cli.cli). From Python (docs/python.md):

    import deblur_cli
    model = deblur_cli.load("dstnet-s")     # load(model="auto", *, weights=None, device="auto", ...)
    sharp = model.restore(frames)           # a Deblurrer; restore_iter(frames) for a stream

`load`, `Deblurrer` and `DeblurWarning` come from deblur_cli.api, imported when first asked for; the errors
they raise (deblur_cli.errors, which imports no torch) are here from the start, for `except` clauses.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from deblur_cli.errors import (
    DeblurError,
    FrameError,
    FrameTypeError,
    ModelError,
    UnknownModelError,
    UsageError,
    WeightsError,
)

__version__ = "0.1.0"

if _TYPE_CHECKING:  # what __getattr__ gives, for type checkers and editors
    from deblur_cli.api import DeblurWarning, Deblurrer, load  # noqa: F401

_API = ("load", "Deblurrer", "DeblurWarning")
__all__ = [  # written out, not from _API: pyflakes reads a literal
    "load",
    "Deblurrer",
    "DeblurWarning",
    "DeblurError",
    "UsageError",
    "FrameError",
    "FrameTypeError",
    "WeightsError",
    "ModelError",
    "UnknownModelError",
]


def __getattr__(name: str):
    """deblur_cli.load, Deblurrer and DeblurWarning (api.py), imported when first asked for: the command
    line does not pay for torch's import before it needs it."""
    if name in _API:
        from deblur_cli import api

        return getattr(api, name)
    raise AttributeError(f"module 'deblur_cli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
