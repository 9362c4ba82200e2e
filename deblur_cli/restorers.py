"""Build a Restorer (see restorer.py) from a model name, weights and device options."""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import torch

from deblur_cli.callbacks import ProgressFn
from deblur_cli.devices import precision_warning, resolve_device, resolve_dtype
from deblur_cli.diffusion import DiffusionConfig, sample
from deblur_cli.model_specs import check_sampling, model_spec
from deblur_cli.models.compiling import Compiled
from deblur_cli.models.dstnet import MULTIPLE
from deblur_cli.restorer import ModelFacts, Restorer
from deblur_cli.run_options import check_restorer
from deblur_cli.tiles import Region, TileGrid, blend_tiles, restore_each_tile
from deblur_cli.wording import said_once

if TYPE_CHECKING:
    from deblur_cli.weights import ResolvedWeights, WeightsEntry
    from deblur_cli.windows import WindowOptions


class DSTNetRestorer(Restorer):
    """Runs a DSTNet over a window; deterministic. on_step(done, total) hears how far a window is: the steps of the
    network's two propagations (DSTNet.forward's callback), over all its tiles where it is restored in tiles. No
    frame comes out before the whole window is restored, which for 4K frames on a CPU takes minutes."""

    multiple = MULTIPLE
    max_frames = None

    def __init__(
        self, model: torch.nn.Module, device: torch.device, dtype: torch.dtype, *, on_step: ProgressFn | None = None
    ):
        self.model = model.to(device=device, dtype=dtype).eval()
        self.device = device
        self.dtype = dtype
        self.on_step = on_step
        self._tile = (0, 1)  # the tile the next call restores, of how many (tile_begun)
        # Peak working memory measured on the CPU in float32: about 140 B (feat 32) and 170 B (feat 64)
        # per pixel and frame of a window; 1.5 × feat × element size keeps a margin over both.
        self.bytes_per_pixel = 1.5 * model.config.feat * torch.finfo(dtype).bits / 8

    def compile(self, warn: Callable[[str], None] | None = None) -> bool:
        """Run the recurrence steps of both propagation directions, most of the time a window takes,
        through torch.compile (`deblur run --compile`): their gates, activations and bias additions fused.
        The first windows of each shape pay the compiling. Uncompiled, after a warning, where it fails.
        False where torch.compile refused at once (an unsupported Python): nothing will be compiled."""
        warn = said_once(warn)
        steps = []
        for propagation in (self.model.forward_propagation, self.model.backward_propagation):
            propagation.step = step = Compiled(propagation.step, warn)
            steps.append(step)
        return any(step.compiled is not None for step in steps)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: (T, 3, H, W) float in [0, 1], H and W multiples of `multiple`; returns the same shape."""
        return self.restore_batch(frames.unsqueeze(0)).squeeze(0)

    def restore_batch(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: (B, T, 3, H, W), B windows restored independently in one call; the same shape.

        In a coarser dtype than the frames' (bf16, fp16), the network's reconstruction is added to the
        frames as they came: a bf16 sum would round every output to 8 significant bits (steps of
        1/256 above 0.5, four levels of 10-bit video), the input's own precision lost with it."""
        (tile, tiles), self._tile = self._tile, (0, 1)  # told again before each tile
        on_step = self.on_step
        if on_step is not None and tiles > 1:  # the steps of the tiles before this one, then this one's
            steps = 2 * frames.shape[1]  # both propagations over the window's frames
            on_step = functools.partial(_over_tiles, self.on_step, before=tile * steps, total=tiles * steps)
        with torch.inference_mode():
            if torch.finfo(self.dtype).bits >= torch.finfo(frames.dtype).bits:
                return self.model(frames.to(self.dtype), callback=on_step).clamp_(0, 1).to(frames.dtype)
            residual = self.model(frames.to(self.dtype), add_input=False, callback=on_step)
            return residual.to(frames.dtype).add_(frames).clamp_(0, 1)

    def tile_begun(self, index: int, count: int) -> None:
        """The next call restores tile `index` of a window's `count` tiles (restorer.py): on_step counts the
        propagation steps of all the tiles, one tile after another."""
        self._tile = (index, count)


def _over_tiles(on_step: ProgressFn, done: int, _steps: int, *, before: int, total: int) -> None:
    """A tile's network steps told to `on_step` as steps of its window: after the `before` steps of the tiles
    restored already, of `total`."""
    on_step(before + done, total)


