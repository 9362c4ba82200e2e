"""deblur from Python: a model loaded once (`load`), restoring frames held in memory as `deblur run`
restores a video's: overlapping temporal windows blended, tiles where memory asks for them, windows split
at scene cuts, grey frames kept grey.

    import deblur_cli
    model = deblur_cli.load("dstnet-s")          # its weights: bundled, cached or downloaded
    sharp = model.restore(frames)                # (T, 3, H, W) torch or (T, H, W, 3) NumPy, all in memory
    for frame in model.restore_iter(reader):     # or one frame at a time, for long videos
        ...

Frames are torch tensors (3, H, W), float in [0, 1], uint8 (0 to 255) or uint16, on any device, and come
back float32 in [0, 1] on the device they came from; or NumPy arrays (H, W, 3) (RGB, as PyAV and imageio give
them; OpenCV's are BGR) uint8, uint16 or float in [0, 1], which come back with the same dtype (float32 for
floats), rounded to the nearest level. Frames are display-referred SDR (BT.709/sRGB-like), as the models
learned; `deblur run` maps PQ and HLG video onto that curve and back itself. Frames it does not take raise
errors.FrameError (a ValueError too: a shape, values) or errors.FrameTypeError (a TypeError: a type, a dtype).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
import sys
import warnings
from pathlib import Path
from typing import Callable, Iterable, Iterator, ParamSpec, Union, overload

import numpy as np
import torch

from deblur_cli import cpu_share
from deblur_cli.errors import DeblurError, FrameError, FrameTypeError, UsageError
from deblur_cli.levels import as_float, to_compact_tensor, to_image
from deblur_cli.mix import STRENGTH_HINT, Mix
from deblur_cli.model_specs import check_sampling
from deblur_cli.restorer import Restorer, completed
from deblur_cli.run_options import sampling_note, window_options
from deblur_cli.stream import restore_stream
from deblur_cli.windows import WindowOptions

Frame = Union[torch.Tensor, np.ndarray]


class DeblurWarning(UserWarning):
    """What `deblur run` would print as a warning: slow precision on this device, options that do nothing
    (sampling options for a DSTNet, tile_overlap without tiles, batch for a model that restores one window
    per call), what finding the weights says, out-of-memory retries."""


class Deblurrer:
    """A loaded model (`load`), how it cuts frames into windows and tiles, and what the restored frames keep of
    the restoration (`mix`): how much (`strength`, as `deblur run --strength`), and where they keep the input
    instead, what stands still (`keep_still`, as `--keep-still`) and fine texture (`keep_detail`, as
    `--keep-detail`)."""

    def __init__(self, name: str, restorer: Restorer, windows: WindowOptions, mix: Mix = Mix()):
        self.name, self.restorer, self.windows, self.mix = name, completed(restorer), windows, mix

    @property
    def strength(self) -> float:
        """How much of the restoration each frame keeps over its input, 0 to 1 (`load(strength=0.5)`)."""
        return self.mix.strength

    @property
    def keep_still(self) -> bool:
        """Whether each window keeps its input where it stands still (`load(keep_still=True)`)."""
        return self.mix.keep_still

    @property
    def keep_detail(self) -> bool:
        """Whether each window keeps its input's fine texture where the restoration smoothed it."""
        return self.mix.keep_detail

    @property
    def device(self) -> torch.device:
        """Where the model runs; frames are moved there a window at a time, and back."""
        return self.restorer.device

    def __repr__(self) -> str:
        w = self.windows
        return (
            f"Deblurrer({self.name!r}, device={self.device}, window={w.window}, overlap={w.overlap}, tile={w.tile!r})"
        )

    @overload
    def restore(self, frames: torch.Tensor) -> torch.Tensor: ...
    @overload
    def restore(self, frames: np.ndarray) -> np.ndarray: ...
    def restore(self, frames: Frame) -> Frame:
        """All of a clip's frames at once: a tensor (T, 3, H, W) or an array (T, H, W, 3), restored into
        the same layout (see the module's docstring for dtypes and devices). A diffusion model draws its
        noise afresh from its seed at each call: the same frames give the same result."""
        with _python_errors():
            if not isinstance(frames, (torch.Tensor, np.ndarray)) or frames.ndim != 4:
                error = FrameError if isinstance(frames, (torch.Tensor, np.ndarray)) else FrameTypeError
                raise error(
                    f"restore takes a clip, (T, 3, H, W) torch or (T, H, W, 3) NumPy, got {_described(frames)}",
                    hint=_clip_hint(frames),
                )
            if len(frames):
                first = frames[0]
            elif isinstance(frames, torch.Tensor):  # no frames: checked as a frame of their shape would be
                first = frames.new_zeros(frames.shape[1:])
            else:
                first = np.zeros(frames.shape[1:], frames.dtype)
            kind = _Kind(first, clip=tuple(frames.shape))
            restored = None  # the output, filled as frames come out: never held twice (a list, then its stack)
            for index, frame in enumerate(self._restored(kind, iter(frames))):
                if restored is None:  # made after the first windows: "auto" tiles were sized to the memory before it
                    restored = kind.empty(len(frames))
                restored[index] = frame
            return kind.empty(0) if restored is None else restored

    @overload
    def restore_iter(self, frames: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]: ...
    @overload
    def restore_iter(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]: ...
    def restore_iter(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """Each of `frames`, restored, in order and lazily: (3, H, W) tensors or (H, W, 3) arrays, all of
        one kind and size. Frames are read up to two windows ahead of the frames that come out (where
        the stream ends decides how its last windows are cut), so a long video is never in memory whole."""
        with _python_errors():
            if _is_one_frame(frames):
                raise FrameError(
                    f"restore_iter takes an iterable of frames, got one frame, {_described(frames)}",
                    hint="give [frame], or restore(frame[None]) for a clip of one",
                )
            try:
                frames = iter(frames)
            except TypeError:
                raise FrameTypeError(f"restore_iter takes an iterable of frames, got {_described(frames)}") from None
            first = next(frames, _END)
            if first is _END:
                return
            yield from self._restored(_Kind(first), itertools.chain([first], frames))

    def _restored(self, kind: _Kind, frames: Iterator[Frame]) -> Iterator[Frame]:
        """`frames`, all like `kind`, restored, as `kind`."""
        grad = torch.is_grad_enabled()  # the caller's

        def given() -> Iterator[torch.Tensor]:
            """The frames as restore_stream takes them. It pulls them under inference mode; the caller's code
            that makes each one runs as the caller left it (its tensors would be inference tensors otherwise)."""
            for index in itertools.count():
                with torch.inference_mode(False), torch.set_grad_enabled(grad):
                    frame = next(frames, _END)
                if frame is _END:
                    return
                yield kind.tensor(frame, index)

        def retried(what: str, message: str) -> None:  # out of memory: smaller tiles, or one window per call
            what_to_do = "load with a smaller tile" if what == "tile" else "load with a lower batch"
            _warn(f"{message.split(' (')[0]} ({what_to_do} to skip the retries)")

        stream = restore_stream(
            given(), self.restorer, self.windows, kind.size,
            mix=self.mix, on_retry=retried,
        )  # fmt: skip
        while True:
            with torch.inference_mode():  # around each step only: the caller's code between them is its own
                restored = next(stream, _END)
            if restored is _END:
                return
            yield kind.frame(as_float(restored))  # at strength 0 the input as given: uint8 frames stay uint8


@contextlib.contextmanager
def _python_errors(given: dict[str, str] | None = None) -> Iterator[None]:
    """A DeblurError leaving the library in load's terms where it named deblur run's options (--window:
    window=..., as the out-of-memory error of restore does; `given`: load's arguments, as _python_terms takes
    them), with its hint as a note (PEP 678), which a traceback shows: a script's or notebook's uncaught error
    says what to do, not only what went wrong. Python 3.10 has no notes: there the hint stays the attribute
    alone. The CLI prints the hint itself and never the notes."""
    try:
        yield
    except DeblurError as e:
        e.args = (_python_terms(str(e), given), *e.args[1:])
        if e.hint:
            e.hint = _python_terms(e.hint, given)
        note = f"hint: {e.hint}"
        if e.hint and hasattr(e, "add_note") and note not in getattr(e, "__notes__", ()):
            e.add_note(note)
        raise


P = ParamSpec("P")


def _in_python_terms(load: Callable[P, Deblurrer]) -> Callable[P, Deblurrer]:
    """`load`, whose errors name its arguments where they named deblur run's options (--device cpu:
    device="cpu"), in their messages and hints (the hint shown in a traceback too); commands in backquotes
    are left as they are. Its signature stays load's, for type checkers and editors."""

    @functools.wraps(load)
    def loading(*args: P.args, **kwargs: P.kwargs) -> Deblurrer:
        with _python_errors({name: str(value) for name, value in kwargs.items()}):
            return load(*args, **kwargs)

    return loading


def _python_terms(text: str, given: dict[str, str] | None = None) -> str:
    """`text` with deblur run's options as load's arguments (--device cpu: device="cpu"), outside backquotes;
    `given`: the arguments load was called with, by name, as text."""
    parts = re.split(r"(`[^`]*`)", text)  # odd parts: `commands`
    argument = functools.partial(_argument, given=given or {})
    return "".join(part if i % 2 else _FLAG.sub(argument, part) for i, part in enumerate(parts))


# --option and the word after it, if any, not the punctuation after that (_argument tells whether it is a value)
_FLAG = re.compile(r"--([a-z][a-z-]*)(?: ([\w:./~=-]*[\w/]))?")


# deblur run's flags, as load's yes-or-no arguments
_SWITCHES = {"compile": "compile=True", "offline": "offline=True", "no_scene_cuts": "scene_cuts=False"}


def _argument(flag: re.Match, given: dict[str, str]) -> str:
    """An option as an argument: --device cpu -> device="cpu", --tile 64 -> tile=64, --compile -> compile=True,
    --weights -> weights=...; a word after it that is no value stays a word (--weights takes a file ->
    weights=... takes a file)."""
    name, word = flag[1].replace("-", "_"), flag[2]
    if name in _SWITCHES:
        return _SWITCHES[name] + ("" if word is None else f" {word}")
    if word is None or not _is_value(word, given.get(name)):
        return f"{name}=..." + ("" if word is None else f" {word}")
    return f"{name}={word}" if word == "FILE" or _is_number(word) else f'{name}="{word}"'


def _is_value(word: str, given: str | None) -> bool:
    """Whether the word after an option is its value: what the caller gave, a number, a path or device (cuda:0), or
    a name of a model, weights, device or precision; not the English around it (--overlap smaller than ...)."""
    if word in (given, "FILE") or _is_number(word) or any(mark in word for mark in ":/.~="):
        return True
    return word in _names()


def _is_number(word: str) -> bool:
    """Whether a word is a number as Python writes one (-1, 0.5, inf), which an argument shows unquoted."""
    try:
        float(word)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    """The names load's arguments take: models, registered weights, devices, precisions."""
    from deblur_cli.devices import DEVICES, PRECISIONS
    from deblur_cli.model_specs import MODELS
    from deblur_cli.weights.registry import load_registry

    return frozenset([*MODELS, *load_registry().entries, *DEVICES, *PRECISIONS])


@_in_python_terms
def load(
    model: str = "auto",
    *,
    weights: str | Path | None = None,
    device: str | torch.device = "auto",
    precision: str | torch.dtype = "auto",
    steps: int = 20,
    eta: float = 0.0,
    seed: int | None = 0,
    samples: int = 1,
    window: int | None = None,
    overlap: int | None = None,
    tile: int | str | None = "auto",
    tile_overlap: int | None = None,
    batch: int = 1,
    scene_cuts: bool = True,
    strength: float = 1.0,
    keep_still: bool = False,
    keep_detail: bool = False,
    compile: bool = False,
    cache_dir: str | Path | None = None,
    offline: bool | None = None,
) -> Deblurrer:
    """A model ready to restore frames, with `deblur run`'s options and defaults (docs/cli.md): `model`
    "auto" (the best one with weights here, as `deblur run` picks), "dstnet", "dstnet-s", "wtsa" or
    "wtsa-s"; `weights` a file instead of the registered ones; `steps`, `eta`, `samples` and `seed` for the
    diffusion models; `window` and `overlap` in frames (None: the model's); `tile` a side in pixels, "auto"
    (from free memory), or None or 0 (whole frames); `batch` windows per model call; `strength` how much of the
    restoration each frame keeps, 0 to 1 (input + strength × (restored − input)); `keep_still` keeps the
    input where it stands still (still_regions.py), `keep_detail` its fine texture where the restoration smoothed
    it (kept_detail.py). Bad values raise
    deblur_cli.errors.UsageError (a DeblurError) saying which; warnings are DeblurWarning."""
    from deblur_cli.auto_model import choose_model
    from deblur_cli.devices import resolve_device
    from deblur_cli.restorers import ModelOptions, build_restorer, load_checked

    since = cpu_share.sample()

    for option, value, least in (("steps", steps, 1), ("batch", batch, 1), ("samples", samples, 1)):
        _integer(option, value, least)
    for option, value, least in (("window", window, 1), ("overlap", overlap, 0), ("tile_overlap", tile_overlap, 0)):
        if value is not None:
            _integer(option, value, least)
    if seed is not None:
        _integer("seed", seed, 0)
    scene_cuts, compile = _boolean("scene_cuts", scene_cuts), _boolean("compile", compile)
    keep_still, keep_detail = _boolean("keep_still", keep_still), _boolean("keep_detail", keep_detail)
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.integer, np.floating)):
        raise UsageError(f"strength must be a number from 0 to 1, got {strength!r}")
    if not 0 <= strength <= 1:
        raise UsageError(f"strength must be from 0 to 1, got {float(strength):g}", hint=STRENGTH_HINT)
    mix = Mix(float(strength), keep_still, keep_detail)
    offline = None if offline is None else _boolean("offline", offline, or_none=True)  # None: as HF_HUB_OFFLINE says
    if isinstance(eta, bool) or not isinstance(eta, (int, float, np.integer, np.floating)):
        raise UsageError(f"eta must be a number, got {eta!r}")
    check_sampling(steps, eta, samples, seed)  # as deblur run's options, before any model is looked for
    if not isinstance(model, str):
        raise UsageError(f'model must be a name ("auto", "dstnet-s", ...), got {model!r}')
    if weights is not None and not isinstance(weights, (str, Path)):
        raise UsageError(f"weights must be a path or a registered name, got {type(weights).__name__}")
    device, precision = _device_name(device), _precision_name(precision)
    cache_dir = _cache_folder(cache_dir)
    name = choose_model(model, device=resolve_device(device), weights=weights, cache_dir=cache_dir)
    windows, notes = window_options(
        name, window, overlap, tile, tile_overlap, batch, scene_cuts=scene_cuts, note_small_tiles=False
    )
    options = ModelOptions(
        weights=weights, device=device, precision=precision, steps=int(steps), eta=float(eta),
        seed=None if seed is None else int(seed), samples=int(samples), compile=compile,
        cache_dir=cache_dir, offline=offline,
    )  # fmt: skip
    ignored = sampling_note(name, steps, eta, samples)  # the seed left out, as load's warning always has
    restorer, said = load_checked(
        name, options, windows, [ignored, *notes], named=model != "auto",
        build=functools.partial(build_restorer, warn=_warn),
    )  # fmt: skip
    for line in said:
        _warn(line)
    if restorer.device.type == "cpu" and cpu_share.spinning_beside_others(since, cpu_share.sample()):
        _warn(_SPINNING)
    return Deblurrer(name, restorer, windows, mix)


