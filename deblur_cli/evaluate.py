"""Quality of a restorer on a dataset of blurred/sharp sequence pairs: the library behind `deblur evaluate`.

A dataset is a folder of sequences, each a blurred clip and its sharp ground truth, in any of the
layouts the public sets use (datasets.py finds them). Every sequence is restored as `deblur run`
restores a video (windows, tiles, blending; `stream.restore_stream`), without encoding, and
compared frame by frame with the sharp clip after rounding to 8 bits, as the literature compares
saved PNGs: PSNR and SSIM over RGB, and on request LPIPS and NIQE (docs/bench.md). Frames stream: memory holds a few windows,
whatever a sequence's length. Frames restored elsewhere (another method's results) are scored the
same way (`score_results`).
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
import time
from collections import deque
from contextlib import ExitStack, closing, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import torch

from deblur_cli.datasets import SequencePair
from deblur_cli.errors import InputError
from deblur_cli.levels import as_float, to_compact_tensor, to_image
from deblur_cli.metrics import niqe, psnr, ssim, temporal_error, to_levels, too_small_for
from deblur_cli.metrics.lpips import LPIPS, lpips_clip
from deblur_cli.metrics.niqe import mean_niqe
from deblur_cli.mix import Mix
from deblur_cli.prefetch import prefetched
from deblur_cli.restorer import Restorer, completed
from deblur_cli.stream import check_windows, restore_stream
from deblur_cli.transfer import model_curve
from deblur_cli.video_io import Frame, VideoInfo, check_not_cut, open_source
from deblur_cli.video_io.images import list_images
from deblur_cli.video_io.png_sequence import PngSequenceSink
from deblur_cli.video_io.truncation import retell_damage
from deblur_cli.video_io.work_folder import as_written_now, comparable, normalized
from deblur_cli.windows import WindowOptions
from deblur_cli.wording import some

SequenceProgress = Callable[[str, int, int | None], None]
"""Called as progress(sequence name, frames done, frames in the sequence or None) before the first frame
is restored (done 0) and after each frame."""

FrameMetric = Callable[[torch.Tensor, torch.Tensor], float]
"""A per-frame score: (frame, its sharp frame), each (3, H, W) float in [0, 1] on one device."""

# The metrics a report can hold, in table order, and whether higher is better. "flicker" is the temporal
# error of consecutive frames (metrics/temporal.py), for sequences of two frames or more.
METRICS = {"psnr": True, "ssim": True, "lpips": False, "niqe": False, "flicker": False}


@dataclass
class SequenceScore:
    """Means over the frames of one sequence, by metric name, of the blurred input and of the
    restored output. A metric that does not apply (SSIM under 11 pixels a side, NIQE under two
    96x96 blocks) or was not asked for is absent."""

    name: str
    frames: int
    seconds: float  # decoding and restoring, not the metrics
    input: dict[str, float] = field(default_factory=dict)
    output: dict[str, float] = field(default_factory=dict)
    # the scene cuts the windows were split at, which change the scores: the index of the frame after
    # each, the first frame 0 (as `deblur run --json` lists them); None where none were looked for
    # (--no-scene-cuts, frames restored elsewhere)
    scene_cuts: list[int] | None = None
    exact_frames: int = 0  # restored frames equal to their sharp frames: an infinite PSNR, and so the mean's
    # every frame's scores, {"input": {metric: [...]}, "output": {...}}, in the order of the blurred frames
    # (flicker's k-th value is of frames k and k + 1); empty in files written before they were kept
    per_frame: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # the file names of the blurred frames scored, in that order (a dataset of images); None for a video
    frame_names: list[str] | None = None
    # the tile side the last windows were restored in (`deblur run --json`'s tile_used); None: whole frames,
    # frames restored elsewhere, or a file from before it was kept
    tile_used: int | None = None
    # the frames' (width, height), which tells a metric left out for their size (NIQE under two 96x96 blocks)
    # from one left out for their content; None in a file from before it was kept
    size: tuple[int, int] | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @classmethod
    def from_dict(cls, data: dict) -> SequenceScore:
        """A score as EvaluationReport.to_dict wrote it (see `files.write_json`): the strings "Infinity"
        and "NaN" stand for an infinite PSNR and an undefined score; null, as files from before wrote an
        infinite PSNR, for infinity too."""

        def number(value) -> float:
            return math.inf if value is None else float(value)

        def scores(values: dict) -> dict[str, float]:
            return {metric: number(value) for metric, value in values.items()}

        name, frames, seconds = data["name"], int(data["frames"]), float(data["seconds"])
        input_scores, output_scores = scores(data["input"]), scores(data["output"])
        exact = data.get("exact_frames", 0)  # files from before counted none
        per_frame = {
            side: {metric: [number(v) for v in values] for metric, values in by_metric.items()}
            for side, by_metric in (data.get("per_frame") or {}).items()
        }
        names = data.get("frame_names")
        cuts, tile, size = data.get("scene_cuts"), data.get("tile_used"), data.get("size")
        return cls(
            name, frames, seconds, input=input_scores, output=output_scores, scene_cuts=cuts, exact_frames=exact,
            per_frame=per_frame, frame_names=names, tile_used=tile, size=None if size is None else tuple(size),
        )  # fmt: skip


@dataclass
class EvaluationReport:
    dataset: str
    model: str
    device: str
    planned: int = 0  # sequences to evaluate; fewer in `sequences` after an interruption
    sequences: list[SequenceScore] = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # what the scores depend on besides the files (see `reusable`)
    digests: dict[str, str] = field(default_factory=dict)  # each sequence's files, by name (`sequence_digest`)
    timed: bool = True  # False for frames restored elsewhere (score_results): no frame rate to report

    @property
    def complete(self) -> bool:
        return len(self.sequences) >= self.planned

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.sequences)

    def frames_among(self, names: set[str]) -> int:
        """The frames of the sequences named in `names`."""
        return sum(s.frames for s in self.sequences if s.name in names)

    @property
    def metrics(self) -> list[str]:
        """The metrics some sequence has, in METRICS order (`partial` names those others lack)."""
        return [m for m in METRICS if any(m in s.output for s in self.sequences)]

    def partial(self, metric: str) -> int:
        """How many sequences have `metric` when some lack it (one frame has no flicker, a small or
        flat one no NIQE), else 0: the means are then over those only."""
        having = sum(metric in s.output for s in self.sequences)
        return having if having < len(self.sequences) else 0

    def having(self, metric: str, side: str = "output") -> set[str]:
        """The names of the sequences whose `side` has `metric`."""
        return {s.name for s in self.sequences if metric in getattr(s, side)}

    def mean(
        self, metric: str, side: str = "output", *, per: str = "sequence", among: set[str] | None = None
    ) -> float | None:
        """Mean of a metric of the `side` ("input" or "output") over the sequences that have it (each
        counts once, as BasicSR averages video test sets) or, with per="frame", over their frames
        (each sequence weighted by its frames; by its pairs of frames for flicker, which is scored per
        pair); only over the sequences named in `among` when given. None when no sequence has it."""
        scores = [(value, s.frames - (metric == "flicker")) for s in self.sequences
                  if (value := getattr(s, side).get(metric)) is not None and (among is None or s.name in among)]  # fmt: skip
        if not scores:
            return None
        if per == "sequence":
            return statistics.fmean(value for value, _ in scores)
        return sum(value * weight for value, weight in scores) / sum(weight for _, weight in scores)

    def blurred(self) -> set[str] | None:
        """The names of the sequences whose input PSNR is finite, when some other's is infinite (its blurred
        frames equal its sharp ones, a sharp control clip): their means are the ones that say what the
        model gains, since one infinite input makes the input's mean infinite and the gain -inf. None when
        every input PSNR is finite (or none is): the means over all sequences say it then."""
        finite = {s.name for s in self.sequences if math.isfinite(s.input.get("psnr", math.nan))}
        sharp = {s.name for s in self.sequences if s.input.get("psnr") == math.inf}
        return finite if sharp and finite else None

    def to_dict(self) -> dict:
        seconds = sum(s.seconds for s in self.sequences)
        return {
            "dataset": self.dataset,
            "model": self.model,
            "device": self.device or None,  # None: frames restored elsewhere (--results)
            "complete": self.complete,
            "sequences_planned": self.planned,
            "frames": self.frames,
            "fps": (self.frames / seconds if seconds > 0 else 0.0) if self.timed else None,
            "mean_of_sequences": self._means("sequence"),
            "mean_of_frames": self._means("frame"),
            "sequences_with": {m: len(self.having(m)) for m in self.metrics},  # the means' sequences
            "blurred": self._blurred_means(),
            "sequences": [asdict(s) | {"fps": s.fps if self.timed else None} for s in self.sequences],
            "settings": self.settings,
            "sequence_digests": self.digests,
        }

    def reusable(self, stored: dict | None) -> dict[str, SequenceScore]:
        """The scores of a report that `to_dict` wrote (a stopped evaluation's) which this one may take
        as they are, by sequence name: those made under the same settings from the same files."""
        settings = stored.get("settings") if stored else None
        if not isinstance(settings, dict):
            return {}
        if comparable(as_written_now(settings)) != comparable(normalized(self.settings)):  # weights by their sha256
            return {}
        digests = stored.get("sequence_digests") or {}
        scores = (SequenceScore.from_dict(entry) for entry in stored.get("sequences", []))
        return {s.name: s for s in scores if s.name in self.digests and digests.get(s.name) == self.digests[s.name]}

    def _blurred_means(self) -> dict | None:
        """The means over the sequences whose blurred frames differ from their sharp ones, where others' do not
        (`blurred`), with their names and frame count; None where the means over all say it."""
        blurred = self.blurred()
        if blurred is None:
            return None
        return {
            "sequences": [s.name for s in self.sequences if s.name in blurred],
            "frames": self.frames_among(blurred),
            "mean_of_sequences": self._means("sequence", blurred),
            "mean_of_frames": self._means("frame", blurred),
        }

    def _means(self, per: str, among: set[str] | None = None) -> dict:
        return {
            side: {m: self.mean(m, side, per=per, among=among) for m in self.metrics} for side in ("input", "output")
        }


def frame_metrics(height: int, width: int, *, lpips: LPIPS | None = None, with_niqe: bool = False) -> dict[str, FrameMetric]:
    """The per-frame metrics for frames of height x width: PSNR; SSIM where the frames are 11
    pixels a side or more; LPIPS with its model, from 31; NIQE on request where the frames are large enough."""
    small = too_small_for(height, width)
    metrics: dict[str, FrameMetric] = {"psnr": lambda frame, sharp: float(psnr(frame, sharp))}
    if "ssim" not in small:
        metrics["ssim"] = lambda frame, sharp: float(ssim(frame, sharp))
    if lpips is not None and "lpips" not in small:
        metrics["lpips"] = lambda frame, sharp: lpips_clip(lpips, frame[None], sharp[None])
    if with_niqe and "niqe" not in small:
        metrics["niqe"] = lambda frame, sharp: niqe(frame.cpu())
    return metrics


def evaluate_sequence(
    pair: SequencePair,
    restorer: Restorer,
    windows: WindowOptions,
    *,
    lpips: LPIPS | None = None,
    with_niqe: bool = False,
    with_flicker: bool = False,
    max_frames: int | None = None,
    save_to: Path | None = None,
    progress: SequenceProgress | None = None,
    input_scores: SequenceScore | None = None,
    mix: Mix = Mix(),
) -> SequenceScore:
    """Restore `pair.blurred` (its first `max_frames` frames, if given) and score it against
    `pair.sharp` with `frame_metrics` (LPIPS with that model, NIQE if `with_niqe`), and with the
    temporal error of consecutive frames ("flicker") if `with_flicker`. With `save_to`,
    the restored frames are also written there as PNG files (frame_000001.png, ...), atomically.
    `input_scores`, another model's score of the same frames with the same metrics: its input side (the
    means and each frame's scores) is taken as it is instead of scoring the input again (NIQE alone costs
    about 0.4 s a 720p frame on a CPU). `mix` says what the frames keep of the restoration, as `deblur run
    --strength`, `--keep-still` and `--keep-detail` do (stream.restore_stream: at strength 0 the model does not
    run). The score lists the scene cuts the windows were
    split at."""
    restorer = completed(restorer)
    check_windows(restorer, windows)
    cuts: list[int] = []
    tiles: list[int | None] = []  # the tile side planned, then any smaller one an out-of-memory retry took

    def restored(inputs: Iterator[torch.Tensor], info: VideoInfo) -> Iterator[torch.Tensor]:
        curve = model_curve(info.color.get("transfer"))  # HDR frames on an sRGB-like curve, as deblur run
        size = (info.height, info.width)
        frames = restore_stream(
            inputs, restorer, windows, size, mix=mix, on_cut=cuts.append, curve=curve, on_tile=tiles.append
        )
        return (as_float(frame) for frame in frames)  # at strength 0 the input frames, as decoded

    score = _score(
        pair, restored, read_ahead=windows.window + 2,
        lpips=lpips, with_niqe=with_niqe, with_flicker=with_flicker, max_frames=max_frames, save_to=save_to,
        progress=progress, input_scores=input_scores,
    )  # fmt: skip
    tile_used = tiles[-1] if tiles else None
    return replace(score, scene_cuts=sorted(cuts) if windows.scene_cuts else None, tile_used=tile_used)


def score_results(
    pair: SequencePair,
    results: Path,
    *,
    lpips: LPIPS | None = None,
    with_niqe: bool = False,
    with_flicker: bool = False,
    max_frames: int | None = None,
    progress: SequenceProgress | None = None,
    input_scores: SequenceScore | None = None,
) -> SequenceScore:
    """Score frames restored elsewhere, `results` (a video or a folder of frames: another method's
    published results, or what `--save` wrote), against `pair.sharp` as `evaluate_sequence` scores a
    model's: the same metrics, frame for frame with `pair.blurred`, which must have as many frames
    (its first `max_frames`, if given) of the same size. The seconds are those of decoding."""

    def restored(inputs: Iterator[torch.Tensor], info: VideoInfo) -> Iterator[torch.Tensor]:
        with open_source(results) as source:
            if (source.info.height, source.info.width) != (info.height, info.width):
                raise InputError(
                    f"{pair.name}: the frames in {results} are {source.info.width}x{source.info.height}, "
                    f"the blurred ones {info.width}x{info.height}",
                    hint="results must hold the restored frames at the dataset's size, one per blurred frame",
                )
            _check_names(
                pair.name, info.frame_names, source.info.frame_names, results, "restored", max_frames, _ONE_EACH
            )
            frames = _tensors(source, max_frames)
            for _ in inputs:
                frame = next(frames, None)
                if frame is None:
                    raise _counted_wrong(pair, results, "fewer", _ONE_EACH)
                yield as_float(frame)
            if max_frames is None and next(frames, None) is not None:
                raise _counted_wrong(pair, results, "more", _ONE_EACH)

    return _score(
        pair, restored, read_ahead=4,
        lpips=lpips, with_niqe=with_niqe, with_flicker=with_flicker, max_frames=max_frames,
        progress=progress, input_scores=input_scores,
    )  # fmt: skip


def check_frame_names(pair: SequencePair, max_frames: int | None = None, results: Path | None = None) -> None:
    """InputError, before any frame is decoded or restored, where a sequence's frames do not pair one for one:
    its sharp frames with its blurred ones, or, given `results`, the frames restored elsewhere: one missing,
    extra or named otherwise. Scoring finds the same, but only when it comes to that sequence, perhaps after
    hours of a model's pass. Only folders of images are listed; videos are counted as they are read."""
    other, kind, hint = (pair.sharp, "sharp", _GROUND_TRUTH) if results is None else (results, "restored", _ONE_EACH)
    if not (pair.blurred.is_dir() and other.is_dir()):
        return
    blurred = [path.stem for path in list_images(pair.blurred)][:max_frames]
    others = [path.stem for path in list_images(other)]
    _check_names(pair.name, blurred, others, other, kind, max_frames, hint)
    if len(others) < len(blurred):
        raise _counted_wrong(pair, other, "fewer", hint)
    if results is not None and max_frames is None and len(others) > len(blurred):
        raise _counted_wrong(pair, other, "more", hint)


