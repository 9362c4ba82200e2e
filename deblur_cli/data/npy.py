"""Atomic writes of the source cache's arrays: a reader never sees a half-written `.npy`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deblur_cli.errors import OutputError
from deblur_cli.files import written

TEMP_SUFFIX = ".tmp.npy"  # an array being written, never one of the cache's


def save_npy(path: str | Path, array: np.ndarray) -> None:
    """Write `array` to `path` (parent folders created) under a temporary name, then rename it; OutputError
    where it cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {path.parent}: {e.strerror}") from None
    with written(path, suffix=TEMP_SUFFIX) as temp:  # Ctrl-C, a full disk: no partial array left to pass for a photo
        np.save(temp, np.ascontiguousarray(array))
