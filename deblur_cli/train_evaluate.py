"""`deblur train --evaluate`: the weights of a run, or a weights file, scored on held-out clips without
training, and a sample frame written as a PNG."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from deblur_cli.checkpoint import load_fitting, read_checkpoint
from deblur_cli.data.dataset import FixedClips, FixedVideoClips, SharpInputClips, split_photos, split_videos
from deblur_cli.errors import OutputError, UsageError
from deblur_cli.files import check_writable
from deblur_cli.train_state import CHECKPOINT, read_state
from deblur_cli.train_tasks import (
    TASKS,
    Task,
    check_frames,
    get_task,
    procedural_note,
    restore_padded,
    trained_model_of,
    validate,
    weights_file as named_weights,
)

# evaluate(camera=...) -> synthesize_clip(still=..., handheld_share=..., stabilized_share=...); "any" is the
# default stream whatever the run trained on, as its validation is, so that runs on other streams and bare weights
# files get one figure
CAMERAS = {
    "any": (None, 0.0, 0.0), "moving": (False, 0.0, 0.0), "still": (True, 0.0, 0.0), "handheld": (False, 1.0, 0.0),
    "stabilized": (False, 0.0, 1.0),
}  # fmt: skip


def evaluate(
    out_dir: str | Path | None,
    *,
    size: tuple[int, int] = (640, 360),
    clips: int = 8,
    frames: int = 5,
    shake_only: bool = True,
    camera: str = "any",
    sharp_input: bool = False,
    videos: bool = False,
    sources: str | Path | None = None,
    sample: str | Path | None = None,
    weights: str | Path | None = None,
    ddim_steps: int | None = None,
    force: bool = False,
    task: Task | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Validate the EMA weights of the run in `out_dir` on `clips` held-out clips of `size` (W, H).

    `weights` evaluates that weights file of the run's model instead (e.g. the float16 export; or a model's
    name, whose weights are found as `deblur run` finds them); without
    a run (`out_dir` None, or no checkpoint in it) the file's metadata names the model, as in every file
    `deblur train` exports or bundles, and `sources` must be given.
    The clips come from the validation photos of `sources` (the run's own cache when None) and, with
    `shake_only`, have camera motion but no moving objects. `camera` "moving" or "still" keeps only clips
    whose camera moves (the blur to remove) or is almost still (footage to leave alone); "handheld" only
    hand-held shake that turns from frame to frame (motion.handheld_path); "stabilized" only that shake seen
    through a phone's electronic stabilisation (CameraPath.stabilized): blurred frames that hardly move; "any"
    mixes moving and still as training's default stream does, without hand-held shake and with the default clean
    share whatever `--handheld`, `--stabilized` and `--clean-share` the run trained with. With `sharp_input` the
    model is fed the sharp clips themselves (8-bit): how much it changes footage that needs no deblurring. With
    `videos` the clips come from the held-out real videos instead of photos. `sample` writes a PNG of the middle
    frame of the first clip: blurred input | restored | sharp, side by side (with the prior's estimate after
    the input for a residual model); an existing file there is replaced only with `force`, and never when
    it is one of the evaluation's inputs (the weights or the run's checkpoint). `ddim_steps` sets a
    diffusion model's DDIM steps (default VALIDATION_DDIM_STEPS, as in training; `deblur run` samples
    with 20). `warn` is told when the clips are procedural scenes (no held-out photo fits them).
    """
    if camera not in CAMERAS:
        raise UsageError(f"--camera must be one of {', '.join(CAMERAS)}, got {camera!r}")
    if videos and camera != "any":
        raise UsageError("--camera applies to clips made from photos, not to --videos")
    if weights is not None:  # a file, or a model's or `deblur models` entry's name (--weights dstnet-s), as --init takes
        weights = named_weights(str(weights), "--weights")
    if sample:
        inputs = [Path(weights)] if weights is not None else []
        if out_dir is not None:  # the run's checkpoint, and the weights it exported (the run's own work)
            inputs += [Path(out_dir) / CHECKPOINT, *Path(out_dir).glob("*.safetensors")]
        _check_sample(Path(sample), inputs, force)
    weights_file = read_checkpoint(weights) if weights is not None else None  # (tensors, metadata), read once
    name, prior, ema, run_sources = _evaluated_model(out_dir, weights, weights_file)
    if ema is None and sources is None:  # no run: nothing says which photos (none means procedural scenes)
        raise UsageError(
            "--evaluate without a run folder needs --sources",
            hint="the cache of `deblur synth --fetch` (an empty folder: procedural scenes, not real footage)",
        )
    sources = sources or run_sources
    task = task or get_task(name, prior, ddim_steps=ddim_steps)
    check_frames(task, frames, name)
    model = task.build()
    if weights_file is None:
        tensors = ema
    else:
        from deblur_cli.wtsa_weights import PRIOR_PREFIX

        tensors = {k: v for k, v in weights_file[0].items() if not k.startswith(PRIOR_PREFIX)}
    loaded = f"--weights {weights}" if weights_file is not None else str(out_dir)
    load_fitting(model, tensors, name=loaded, described=name)
    model.eval()
    if videos:
        _, val_videos = split_videos(sources)
        clip_set = FixedVideoClips(val_videos, count=clips, frames=frames, size=size, seed=2)
    else:
        _, val_photos = split_photos(sources)
        layers = 0 if shake_only else 2
        still, handheld, stabilized = CAMERAS[camera]
        clip_set = FixedClips(
            val_photos, count=clips, frames=frames, size=size, seed=2, max_layers=layers, still=still,
            handheld_share=handheld, stabilized_share=stabilized,
        )  # fmt: skip
        if clip_set.procedural and warn:
            warn(procedural_note(sources, size))
    if sharp_input:
        clip_set = SharpInputClips(clip_set)
    result = validate(task, model, clip_set, torch.device("cpu"))
    if sample:
        from deblur_cli.data.writer import write_png

        blurred, sharp = clip_set[0]
        panels = [blurred, restore_padded(task, model, blurred, torch.device("cpu")), sharp]
        if task.prior is not None:  # blurred | the prior's estimate | restored | sharp
            as_prior = replace(task, restore=lambda _, clip, on_step: task.prior(clip))
            panels.insert(1, restore_padded(as_prior, model, blurred, torch.device("cpu")))
        mid = frames // 2
        write_png(torch.cat([panel[mid] for panel in panels], dim=-1), sample)
    return result