def _counted_wrong(pair: SequencePair, other: Path, than: str, hint: str) -> InputError:
    return InputError(f"{pair.name}: {other} has {than} frames than {pair.blurred}", hint=hint)


_ONE_EACH = "results must hold one restored frame for each blurred frame, in order"
_GROUND_TRUTH = "each sharp clip must be the ground truth of its blurred clip, frame for frame"


def _score(
    pair: SequencePair,
    restored: Callable[[Iterator[torch.Tensor], VideoInfo], Iterator[torch.Tensor]],
    *,
    read_ahead: int,
    lpips: LPIPS | None,
    with_niqe: bool,
    with_flicker: bool,
    max_frames: int | None,
    progress: SequenceProgress | None,
    input_scores: SequenceScore | None,
    save_to: Path | None = None,
) -> SequenceScore:
    """Score what `restored(inputs, info)` yields, one frame per frame it takes from `inputs` (the
    blurred frames, `info` theirs), against the sharp frames (see evaluate_sequence). `read_ahead`: frames decoded
    ahead of their use, a window's worth for a model."""
    if max_frames is None:  # a video of the pair cut short: refused before the model restores any of it
        for path in (pair.blurred, pair.sharp):
            with _retold_damage():
                check_not_cut(path)
    with ExitStack() as stack:
        blurred_source = stack.enter_context(open_source(pair.blurred))
        sharp_source = stack.enter_context(open_source(pair.sharp))
        blurred_info, sharp_info = blurred_source.info, sharp_source.info
        if (blurred_info.width, blurred_info.height) != (sharp_info.width, sharp_info.height):
            raise InputError(
                f"{pair.name}: blurred frames are {blurred_info.width}x{blurred_info.height}, "
                f"sharp ones {sharp_info.width}x{sharp_info.height}",
                hint=_GROUND_TRUTH,
            )
        _check_names(
            pair.name, blurred_info.frame_names, sharp_info.frame_names, pair.sharp, "sharp", max_frames, _GROUND_TRUTH
        )
        total = blurred_info.frame_count
        if max_frames is not None:
            total = max_frames if total is None else min(total, max_frames)
        # Both are decoded and converted in threads of their own, a window ahead, while the model
        # works; each thread stops (closing) before its source closes.
        blurred_frames = stack.enter_context(closing(prefetched(_tensors(blurred_source, max_frames), read_ahead)))
        sharp_frames = stack.enter_context(closing(prefetched(_tensors(sharp_source, max_frames), read_ahead)))
        # (blurred, sharp) frames whose restored frame is still to come; they are scored with it, so
        # the clock below times decoding and restoring only. They wait in host memory (8-bit ones
        # as uint8) and go to the restorer's device to be scored: on a GPU the metrics run there
        # too, and cost a fraction of what they cost on the CPU.
        waiting: deque[tuple[torch.Tensor, torch.Tensor]] = deque()
        metrics = frame_metrics(blurred_info.height, blurred_info.width, lpips=lpips, with_niqe=with_niqe)
        scores = _Scores(metrics, input_scores, flicker=with_flicker, bit_depth=blurred_info.bit_depth)
        seconds = 0.0

        def inputs() -> Iterator[torch.Tensor]:
            for blurred in blurred_frames:
                sharp = next(sharp_frames, None)
                if sharp is None:
                    raise _counted_wrong(pair, pair.sharp, "fewer", _GROUND_TRUTH)
                waiting.append((blurred, sharp))
                yield blurred

        if save_to is not None:
            save_to.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        # Saved as scored: in the frames' stored orientation, not turned for display (an EXIF or
        # display-matrix rotation), so that `--results` of the saved frames gives the same scores.
        saved_as = replace(blurred_info, rotation=0, mirrored=False)
        if progress is not None:  # the total now, not after the first window
            progress(pair.name, 0, total)
        with (
            _retold_damage(),
            torch.inference_mode(),
            PngSequenceSink(save_to, saved_as) if save_to else nullcontext() as sink,
        ):
            for done, frame in enumerate(restored(inputs(), blurred_info), start=1):
                seconds += time.perf_counter() - started
                blurred, sharp = waiting.popleft()
                scores.add(blurred, sharp, frame)
                if sink is not None:
                    sink.write(to_image(frame, blurred_info.bit_depth))
                if progress is not None:
                    progress(pair.name, done, total)
                started = time.perf_counter()
        if max_frames is None and next(sharp_frames, None) is not None:
            raise InputError(f"{pair.name}: {pair.sharp} has more frames than {pair.blurred}", hint=_GROUND_TRUTH)
    score, names = scores.result(pair.name, seconds), blurred_info.frame_names
    size = (blurred_info.width, blurred_info.height)
    return replace(score, frame_names=list(names[: score.frames]) if names else None, size=size)