class DiffusionRestorer(Restorer):
    """Samples a WTSA diffusion model with DDIM, conditioned on the blurry window or, when the model
    has a `prior` (the "residual" condition), on that DSTNet's estimate, which the samples correct.
    Positional: each frame's noise is drawn from the seed and the frame's index in the video."""

    positional = True

    def __init__(
        self,
        model: torch.nn.Module,
        diffusion: DiffusionConfig,
        device: torch.device,
        dtype: torch.dtype,
        *,
        steps: int,
        eta: float,
        samples: int,
        seed: int | None,
        on_step: ProgressFn | None = None,
        prior: torch.nn.Module | None = None,
    ):
        self.model = model.to(device=device, dtype=dtype).eval()
        self.diffusion = diffusion
        self.prior = None if prior is None else DSTNetRestorer(prior, device, dtype)
        self.device = device
        self.dtype = dtype
        self.multiple = _multiple(model.multiple, prior is not None)
        self.max_frames = model.max_frames
        # a longer window is restored, with positions it never learned (a stand-in network says nothing)
        self.learned_frames = model.learned_frames() if hasattr(model, "learned_frames") else None
        # Measured on the CPU in float32 for wtsa-s (32 base channels): 1.6-2.8 kB per pixel and frame.
        self.bytes_per_pixel = 24 * model.config.channels[0] * torch.finfo(dtype).bits / 8
        if self.prior is not None:  # the prior runs first, then frees its memory
            self.bytes_per_pixel = max(self.bytes_per_pixel, self.prior.bytes_per_pixel)
        # In tiles the sampler's state is the whole window's: the padded condition, its network input,
        # the sum of the samples, x_t and a step's float32 temporaries. Peak RSS on the CPU, tiles of 64 px
        # over 8 frames of 640x360, grew by 180-230 B per pixel and frame for K = 1, 2 and 4, when the K
        # starting noises were drawn up front; each sample draws its own now, so this errs high for K > 1.
        self.tiled_bytes_per_pixel = 4 * 3 * (16 + samples)
        self.steps, self.eta, self.samples = steps, eta, samples
        self.on_step = on_step
        self.seed = seed  # with a frame's index, fixes its noise (diffusion/noise.py)

    def compile(self, warn: Callable[[str], None] | None = None) -> bool:
        """Run the network (called once per DDIM step) and the prior through torch.compile (`deblur run
        --compile`); see DSTNetRestorer.compile."""
        warn = said_once(warn)
        self.model.forward = network = Compiled(self.model.forward, warn)
        prior = self.prior is not None and self.prior.compile(warn)
        return network.compiled is not None or prior

    def __call__(self, frames: torch.Tensor, first_frame: int = 0) -> torch.Tensor:
        """frames: (T, 3, H, W) float in [0, 1], frames `first_frame`, `first_frame` + 1, ... of a video;
        returns the same shape (the mean of `samples` samples)."""
        return self.restore_batch(frames.unsqueeze(0), [first_frame]).squeeze(0)

    def restore_batch(self, frames: torch.Tensor, first_frames: Sequence[int] | None = None) -> torch.Tensor:
        """frames: (B, T, 3, H, W), B windows restored in one pass of the sampler, each as a call of its
        own would restore it, noise included; first_frames: where each window starts in the video
        (default 0). Returns the same shape."""
        cond = frames if self.prior is None else self.prior.restore_batch(frames)
        return self._sample_given(cond, self.model, first_frames).to(frames.dtype)

    def restore_in_tiles(
        self, frames: torch.Tensor, grid: TileGrid, first_frames: Sequence[int] | None = None
    ) -> torch.Tensor:
        """frames: (B, T, 3, H, W) padded to `multiple`; returns the same shape, sampled as a whole
        with the network run tile by tile (the prior too): at every DDIM step each tile's output is
        blended over the overlaps, and the sampler's state and noise are the whole frame's. So
        neighbouring tiles never drift into different samples, and the noise, drawn for the whole
        frame, is the same whatever the tiles. first_frames as restore_batch takes them."""
        cond = frames
        if self.prior is not None:
            cond = restore_each_tile(frames, grid, self.prior.restore_batch)
        return self._sample_given(cond, _InTiles(self.model, grid), first_frames).to(frames.dtype)

    def _sample_given(
        self, cond: torch.Tensor, model: Callable[..., torch.Tensor], first_frames: Sequence[int] | None
    ) -> torch.Tensor:
        with torch.inference_mode():
            out = sample(
                model,
                cond,  # as given (float32): the estimate a correction is added to keeps its precision
                steps=self.steps,
                eta=self.eta,
                seed=self.seed,
                first_frames=first_frames,
                samples=self.samples,
                callback=self.on_step,
                diffusion=self.diffusion,
                dtype=self.dtype,
            )
            return out.clamp_(0, 1)


