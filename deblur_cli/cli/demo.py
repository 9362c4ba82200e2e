"""`deblur demo`: the whole job on a generated clip with known ground truth, no download needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deblur_cli.auto_model import AUTO, choose_model
from deblur_cli.cli.app import command, err, out, warn
from deblur_cli.cli.weights import build_shown
from deblur_cli.cli.options import (
    CacheDirOpt,
    DeviceOpt,
    ModelOpt,
    OfflineOpt,
    PrecisionOpt,
    SAMPLING_PANEL,
    seed_option,
    StepsOpt,
    WeightsOpt,
    SMALLEST_SYNTHESIS,
    parse_size,
)
from deblur_cli.held_weights import runs_under
from deblur_cli.host_memory import check_synthesis_memory
from deblur_cli.run_options import SAMPLING_DEFAULTS, sampling_note, window_options

if TYPE_CHECKING:
    from deblur_cli.demo import DemoResult


@command("demo")
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="DIR", help="Folder for blurry.mp4, sharp.mp4, deblurred.mp4.")
    ] = Path("deblur-demo"),
    model: ModelOpt = AUTO,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    cache_dir: CacheDirOpt = None,
    offline: OfflineOpt = False,
    steps: StepsOpt = 20,
    seed: Annotated[
        int, seed_option("Seed of the sample clip and of the diffusion sampler: another seed, another clip.", SAMPLING_PANEL)
    ] = 0,
    frames: Annotated[int, typer.Option("--frames", metavar="N", min=1, help="Length of the generated clip.")] = 20,
    size: Annotated[
        str, typer.Option("--size", metavar="WxH", help="Size of the generated clip (even sides).")
    ] = "640x360",
    force: Annotated[
        bool,
        typer.Option(
            "--force", "-f", metavar="", help="Also replace a blurry.mp4, sharp.mp4 or deblurred.mp4 no demo wrote."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print a JSON summary on stdout.")] = False,
) -> None:
    """Generate a blurry clip with known sharp frames, deblur it with the default model (`deblur models` says
    which), print the PSNR gain."""
    clip_size = parse_size(size, minimum=SMALLEST_SYNTHESIS)
    check_synthesis_memory(frames, *clip_size)
    # Modules that import torch: here, not at the top (see cli/__init__.py).
    from deblur_cli.demo import check_size, run_demo
    from deblur_cli.devices import resolve_device
    from deblur_cli.restorers import ModelOptions

    check_size(clip_size)  # before the model is built
    named = model != AUTO
    model = choose_model(model, device=resolve_device(device), weights=weights, cache_dir=cache_dir)
    if ignored := sampling_note(model, steps, SAMPLING_DEFAULTS["--eta"], SAMPLING_DEFAULTS["--samples"]):
        warn(ignored)  # as `deblur run` and `deblur bench` do
    options = ModelOptions(
        weights=weights, device=device, precision=precision, steps=steps, seed=seed, cache_dir=cache_dir,
        offline=offline or None,
    )
    restorer = build_shown(model, options, warn=warn)
    if named and (held := runs_under(model, weights)):  # as run says it, once the file is known to load
        warn(held)
    # the generated clip is one shot, filmed by a camera that pans ever faster towards its ends: a cut
    # found in it could only be a false one, and would change the figure the demo prints
    windows, _ = window_options(model, None, None, "auto", 32, scene_cuts=False)  # no notes on these
    with err.status(f"deblurring a generated {size} clip with {model}..."):
        result = run_demo(output, restorer, windows=windows, seed=seed, frames=frames, size=clip_size, force=force)
    if as_json:
        out.print_json(json.dumps(result.summary(model, restorer)))
        return
    for line in _summary(model, restorer.device, result, restorer.identity):
        out.print(line, highlight=False, soft_wrap=True)


def _summary(model: str, device: object, result: DemoResult, identity: dict | None) -> list[str]:
    """The lines the demo ends with: what it did, the gain, which files to open; then what a researcher
    compares figures by, on a line of its own."""
    made = f"with {_made_by(identity)}, " if identity else ""
    return [
        f"deblurred a generated blurry clip of {result.frames} frames with {model} on {device} "
        f"in {result.seconds:.1f} s",
        f"sharpness against the true frames: PSNR {result.psnr_blurry:.2f} dB (blurry) -> {result.psnr_restored:.2f}"
        f" dB (deblurred), gain {result.psnr_restored - result.psnr_blurry:+.2f} dB (higher is better)",
        f"open {result.restored} beside {result.blurry} to see it ({result.sharp}: the true frames)",
        f"measured {made}against the generated sharp frames before H.264 encoding (deblur evaluate on these "
        f"files scores against {result.sharp.name}, their lossy copy, and reports less)",
    ]


def _made_by(identity: dict) -> str:
    """The weights file (name and the start of its sha256), the dtype and any steps: what tells two demos'
    figures apart."""
    parts = [Path(identity["weights"][0]).name]
    if identity.get("weights_sha256"):
        parts[0] += f" sha256 {identity['weights_sha256'][:12]}"
    parts.append(str(identity["dtype"]).removeprefix("torch."))
    if "steps" in identity:
        parts.append(f"{identity['steps']} steps")
    return ", ".join(parts)
