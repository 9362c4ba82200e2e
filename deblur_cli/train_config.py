"""What defines a training run (`deblur train`): plain data, no torch, so that the command line lists
its options without loading PyTorch (train.py runs it)."""

from __future__ import annotations

from dataclasses import dataclass

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; stored in every checkpoint."""

    model: str = "dstnet-s"  # a name in TASKS
    crop: int = 128  # px, square training crops
    frames: int = 5  # frames per training clip
    batch: int = 4  # clips per step and process
    steps: int = 20000  # optimiser steps in the whole run (the cosine schedule spans them)
    lr: float = 2e-4  # peak learning rate
    min_lr: float = 1e-6  # learning rate at the end of the cosine
    warmup: int = 300  # steps of linear warm-up
    weight_decay: float = 1e-4  # AdamW, on weights of 2+ dims only, not on the tables models name in no_weight_decay
    decay_tables: bool = False  # those tables decayed too: runs begun before they went undecayed (2026-12-07)
    grad_clip: float = 0.5  # max global gradient norm (dynamic filters diverge without it)
    ema: float = 0.999  # EMA decay of the weights used for validation and export
    fft_weight: float = 0.1  # weight of the L1 loss on 2-D spectra (DSTNet's recipe)
    seed: int = 0  # data stream and initialisation
    sources: str | None = None  # photo cache (deblur synth --fetch); None: procedural scenes only
    workers: int = 0  # data-loader processes (0: synthesise in the training process)
    gpu_synthesis: bool = False  # render training clips on the training GPU, in the training process
    echo: int = 1  # steps per synthesised batch: reuses are flipped, transposed or time-reversed views of it
    handheld: float = 0.0  # share of moving camera paths that are hand-held shake (motion.handheld_path)
    stabilized: float = 0.0  # share of moving camera paths that are such shake, stabilised (CameraPath.stabilized)
    clean_share: float = 0.1  # share of clips without noise and compression (synth.CLEAN_SHARE, its default)
    val_every: int = 500  # steps between validations
    val_clips: int = 8  # held-out clips per validation
    val_size: tuple[int, int] = (256, 256)  # (W, H) of validation clips
    save_every: int = 200  # steps between checkpoints
    precision: str = "auto"  # auto: train.chosen_precision (bf16 where native, fp16 on older GPUs); fp32, bf16, fp16
    threads: int | None = None  # CPU threads of torch (torch.set_num_threads); None: torch's default, all cores
    init: str | None = None  # weights file to start from (fine-tuning); None: random initialisation
    prior: str | None = None  # diffusion only: a DSTNet (weights file or model name) whose estimate the model corrects
    prior_sha256: str | None = None  # of the file `prior` named when the run began: a resume refuses another
