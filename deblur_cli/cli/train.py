"""`deblur train`: train a model on synthetic motion blur."""

from __future__ import annotations

import signal
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from deblur_cli.cli.app import command, err, examples, given, given_options, note, out, stop_after_step, stopped, warn
from deblur_cli.cli.options import number_in, parse_size, seed_option, sources_not_a_folder
from deblur_cli.errors import UsageError
from deblur_cli.host_memory import check_synthesis_memory
from deblur_cli.model_specs import MODELS
from deblur_cli.train_config import PRECISIONS, TrainConfig

if TYPE_CHECKING:
    from deblur_cli.train import Progress

DEFAULTS = TrainConfig()
# The parameters that only training reads, and those that only --evaluate reads: the other mode refuses them
TRAINING_ONLY = [
    "model", "crop", "batch", "steps", "until", "lr", "warmup", "ema", "seed", "workers", "gpu_synthesis", "echo",
    "val_every", "save_every", "precision", "resume", "init", "prior", "handheld", "stabilized", "clean_share",
]  # fmt: skip
EVALUATION_ONLY = ["shake_only", "camera", "sharp_input", "videos", "sample", "weights", "ddim_steps", "force"]
DATA_PANEL = "Training clips"
SYNTHESIS_PANEL = "Clip synthesis"
OPTIMISER_PANEL = "Optimiser and precision"
VALIDATION_PANEL = "Validation and checkpoints"
EVALUATE_PANEL = "--evaluate: validate weights, without training"
SMALLEST_VALIDATION = 11  # px: SSIM's window (metrics.ssim.WINDOW, not imported: it loads torch) fits in a clip