_BEFORE_THE_DAMAGE = "re-copy the file, or score the frames before the damage with --frames N"


@contextmanager
def _retold_damage() -> Iterator[None]:
    """A file found cut short or damaged, before its frames are read or as they are (with --frames, or past
    what the up-front check sees): a hint in evaluate's options, not run's --end."""
    try:
        yield
    except InputError as e:
        retell_damage(e, _BEFORE_THE_DAMAGE)
        raise


def frame_key(stem: str) -> int | str:
    """What the names of two frames to be paired share (or one begins with the other's, `_check_names`): the
    stem's last run of digits as a number (frame 1.png pairs with 001.png, 00001.PNG with 00001.jpg), else the
    stem without case."""
    digits = re.findall(r"\d+", stem)
    return int(digits[-1]) if digits else stem.lower()


def _check_names(
    sequence: str,
    blurred: Sequence[str] | None,
    other: Sequence[str] | None,
    other_path: Path,
    other_kind: str,
    max_frames: int | None,
    hint: str,
) -> None:
    """InputError naming the first frame without a partner when the blurred frames and the `other_kind`
    frames (sharp or restored) are both named, but their names do not correspond position for position:
    the frames are paired in order, so a missing frame on one side would pair every later frame with its
    neighbour's. Names correspond by their numbers (`frame_key`), or where each other name begins with its
    blurred frame's (`_begun_with`: BasicSR saves `000000_BasicVSR_REDS4.png`, whose last number is no frame's).
    Where neither holds, the error is of the pairing that holds the longer, and names the frames on one side
    that pair as one, if those are why. Videos have no names, and their frames are paired by position only.
    Where one side has frames past the other's last, the first of them is named too."""
    if blurred is None or other is None:
        return
    common = min(len(blurred[:max_frames]), len(other[:max_frames]))
    pairings = [
        ([frame_key(name) for name in blurred], [frame_key(name) for name in other], "the last number in their names")
    ]
    begun = _begun_with(blurred, other)
    if len(set(begun[:max_frames]) - {None}) == sum(key is not None for key in begun[:max_frames]):  # one to one
        pairings.append(([name.lower() for name in blurred], begun, "their names begin with it"))
    first_apart = [next((k for k in range(common) if b[k] != o[k]), None) for b, o, _ in pairings]
    if None not in first_apart:
        k = max(first_apart)  # told by the pairing that holds the longer, by numbers on a tie
        blurred_keys, other_keys, read_as = pairings[first_apart.index(k)]
        b, o = blurred_keys[k], other_keys[k]
        shown = {key: name for name, key in zip(blurred, blurred_keys) if isinstance(key, str)}  # a frame by its name
        for kind, names, keys, key, where in (
            ("blurred", blurred, blurred_keys, b, ""),
            (other_kind, other, other_keys, o, f" in {other_path}"),
        ):
            same = [name for name, its in zip(names[:max_frames], keys) if its == key and key is not None]
            if len(same) > 1:
                what = _read_as_one(kind, same, where, shown.get(key, key), read_as)
                raise InputError(f"{sequence}: {what}", hint=_OWN_NAMES)
        if b not in other_keys:
            what = f"blurred frame {blurred[k]} has no {other_kind} frame of its name in {other_path}"
        elif o not in blurred_keys:
            what = f"{other_kind} frame {other[k]} in {other_path} has no blurred frame of its name"
        else:
            what = f"blurred frame {blurred[k]} would be paired with {other_kind} frame {other[k]}"
        raise InputError(f"{sequence}: {what}", hint=hint)
    if len(blurred[:max_frames]) > common:
        what = f"fewer frames than the blurred ones: blurred frame {blurred[common]} has none of its name"
    elif len(other[:max_frames]) > common:
        what = f"more frames than the blurred ones: {other_kind} frame {other[common]} has no blurred frame of its name"
    else:
        return
    raise InputError(f"{sequence}: {other_path} has {what}", hint=hint)