# deblur run sets OMP_WAIT_POLICY itself where it finds its cores busy, before torch is imported (cpu_share)
_SPINNING = (
    "other programs are busy on this CPU, and torch's threads spin while they wait (libgomp's default): restoring"
    " here can take several times as long as deblur run, whose threads wait asleep; set OMP_WAIT_POLICY=PASSIVE"
    " in the environment before torch is imported (docs/python.md, Speed)"
)


def _warn(line: str) -> None:
    """A DeblurWarning shown at the caller's line (the first frame outside this package), in load's terms
    where it names deblur run's options (the bf16 warning's --precision auto)."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(_python_terms(line), DeblurWarning, stacklevel=level)


_PACKAGE = str(Path(__file__).resolve().parent)


def _integer(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise UsageError(f"{name} must be an integer of at least {least}, got {value!r}")


def _boolean(name: str, value: object, or_none: bool = False) -> bool:
    """A yes-or-no argument as a bool: True or False (NumPy's too), not any object Python reads as one ("no" is
    true); `or_none`: where None is taken too (the caller's to handle)."""
    if not isinstance(value, (bool, np.bool_)):
        raise UsageError(f"{name} must be True{', False or None' if or_none else ' or False'}, got {value!r}")
    return bool(value)


def _cache_folder(cache_dir: object) -> Path | None:
    """load's cache_dir as a Path, refused as deblur run refuses its --cache-dir: empty (an unset variable, which
    would make the current folder the cache) or naming a file."""
    if cache_dir is None:
        return None
    if not isinstance(cache_dir, (str, Path)):
        raise UsageError(f"cache_dir must be a folder's path or None, got {type(cache_dir).__name__}")
    if cache_dir == "":
        raise UsageError('cache_dir="" is empty', hint="name a folder, or leave cache_dir out for the default cache")
    if Path(cache_dir).expanduser().is_file():
        raise UsageError(
            f'cache_dir="{cache_dir}" is a file, not a folder', hint="name a folder (it is made if missing)"
        )
    return Path(cache_dir)


def _device_name(device: object) -> str:
    """load's device as resolve_device takes it: a name, or a torch.device (a tensor's .device)."""
    if isinstance(device, torch.device):
        return str(device)
    if not isinstance(device, str):
        raise UsageError(f'device must be a name ("auto", "cpu", "cuda:0", ...) or a torch.device, got {device!r}')
    return device


def _precision_name(precision: object) -> str:
    """load's precision as resolve_dtype takes it: a name, or a torch dtype (torch.bfloat16)."""
    from deblur_cli.devices import DTYPE_NAMES, PRECISIONS

    if isinstance(precision, torch.dtype) and precision in DTYPE_NAMES:
        return DTYPE_NAMES[precision]
    if not isinstance(precision, str):
        raise UsageError(
            f"precision must be one of auto, {', '.join(PRECISIONS)} or their torch dtypes, got {precision!r}"
        )
    return precision


_END = object()  # the end of a stream: None is a frame a reader failed to give, not the end


def _is_one_frame(frames: object) -> bool:
    """Whether `frames` is a single frame in the layout taken: (3, H, W) torch or (H, W, 3) NumPy."""
    if isinstance(frames, torch.Tensor):
        return frames.ndim == 3 and frames.shape[0] == 3
    return isinstance(frames, np.ndarray) and frames.ndim == 3 and frames.shape[-1] == 3


def _clip_hint(frames: object) -> str:
    """What to do with what restore was given instead of a clip: one frame, a grey clip (T, H, W), or a batch of
    clips (B, T, ...)."""
    stream = "for a stream of frames, use restore_iter"
    if isinstance(frames, (torch.Tensor, np.ndarray)) and frames.ndim == 5:
        return "a batch of clips: restore one clip at a time, [model.restore(clip) for clip in clips]"
    if not isinstance(frames, (torch.Tensor, np.ndarray)) or frames.ndim != 3:
        return stream
    if _is_one_frame(frames):
        return "for one frame, add a leading axis (frames[None]); " + stream
    if isinstance(frames, torch.Tensor):
        return "a grey clip (T, H, W): repeat it into three channels, frames[:, None].expand(-1, 3, -1, -1)"
    grey = "a grey clip (T, H, W): repeat it into three channels, np.repeat(frames[..., None], 3, axis=-1)"
    return grey + ("; one channels-first frame: frames.transpose(1, 2, 0)[None]" if frames.shape[0] == 3 else "")


def _described(frames: object) -> str:
    shape = getattr(frames, "shape", None)
    if shape is None:
        return type(frames).__name__
    return f"{type(frames).__name__} of shape {tuple(shape)} and dtype {frames.dtype}"


_NONE_HINT = "the reader gave no frame there (OpenCV's read() does so where decoding fails): stop or skip there"


class _Kind:
    """What the first frame of a stream is (torch or NumPy, dtype, device, size): every later frame must be
    the same, and the restored frames are given back as it. `clip`: the shape of the clip it came from
    (restore's), which errors about its layout quote, since that is what the caller gave."""

    TORCH_DTYPES = (torch.uint8, torch.uint16, torch.float16, torch.bfloat16, torch.float32, torch.float64)
    NUMPY_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)
    SLACK = 0.5  # float frames further than this outside [0, 1] are another scale (0 to 255), not overshoot

    def __init__(self, first: Frame, clip: tuple[int, ...] | None = None):
        self.is_torch = isinstance(first, torch.Tensor)
        if first is None:
            raise FrameTypeError("frame 0 is None", hint=_NONE_HINT)
        if not self.is_torch and not isinstance(first, np.ndarray):
            raise FrameTypeError(f"frames must be torch tensors or NumPy arrays, got {type(first).__name__}")
        self.dtype = first.dtype
        self.device = first.device if self.is_torch else None
        if self.is_torch and first.device.type == "meta":
            raise FrameError("frames on the meta device have no values to restore")
        allowed = self.TORCH_DTYPES if self.is_torch else [np.dtype(d) for d in self.NUMPY_DTYPES]
        if self.dtype not in allowed:
            raise FrameTypeError(
                f"frames of dtype {self.dtype} are not taken", hint="give uint8 or uint16, or float in [0, 1]"
            )
        self.shape = tuple(first.shape)
        channels = self.shape[0] if self.is_torch else self.shape[-1]
        if len(self.shape) != 3 or channels != 3 or min(self.shape) < 1:
            if clip:
                layout = "a clip (T, 3, H, W) tensor" if self.is_torch else "a clip (T, H, W, 3) array"
                said = f"frames must be RGB, {layout}, got shape {clip}"
            else:
                layout = "(3, H, W) tensors" if self.is_torch else "(H, W, 3) arrays"
                said = f"frames must be RGB {layout}, got one of shape {self.shape}"
            raise FrameError(said, hint=self._layout_hint())
        self.size = self.shape[1:] if self.is_torch else self.shape[:2]
        self.is_float = self.dtype.is_floating_point if self.is_torch else np.issubdtype(self.dtype, np.floating)

    def _layout_hint(self) -> str | None:
        """How to turn a frame of the wrong layout into the one taken: the other library's channel order,
        grey, or an alpha channel."""
        shape = self.shape
        channels = shape[0] if self.is_torch else shape[-1]  # where a 3-axis frame keeps them
        if len(shape) == 2 or len(shape) == 3 and channels == 1:
            if self.is_torch:
                form = "frame.expand(3, -1, -1)"
            else:
                form = "np.repeat(frame[..., None], 3, axis=-1)" if len(shape) == 2 else "np.repeat(frame, 3, axis=-1)"
            return f"grey frames: repeat them into three channels, {form}"
        if len(shape) != 3:
            return None
        if self.is_torch and shape[-1] in (3, 4) and shape[0] not in (3, 4):
            alpha = ", then [:3] to drop the alpha channel" if shape[-1] == 4 else ""
            return f"tensors are channels-first: frame.permute(2, 0, 1) (a clip: .permute(0, 3, 1, 2)){alpha}"
        if not self.is_torch and shape[0] in (3, 4) and shape[-1] not in (3, 4):
            alpha = ", then [..., :3] to drop the alpha channel" if shape[0] == 4 else ""
            return f"arrays are channels-last: frame.transpose(1, 2, 0) (a clip: .transpose(0, 2, 3, 1)){alpha}"
        if channels == 4:
            return "drop the alpha channel: " + ("frame[:3]" if self.is_torch else "frame[..., :3]")
        return None

    def tensor(self, frame: Frame, index: int) -> torch.Tensor:
        """Frame `index` as restore_stream takes it: (3, H, W), uint8 or float32 in [0, 1]."""
        if frame is None:
            raise FrameTypeError(f"frame {index} is None", hint=_NONE_HINT)
        like = isinstance(frame, torch.Tensor if self.is_torch else np.ndarray)
        if not like or frame.dtype != self.dtype or tuple(frame.shape) != self.shape:
            error = FrameError if like and frame.dtype == self.dtype else FrameTypeError  # a shape, or a type
            raise error(
                f"every frame must be like the first ({self.dtype}, shape {self.shape}), got {_described(frame)} "
                f"(frame {index})"
            )
        if self.is_torch:
            if self.dtype == torch.uint16:  # torchvision's 16-bit PNGs; torch has few operators for it (from 2.3):
                return as_float(frame)  # converted at once (a copy), to float32 scaled as NumPy's uint16 frames are
            t = frame
        else:
            image = np.ascontiguousarray(frame)
            if not image.flags.writeable:  # torch takes NumPy's memory as writable
                image = image.copy()
            if not self.is_float:  # uint8, uint16: as deblur run takes its decoded frames
                return to_compact_tensor(image, torch.device("cpu"))
            t = torch.from_numpy(image).permute(2, 0, 1)
        if not self.is_float:
            return t
        t = t.to(torch.float32)
        if not bool(torch.isfinite(t).all()):
            raise FrameError(f"frame {index} has NaN or infinite values")
        low, high = torch.aminmax(t)
        if not (-self.SLACK <= float(low) and float(high) <= 1 + self.SLACK):
            raise FrameError(
                f"frame {index} has values from {float(low):.4g} to {float(high):.4g}: float frames are in [0, 1]",
                hint="divide 8-bit values by 255 (or give uint8 frames)",
            )
        return t.clamp(0, 1)  # a copy: the caller's frame is never written

    def frame(self, restored: torch.Tensor) -> Frame:
        """A restored (3, H, W) float frame as the input's kind; never a view of restore_stream's buffers."""
        if self.is_torch:
            return restored.to(self.device, torch.float32, copy=True)
        if self.dtype in (np.uint8, np.uint16):
            return to_image(restored, 8 if self.dtype == np.uint8 else 16)
        return restored.to(torch.float32).permute(1, 2, 0).cpu().numpy().copy()

    def empty(self, count: int) -> Frame:
        """Room for `count` restored frames, of the restored kind, uninitialised."""
        if self.is_torch:
            return torch.empty((count, *self.shape), dtype=torch.float32, device=self.device)
        return np.empty((count, *self.shape), np.float32 if self.is_float else self.dtype)