def keeps_freed_memory(restorer: Restorer) -> bool:
    """Whether glibc's keeping of freed memory (`host_memory.keep_freed_memory`, a setting of the whole process)
    was measured to help `restorer`: DSTNet on the CPU (`deblur run` of dstnet-s at 720p, docs/dstnet.md): on a
    2-core AVX2 EPYC in float32 about 30% less wall time; on an AVX512-BF16 EPYC in bf16, huge pages off, kernel
    time from 7.5 to 0.95 s and 12% less peak memory. bf16 with huge pages on (the command's choice on AMX CPUs)
    was not measured, nor GPUs and the diffusion models: they keep glibc's default."""
    if not isinstance(restorer, DSTNetRestorer) or restorer.device.type != "cpu":
        return False
    return restorer.dtype == torch.float32 or os.environ.get("THP_MEM_ALLOC_ENABLE") != "1"


def _multiple(network: int, prior: bool) -> int:
    """What a diffusion restorer's frames must be multiples of: its network's `multiple`, and its prior's."""
    return math.lcm(network, DSTNetRestorer.multiple) if prior else network


class _InTiles:
    """A diffusion network run tile by tile over the whole frame, its outputs blended (tiles.py)."""

    def __init__(self, model: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], grid: TileGrid):
        self.model, self.grid = model, grid

    def __call__(self, x_t: torch.Tensor, cond: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        def tile(region: Region) -> torch.Tensor:
            rows, cols = region
            return self.model(x_t[..., rows, cols], cond[..., rows, cols], t)

        return blend_tiles(self.grid, tile)


@dataclass(frozen=True)
class ModelOptions:
    """How a model is built: its weights, where and in what precision it runs, how a diffusion model samples."""

    weights: str | Path | None = None  # a file or registry entry; None: the model's own (cache, bundled, download)
    device: str = "auto"  # auto, cpu, cuda, cuda:N or mps
    precision: str = "auto"  # auto, fp32, fp16 or bf16
    steps: int = 20  # DDIM steps (diffusion models)
    eta: float = 0.0  # DDIM noise: 0 deterministic, 1 DDPM-like (diffusion models)
    seed: int | None = 0  # of the sampler's noise; None: unseeded (diffusion models)
    samples: int = 1  # samples averaged per window (diffusion models)
    compile: bool = False  # run the network through torch.compile
    cache_dir: Path | None = None  # the weights cache; None: the default one
    offline: bool | None = None  # never download; None: as HF_HUB_OFFLINE says


def build_restorer(
    name: str,
    options: ModelOptions = ModelOptions(),
    *,
    on_step: ProgressFn | None = None,
    warn: Callable[[str], None] | None = None,
    on_fetch: Callable[[WeightsEntry], None] | None = None,
    fetch_progress: Callable[[int, int], None] | None = None,
) -> Restorer:
    """A ready Restorer for model `name` ("dstnet", "dstnet-s", "wtsa", "wtsa-s"), built as `options` say.

    Weights come from `options.weights` if given, else the cache, the bundled files, or a download
    (see weights/resolve.py; `warn(line)` hears what it says, `on_fetch(entry)` that a download
    starts, `fetch_progress(done_bytes, total_bytes)` how it goes). `steps`, `eta`, `samples` and
    `seed` apply to diffusion models. `on_step(done, total)` hears how far the window under way is: a diffusion
    model's sampler steps, a DSTNet's propagation steps (over all its tiles). `compile` runs the network through
    torch.compile (the restorers' compile(): warn hears it if that fails).
    """
    spec = model_spec(name)
    torch_device, dtype = _device_and_dtype(options, warn)
    resolved = _resolved(name, options, warn, on_fetch, fetch_progress)
    path = resolved.path
    identity = {
        "model": name,
        # the file (earlier releases added its size and time, which WorkFolder leaves out of its comparison):
        # weights fetched or written again with the same bytes are the same weights, and kept work stays usable
        "weights": [str(Path(path).absolute())],
        "weights_sha256": resolved.sha256(),  # what the weights are, wherever they lie
        "device": torch_device.type,
        "dtype": str(dtype),
    }
    restorer: DSTNetRestorer | DiffusionRestorer
    if spec.architecture == "dstnet":
        from deblur_cli.dstnet_weights import load_dstnet

        restorer = DSTNetRestorer(load_dstnet(path), torch_device, dtype, on_step=on_step)
    else:
        from deblur_cli.wtsa_weights import load_wtsa

        model, diffusion, prior = load_wtsa(path, variant=name)
        restorer = DiffusionRestorer(
            model, diffusion, torch_device, dtype,
            steps=options.steps, eta=options.eta, samples=options.samples, seed=options.seed,
            on_step=on_step, prior=prior,
        )  # fmt: skip
        identity.update(steps=options.steps, eta=options.eta, samples=options.samples, seed=options.seed)
        # a marker no option sets: each frame's noise is drawn from the seed and its index, so work kept by a
        # release that drew it otherwise is discarded, not continued
        identity["noise"] = "by frame"
    if options.compile and restorer.compile(warn):
        identity["compiled"] = True  # fused kernels round differently
    restorer.identity = identity
    return restorer


def load_checked(
    name: str,
    options: ModelOptions,
    windows: WindowOptions,
    notes: Iterable[str | None] = (),
    *,
    named: bool = True,
    build: Callable[[str, ModelOptions], Restorer] = build_restorer,
) -> tuple[Restorer, list[str]]:
    """Model `name` built as `options` say, by `build` (build_restorer, or the command line's with its download
    bar), and what `deblur run` says of it, in its order: that the weights hold another size of model than `name`
    (where the name was `named`, not chosen as auto), then `notes` (the caller's on its option values: said once the
    weights are known to load; None for none), then check_restorer's on `windows` (UsageError for windows or tiles
    the model refuses)."""
    from deblur_cli.held_weights import runs_under

    restorer = build(name, options)
    said = [runs_under(name, options.weights) if named else None, *notes]
    compiled = bool((restorer.identity or {}).get("compiled"))
    said += check_restorer(restorer, name, windows, compiled=compiled)
    return restorer, [line for line in said if line]


def describe_restorer(
    name: str,
    options: ModelOptions = ModelOptions(),
    *,
    warn: Callable[[str], None] | None = None,
    on_fetch: Callable[[WeightsEntry], None] | None = None,
    fetch_progress: Callable[[int, int], None] | None = None,
) -> ModelFacts:
    """What `run_options.check_restorer` reads of the restorer `build_restorer(name, options)` builds, found
    without building it, after the same checks of `options` and with the same warnings. Its weights are
    resolved as `build_restorer` resolves them (fetched where they must be). A DSTNet's facts are its
    architecture's, after the checks loading makes of the file (WeightsError for a file that does not fit,
    `dstnet_weights.check_dstnet`). A WTSA model's are read from its weights: their config, and the positional
    tables that say how many frames they learned."""
    spec = model_spec(name)
    torch_device, _ = _device_and_dtype(options, warn)
    path = _resolved(name, options, warn, on_fetch, fetch_progress).path
    if spec.architecture == "dstnet":
        from deblur_cli.dstnet_weights import check_dstnet

        check_dstnet(path)
        return ModelFacts(DSTNetRestorer.multiple, DSTNetRestorer.max_frames, None, True, torch_device)
    from deblur_cli.wtsa_weights import read_facts

    config, prior, learned = read_facts(path, variant=name)
    return ModelFacts(_multiple(config.multiple, prior), config.max_frames, learned, True, torch_device)


def _resolved(
    name: str,
    options: ModelOptions,
    warn: Callable[[str], None] | None,
    on_fetch: Callable[[WeightsEntry], None] | None,
    fetch_progress: Callable[[int, int], None] | None,
) -> ResolvedWeights:
    """Model `name`'s weights as `options` ask for them (weights/resolve.py), fetched where they must be."""
    from deblur_cli.weights import resolve_weights

    return resolve_weights(
        name, weights=options.weights, cache_dir=options.cache_dir, offline=options.offline, warn=warn,
        on_fetch=on_fetch, progress=fetch_progress,
    )  # fmt: skip


def _device_and_dtype(options: ModelOptions, warn: Callable[[str], None] | None) -> tuple[torch.device, torch.dtype]:
    """The device and dtype `options` ask for, after UsageError for sampling options the command line refuses
    (model_specs.check_sampling); `warn` hears of a precision the device emulates."""
    check_sampling(options.steps, options.eta, options.samples, options.seed)
    torch_device = resolve_device(options.device)
    dtype = resolve_dtype(options.precision, torch_device)
    slow = precision_warning(dtype, torch_device)
    if slow and warn is not None:
        warn(slow)
    return torch_device, dtype