@command(
    "train",
    epilog=examples(
        ("deblur train -m dstnet-s --sources cache -o runs/s", "a new run"),
        ("deblur train -o runs/s --resume", "continue it"),
        ("deblur train -o runs/s --evaluate --val-size 640x360", "validate only"),
    ),
)
def train_command(
    ctx: typer.Context,
    out_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Run folder: checkpoint, log.csv, exported weights (--evaluate --weights needs none).",
        ),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", metavar="NAME", help=f"Model to train: {', '.join(MODELS)}.")
    ] = DEFAULTS.model,
    sources: Annotated[
        Optional[Path],
        typer.Option(
            "--sources",
            metavar="DIR",
            rich_help_panel=DATA_PANEL,
            help="Photo cache from `deblur synth --fetch` (default: procedural scenes).",
        ),
    ] = None,
    crop: Annotated[
        int,
        typer.Option(
            "--crop", metavar="PIXELS", rich_help_panel=DATA_PANEL, min=16, help="Training crop side in pixels."
        ),
    ] = DEFAULTS.crop,
    frames: Annotated[
        int,
        typer.Option(
            "--frames",
            metavar="N",
            rich_help_panel=DATA_PANEL,
            min=1,
            help="Frames per training clip (wtsa, wtsa-s: at most 8).",
        ),
    ] = DEFAULTS.frames,
    batch: Annotated[
        int,
        typer.Option(
            "--batch", metavar="B", rich_help_panel=DATA_PANEL, min=1, help="Clips per step (per GPU under torchrun)."
        ),
    ] = DEFAULTS.batch,
    handheld: Annotated[
        float,
        typer.Option(
            "--handheld",
            metavar="SHARE",
            rich_help_panel=DATA_PANEL,
            parser=number_in(0.0, 1.0),
            help="Share of moving camera paths that are hand-held shake, turning frame to frame, without a pan "
            "(validation keeps the default stream: --evaluate --camera handheld scores such paths).",
        ),
    ] = DEFAULTS.handheld,
    stabilized: Annotated[
        float,
        typer.Option(
            "--stabilized",
            metavar="SHARE",
            rich_help_panel=DATA_PANEL,
            parser=number_in(0.0, 1.0),
            help="Share of moving camera paths that are hand-held shake seen through a phone's stabilisation: "
            "blurred frames that hardly move from one to the next (with --handheld, at most 1 together; "
            "--evaluate --camera stabilized scores such paths).",
        ),
    ] = DEFAULTS.stabilized,
    clean_share: Annotated[
        float,
        typer.Option(
            "--clean-share",
            metavar="SHARE",
            rich_help_panel=DATA_PANEL,
            parser=number_in(0.0, 1.0),
            help="Share of clips left without sensor noise and compression.",
        ),
    ] = DEFAULTS.clean_share,
    steps: Annotated[
        int, typer.Option("--steps", metavar="N", min=1, help="Length of the whole run in steps.")
    ] = DEFAULTS.steps,
    until: Annotated[
        Optional[int],
        typer.Option("--until", metavar="N", min=1, help="Stop after this many steps in all (resume later)."),
    ] = None,
    lr: Annotated[
        float,
        typer.Option(
            "--lr",
            metavar="X",
            rich_help_panel=OPTIMISER_PANEL,
            min=0.0,
            parser=number_in(0.0),
            help="Peak learning rate.",
        ),
    ] = DEFAULTS.lr,
    warmup: Annotated[
        int, typer.Option("--warmup", metavar="N", rich_help_panel=OPTIMISER_PANEL, min=0, help="Warm-up steps.")
    ] = DEFAULTS.warmup,
    ema: Annotated[
        float,
        typer.Option(
            "--ema",
            metavar="X",
            rich_help_panel=OPTIMISER_PANEL,
            min=0.0,
            max=1.0,
            parser=number_in(0.0, 1.0),
            help="EMA decay of the exported weights (short runs: lower).",
        ),
    ] = DEFAULTS.ema,
    seed: Annotated[int, seed_option("Seed of the data stream and initialisation.")] = DEFAULTS.seed,
    workers: Annotated[
        int,
        typer.Option("--workers", metavar="N", rich_help_panel=SYNTHESIS_PANEL, min=0, help="Data-loader processes."),
    ] = DEFAULTS.workers,
    gpu_synthesis: Annotated[
        bool,
        typer.Option(
            "--gpu-synthesis/--cpu-synthesis",
            metavar="",
            rich_help_panel=SYNTHESIS_PANEL,
            help="Render the training clips on the GPU, in the training process (no --workers): for when CPU synthesis cannot "
            "keep up. --cpu-synthesis: on the CPU, in --workers processes. --resume keeps the run's unless given.",
            show_default=False,  # "[default: cpu-synthesis]" does not hold on --resume
        ),
    ] = DEFAULTS.gpu_synthesis,
    echo: Annotated[
        int,
        typer.Option(
            "--echo",
            metavar="K",
            rich_help_panel=SYNTHESIS_PANEL,
            min=1,
            help="Steps per synthesised batch; reuses are flipped, transposed or time-reversed (when synthesis is slower than the GPU).",
        ),
    ] = DEFAULTS.echo,
    val_every: Annotated[
        int,
        typer.Option(
            "--val-every", metavar="N", rich_help_panel=VALIDATION_PANEL, min=1, help="Steps between validations."
        ),
    ] = DEFAULTS.val_every,
    val_size: Annotated[
        str,
        typer.Option(
            "--val-size", metavar="WxH", rich_help_panel=VALIDATION_PANEL, help="Validation clip size (11x11 or more)."
        ),
    ] = "256x256",
    save_every: Annotated[
        int,
        typer.Option(
            "--save-every", metavar="N", rich_help_panel=VALIDATION_PANEL, min=1, help="Steps between checkpoints."
        ),
    ] = DEFAULTS.save_every,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            metavar="NAME",
            rich_help_panel=OPTIMISER_PANEL,
            help=f"Autocast: {', '.join(PRECISIONS)} (auto: bf16 where the GPU or CPU runs it natively, else fp16 on a GPU,"
            " fp32 on a CPU). --resume keeps the run's unless given.",
        ),
    ] = DEFAULTS.precision,
    threads: Annotated[
        Optional[int],
        typer.Option(
            "--threads",
            metavar="N",
            rich_help_panel=OPTIMISER_PANEL,
            min=1,
            help="CPU threads for torch (default: all, fewer while other programs keep the cores busy). --resume keeps"
            " the run's unless given.",
        ),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", metavar="", help="Continue the run in --out.")] = False,
    init: Annotated[
        Optional[str],
        typer.Option(
            "--init",
            metavar="WEIGHTS",
            help="Start from these weights (a weights file or a model name, e.g. dstnet-s: fine-tuning) instead of "
            "random ones.",
        ),
    ] = None,
    prior: Annotated[
        Optional[str],
        typer.Option(
            "--prior",
            metavar="DSTNET",
            help="wtsa/wtsa-s: learn to correct this DSTNet's estimate (a weights file or a model name, e.g. dstnet-s) "
            "instead of deblurring the blurry frames directly; the DSTNet is stored in the exported file.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="Only validation lines.")] = False,
    evaluate_only: Annotated[
        bool,
        typer.Option(
            "--evaluate",
            metavar="",
            rich_help_panel=EVALUATE_PANEL,
            help="Only validate the run's EMA weights on held-out clips of --val-size.",
        ),
    ] = False,
    val_clips: Annotated[
        int,
        typer.Option(
            "--val-clips", metavar="N", rich_help_panel=VALIDATION_PANEL, min=1, help="Held-out clips per validation."
        ),
    ] = DEFAULTS.val_clips,
    shake_only: Annotated[
        bool,
        typer.Option(
            "--shake-only", metavar="", rich_help_panel=EVALUATE_PANEL, help="Camera shake, no moving objects."
        ),
    ] = False,
    camera: Annotated[
        str,
        typer.Option(
            "--camera",
            metavar="MODE",
            rich_help_panel=EVALUATE_PANEL,
            help="any (the default stream, moving and still, without hand-held shake whatever --handheld the run "
            "trained with), moving (blur to remove), still (almost still), handheld (hand-held shake that turns "
            "frame to frame) or stabilized (that shake stabilised: blurred frames that hardly move).",
        ),
    ] = "any",
    sharp_input: Annotated[
        bool,
        typer.Option(
            "--sharp-input",
            metavar="",
            rich_help_panel=EVALUATE_PANEL,
            help="Feed the sharp clips (how much a model alters sharp footage).",
        ),
    ] = False,
    videos: Annotated[
        bool,
        typer.Option(
            "--videos",
            metavar="",
            rich_help_panel=EVALUATE_PANEL,
            help="Clips from the held-out real video instead of photos.",
        ),
    ] = False,
    sample: Annotated[
        Optional[Path],
        typer.Option(
            "--sample", metavar="FILE", rich_help_panel=EVALUATE_PANEL, help="Write input | output | sharp as a PNG."
        ),
    ] = None,
    weights: Annotated[
        Optional[Path],
        typer.Option(
            "--weights",
            metavar="FILE",
            rich_help_panel=EVALUATE_PANEL,
            help="This weights file instead of the run's EMA.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", "-f", metavar="", rich_help_panel=EVALUATE_PANEL, help="Replace an existing --sample file."
        ),
    ] = False,
    ddim_steps: Annotated[
        Optional[int],
        typer.Option(
            "--ddim-steps",
            metavar="N",
            rich_help_panel=EVALUATE_PANEL,
            min=1,
            max=1000,
            help="DDIM steps of a diffusion model (default 10).",
        ),
    ] = None,
) -> None:
    """Train on clips synthesised on the fly: [bold]deblur train -m dstnet-s --sources cache -o runs/s[/]."""
    if sources is not None and not sources.is_dir():
        raise sources_not_a_folder(sources, "create it with `deblur synth --fetch`")
    if not evaluate_only and (stray := given_options(ctx, EVALUATION_ONLY)):
        raise UsageError(f"{', '.join(stray)} {'applies' if len(stray) == 1 else 'apply'} with --evaluate only")
    if evaluate_only and (stray := given_options(ctx, TRAINING_ONLY)):
        raise UsageError(
            f"{', '.join(stray)} {'applies' if len(stray) == 1 else 'apply'} to training, not to --evaluate",
            hint="drop it to evaluate" if len(stray) == 1 else "drop them to evaluate",
        )
    if out_dir is None and evaluate_only and weights is None:
        raise UsageError("--evaluate needs a run folder (--out) or a weights file (--weights)")
    if out_dir is None and not evaluate_only:
        raise UsageError("--out is required: the run folder", hint="deblur train -m dstnet-s --sources CACHE -o runs/s")
    size = parse_size(val_size, "--val-size", minimum=SMALLEST_VALIDATION)  # now, not at the first validation
    # before any work: torch's allocator would fail at the first clip, an "internal error"
    check_synthesis_memory(frames, *size, size_option="--val-size")
    if not evaluate_only:
        check_synthesis_memory(frames, crop, crop, size_option="--crop")
    # Modules that import torch: here, not at the top (see cli/__init__.py).
    import torch

    from deblur_cli.train import train
    from deblur_cli.train_evaluate import evaluate
    from deblur_cli.train_state import CHECKPOINT

    if evaluate_only:
        if threads:
            torch.set_num_threads(threads)
        figures = evaluate(
            out_dir, size=size, clips=val_clips, frames=frames, shake_only=shake_only,
            camera=camera, sharp_input=sharp_input, videos=videos, sources=sources, sample=sample, weights=weights,
            ddim_steps=ddim_steps, force=force, warn=warn,
        )  # fmt: skip
        _print_figures(figures)
        return
    config = TrainConfig(
        model=model, crop=crop, frames=frames, batch=batch, steps=steps, lr=lr, warmup=warmup, ema=ema, seed=seed,
        sources=str(sources) if sources else None, workers=workers, gpu_synthesis=gpu_synthesis, echo=echo,
        handheld=handheld, stabilized=stabilized, clean_share=clean_share, val_every=val_every,
        val_size=size, val_clips=val_clips, save_every=save_every, precision=precision, init=init,
        prior=prior, threads=threads,
    )  # fmt: skip

    done: list[int] = []  # the last step finished, and the run's steps

    def report(p: Progress) -> None:
        first = not done  # this command's first step: a run continued says where it was
        done[:] = [p.step, p.steps]
        if first and p.step > 1 and not quiet:
            note(f"continuing the run in {out_dir} after step {p.step - 1} of {p.steps}")
        if not quiet and (p.step % 10 == 0 or first or p.validation):  # the loss on a validation step too
            line = f"step {p.step}/{p.steps}  loss {p.loss:.4f}  lr {p.lr:.2e}  {p.seconds_per_step:.2f} s/step"
            err.print(line, highlight=False)
        if p.validation:
            v = p.validation
            err.print(
                f"step {p.step}/{p.steps}  val PSNR {v['psnr']:.2f} dB (input {v['psnr_in']:.2f})  "
                f"SSIM {v['ssim']:.4f} (input {v['ssim_in']:.4f})",
                highlight=False,
            )

    def asked_to_stop(signum: int) -> None:  # a scheduler's SIGTERM has no Ctrl-C to press again
        again = "press Ctrl-C again" if signum == signal.SIGINT else f"send {signal.Signals(signum).name} again"
        note(f"stopping after this step, keeping every step done ({again} to stop at once)")

    # on --resume, what the command line does not set keeps the run's value (fields that are no option: None)
    set_here = frozenset(f.name for f in fields(TrainConfig) if given(ctx, f.name))
    with stop_after_step(asked_to_stop) as signalled:
        try:
            result = train(
                config, out_dir, resume=resume, until=until, callback=report, should_stop=signalled, given=set_here,
                warn=warn, note=None if quiet else note,
            )  # fmt: skip
        except KeyboardInterrupt:  # the second request (Terminated is one too): stopped in mid-step
            if signalled():
                _say_what_is_kept(out_dir / CHECKPOINT)
            raise
    if (signum := signalled()) and not result.reached:  # a request during the last step: the run is complete
        if result.main:
            note(f"stopped after step {done[0] if done else 0}, saved in {out_dir}: the same command with --resume continues")
        raise stopped(signum)
    if not result.main:  # under torchrun, rank 0 alone prints the run's result
        return
    if done and done[0] < done[1]:  # an --until piece: nothing else would say the run goes on
        note(f"stopped after step {done[0]} of {done[1]} (--until): --resume with a higher --until, or none, continues")
    out.print(str(result.weights))
    if result.validation:
        _print_figures(result.validation)


def _say_what_is_kept(checkpoint: Path) -> None:
    """After a run stopped at once: what --resume would continue from, if anything."""
    if checkpoint.exists():
        note(
            f"stopped at once: {checkpoint} keeps the run as of its last checkpoint (the steps since are lost): "
            "the same command with --resume continues from it"
        )
    else:
        note("stopped at once, before the run's first checkpoint: nothing was saved (the same command starts it over)")


def _print_figures(v: dict[str, float]) -> None:
    out.print(
        f"PSNR {v['psnr']:.2f} dB (input {v['psnr_in']:.2f}, gain {v['psnr'] - v['psnr_in']:+.2f})  "
        f"SSIM {v['ssim']:.4f} (input {v['ssim_in']:.4f})",
        highlight=False,
    )
