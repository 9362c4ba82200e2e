"""The checks of a run's windows, tiles, batch and sampling options, shared by the commands that restore
(`run`, `evaluate`, `demo`, `bench`) and `api.load`: first of the values (`window_options`, `sampling_note`),
then against the built restorer (`check_restorer`). Messages and notes are worded once, for the command line
(`--window 10`); notes come back as lines for each front end to show its own way, and api.load words both in
its arguments' terms (`window=10`). No torch at import (see cli/__init__.py)."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

from deblur_cli.errors import UsageError
from deblur_cli.model_specs import model_spec

if TYPE_CHECKING:
    from deblur_cli.restorer import ModelFacts, Restorer
    from deblur_cli.windows import WindowOptions

SMALL_TILE = 64  # pixels: smaller tiles see too little of the picture, and each call costs its own overhead
SAMPLING_DEFAULTS = {"--steps": 20, "--eta": 0.0, "--samples": 1, "--seed": 0}  # the diffusion models' sampling options


def window_options(
    model: str,
    window: int | None,
    overlap: int | None,
    tile: int | str | None,
    tile_overlap: int | None,
    batch: int = 1,
    last: str = "split",
    scene_cuts: bool = True,
    *,
    note_small_tiles: bool = True,
) -> tuple[WindowOptions, list[str]]:
    """WindowOptions with model `model`'s defaults where `window` or `overlap` is None, and the notes on them
    (tile_overlap without tiles; tiles under SMALL_TILE, which the commands note and load does not). `tile` is
    "auto", None or a side in pixels (0: whole frames). UsageError for an unknown `last`, an overlap not smaller
    than the window, or a tile that is none of those."""
    from deblur_cli.windows import WindowOptions, check_window

    spec = model_spec(model)
    frames = spec.window if window is None else int(window)
    shared = spec.overlap if overlap is None else int(overlap)
    most = frames - 1
    models = f"add --overlap {most}{' or less' if most else ''} ({model}'s is {spec.overlap})"  # --window too short for it
    check_window(frames, shared, last, overlap_hint=models if overlap is None else None)
    windows = WindowOptions(
        window=frames,
        overlap=shared,
        tile=_tile(tile),
        tile_overlap=None if tile_overlap is None else int(tile_overlap),
        batch=int(batch),
        last=last,
        scene_cuts=bool(scene_cuts),
    )
    notes = []
    if windows.tile is None and windows.tile_overlap is not None:
        notes.append(f"--tile-overlap {windows.tile_overlap} is not used without tiles: whole frames are restored")
    if note_small_tiles and isinstance(windows.tile, int) and windows.tile < SMALL_TILE:
        notes.append(
            f"--tile {windows.tile}: tiles under {SMALL_TILE} pixels restore less (each sees little of the picture) "
            "and take many times longer; --tile auto picks the largest that fits in memory"
        )
    return windows, notes


def _tile(tile: int | str | None) -> int | str | None:
    """A tile as WindowOptions holds it: "auto", None (whole frames) or a side in pixels; 0 is None, as --tile 0."""
    if tile is None or tile == "auto":
        return tile
    if isinstance(tile, bool) or not isinstance(tile, numbers.Integral) or tile < 0:  # NumPy's integers too
        raise UsageError(f'tile must be "auto", None or 0 (whole frames), or a side in pixels, got {tile!r}')
    return int(tile) or None


def sampling_note(model: str, steps: int, eta: float, samples: int, seed: int = 0) -> str | None:
    """A note for sampling options set away from their defaults for a model that does not sample, with their
    values, else None."""
    values = {"--steps": steps, "--eta": eta, "--samples": samples, "--seed": seed}
    given = [f"{name} {value}" for name, value in values.items() if value != SAMPLING_DEFAULTS[name]]
    return ignored_sampling_note(model, given)


def ignored_sampling_note(model: str, given: list[str]) -> str | None:
    """A note that the sampling options `given` (their names, or names and values) do nothing for a model that
    does not sample, else None."""
    if not given or model_spec(model).architecture == "wtsa":
        return None
    which = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 2 else given)
    return (
        f"{which} {'apply' if len(given) > 1 else 'applies'} to the diffusion models (wtsa, wtsa-s); "
        f"{model} restores in one deterministic pass and ignores {'them' if len(given) > 1 else 'it'}"
    )


def check_restorer(
    restorer: Restorer | ModelFacts,
    model: str,
    windows: WindowOptions,
    *,
    compiled: bool = False,
) -> list[str]:
    """`windows` checked against the built `restorer` of model `model`, or its facts: UsageError for a window
    longer than it takes, or tiles smaller than its multiple or with no room between them. Returns the notes on
    them: a batch it restores one window at a time, a window longer than its weights learned, and (`compiled`:
    the network was compiled, or asked to be) compiling for a CPU."""
    from deblur_cli.restorer import ModelFacts
    from deblur_cli.stream import check_windows
    from deblur_cli.tiles import check_tile, plan_tiles

    restorer = restorer if isinstance(restorer, ModelFacts) else ModelFacts.of(restorer)

    check_windows(restorer, windows, model)
    if isinstance(tile := windows.tile, int):
        check_tile(tile, restorer.multiple, model)
        plan_tiles(tile, tile, tile=tile, overlap=windows.tile_overlap, multiple=restorer.multiple)  # room to move
    notes = []
    if windows.batch > 1 and not restorer.batches:
        notes.append(f"--batch {windows.batch} does nothing for {model}: it restores one window per call")
    if windows.window > (learned := restorer.learned_frames or windows.window):
        notes.append(
            f"--window {windows.window}: {model}'s weights learned windows of up to {learned} frames; frames "
            f"{learned + 1} to {windows.window} of each window get positions the network never learned "
            f"(use --window {learned} or less)"
        )
    if compiled and restorer.device.type == "cpu":
        notes.append("--compile on a CPU: measured no faster than without, after minutes of compiling (docs/cli.md)")
    return notes