_OWN_NAMES = (
    "each frame's name must tell it from the others: by its last number, or, for a sharp or restored frame, "
    "by beginning with its blurred frame's name (000000_EDVR.png)"
)


def _begun_with(blurred: Sequence[str], other: Sequence[str]) -> list[str | None]:
    """For each other name, the longest blurred name (without case) it begins with, where a number it ends in
    does not go on (frame 10_x.png and 10.png pair with frame 10, not 1; 30_x.png with no frame 3); None for
    a name that begins with none."""
    stems = {name.lower() for name in blurred}
    lengths = sorted({len(stem) for stem in stems}, reverse=True)  # a few, however many frames

    def begun(name: str) -> str | None:
        for n in lengths:
            if name[:n] in stems and not (name[n - 1 : n].isdigit() and name[n : n + 1].isdigit()):
                return name[:n]
        return None

    return [begun(name.lower()) for name in other]


def _read_as_one(kind: str, names: list[str], where: str, frame: object, read_as: str) -> str:
    """The error's words for several names on one side that pair as one frame."""
    if len(names) == 2:
        return f"{kind} frames {names[0]} and {names[1]}{where} are both read as frame {frame} ({read_as})"
    return f"{len(names)} {kind} frames{where} are all read as frame {frame} ({read_as}): {some(names, 3)}"