def _check_sample(sample: Path, inputs: list[Path], force: bool) -> None:
    """Refuse, before any clip is made, a --sample path that names one of `inputs` (even with `force`: the
    weights being evaluated would be lost), a folder, a name without .png, an existing file without
    `force`, a missing folder, or one that takes no new file (read-only)."""
    if sample.exists() and any(path.exists() and os.path.samefile(sample, path) for path in inputs):
        raise OutputError(
            f"--sample {sample} is an input of this evaluation", hint="write the sample to a new PNG file"
        )
    if sample.is_dir():
        raise OutputError(f"--sample {sample} is a folder", hint="give the name of a PNG file to write")
    if sample.suffix.lower() != ".png":  # PNG bytes under another name would open as nothing, or as something else
        raise UsageError(
            f"--sample writes a PNG image; {sample} does not end in .png", hint=f"e.g. --sample {sample.stem}.png"
        )
    if sample.exists() and not force:
        raise OutputError(f"--sample {sample} exists", hint="pass --force to replace it, or give a new file name")
    if not sample.parent.is_dir():
        raise OutputError(f"cannot write --sample {sample}: {sample.parent} is not a folder")
    check_writable(sample)  # now, not after the evaluation


def _evaluated_model(
    out_dir: str | Path | None, weights: str | Path | None, weights_file: tuple[dict, dict[str, str]] | None
) -> tuple[str, str | None, dict | None, str | None]:
    """(model name, prior, EMA weights, sources) of the run in `out_dir`, or, without one, what the
    metadata of `weights` says (no EMA, no sources); `weights_file` is read_checkpoint(weights)."""
    checkpoint = Path(out_dir) / CHECKPOINT if out_dir is not None else None
    if checkpoint is not None and checkpoint.is_file():
        config = (state := read_state(checkpoint, needed=("config", "ema")))["config"]
        prior = config.get("prior")
        if prior is not None and weights is not None:
            prior = str(weights)  # a residual model's file holds the DSTNet it corrects: use that one
        return config["model"], prior, state["ema"], config.get("sources")
    if weights is None:
        where = f"{checkpoint} does not exist" if checkpoint is not None else "no run folder (--out) was given"
        raise UsageError(f"nothing to evaluate: {where}", hint="give a run folder, or a weights file with --weights")
    metadata = weights_file[1]
    name = metadata.get("variant")  # what training's export names; else what the file holds, as run reads it
    if name not in TASKS:
        name = trained_model_of(weights, metadata)
    if name not in TASKS:
        raise UsageError(
            f"cannot tell which model {weights} holds (its metadata names none that trains here)",
            hint="evaluate it with the run folder it came from (--out)",
        )
    residual = "prior" in json.loads(metadata.get("config") or "{}")
    return name, str(weights) if residual else None, None, None