def _tensors(source: Iterable[Frame], count: int | None) -> Iterator[torch.Tensor]:
    """The first `count` frames of `source` (all with None) in host memory, 8-bit ones as uint8 and deeper
    ones as uint16 where torch holds them (a quarter, a half of float32's memory; `as_float` converts
    them where they are used)."""
    cpu = torch.device("cpu")
    return (to_compact_tensor(frame.image, cpu) for frame in itertools.islice(source, count))


class _Scores:
    """Per-frame scores of the input and of the output against the sharp frames; the input's only
    when another pass scored it already (`known_input`, a score of the same frames, whose input side is taken)."""

    def __init__(
        self,
        metrics: dict[str, FrameMetric],
        known_input: SequenceScore | None = None,
        *,
        flicker: bool = False,
        bit_depth: int = 8,
    ) -> None:
        if known_input is not None and set(known_input.input) - {"flicker"} != set(metrics):
            raise ValueError(f"input scores for {sorted(known_input.input)}, but the metrics are {sorted(metrics)}")
        self.metrics = metrics
        self.known_input = known_input
        names = [*metrics, "flicker"] if flicker else list(metrics)
        self.input: dict[str, list[float]] = {name: [] for name in names}
        self.output: dict[str, list[float]] = {name: [] for name in names}
        self.flicker = flicker
        self.bit_depth = bit_depth  # of the files the restored frames would be saved as (--save)
        self.previous: tuple[torch.Tensor | None, torch.Tensor, torch.Tensor] | None = None  # the last frames

    def add(self, blurred: torch.Tensor, sharp: torch.Tensor, restored: torch.Tensor) -> None:
        """(3, H, W) frames: the restored one float in [0, 1], rounded to the levels of its file first
        (8 bits, or 16 for deeper sequences), as --save stores it; the others as held (float, or uint8:
        see `as_float`), scored on the restored frame's device. The blurred frame is not touched when
        its scores are known."""
        device = restored.device
        restored = to_levels(restored, self.bit_depth)
        sharp = as_float(sharp.to(device))
        blurred = as_float(blurred.to(device)) if self.known_input is None else None
        for name, metric in self.metrics.items():
            if blurred is not None:
                self.input[name].append(metric(blurred, sharp))
            self.output[name].append(metric(restored, sharp))
        if not self.flicker:
            return
        if self.previous is not None:  # how each changes from the frame before, against the sharp frames
            last_blurred, last_restored, last_sharp = self.previous
            reference = torch.stack([last_sharp, sharp])
            if blurred is not None:
                self.input["flicker"].append(temporal_error(torch.stack([last_blurred, blurred]), reference))
            self.output["flicker"].append(temporal_error(torch.stack([last_restored, restored]), reference))
        self.previous = (blurred, restored, sharp)

    def result(self, name: str, seconds: float) -> SequenceScore:
        # A frame restored exactly has an infinite PSNR, and so has the mean then. A sequence of flat
        # frames only has no NIQE (mean_niqe), one of one frame no flicker.
        def means(values: dict[str, list[float]]) -> dict[str, float]:
            found = {m: mean_niqe(v) if m == "niqe" else statistics.fmean(v) if v else None for m, v in values.items()}
            return {metric: mean for metric, mean in found.items() if mean is not None}

        def measured(values: dict[str, list[float]]) -> dict[str, list[float]]:
            return {metric: list(v) for metric, v in values.items() if v}

        if self.known_input is None:
            inputs, input_frames = means(self.input), measured(self.input)
        else:  # a score from before frames were kept has none of them
            inputs, input_frames = dict(self.known_input.input), self.known_input.per_frame.get("input", {})
        exact = sum(math.isinf(value) for value in self.output["psnr"])
        per_frame = {"input": input_frames, "output": measured(self.output)}
        return SequenceScore(
            name, len(self.output["psnr"]), seconds, inputs, means(self.output), exact_frames=exact, per_frame=per_frame
        )
