"""A batch of `deblur run`: its inputs planned and checked before any model loads (`plan_batch`), then restored
one after another (`restore_batch`), each input's outcome (done, skipped, failed, or the batch stopped) as it
comes, with the entry `run --json` prints for it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Generator, Iterator, NamedTuple, Sequence, Union

from deblur_cli import files
from deblur_cli.asked_span import AskedSpan
from deblur_cli.errors import InputError, OutputBusyError, OutputError, OutputExistsError, UsageError
from deblur_cli.mix import Mix
from deblur_cli.outputs import (
    DEFAULT_TAG,
    Job,
    check_not_a_device,
    check_not_the_input,
    earlier_outputs,
    expand_video_globs,
    output_tag,
    photos_beside_videos,
    plan_outputs,
)
from deblur_cli.preflight import compressed_note, left_out_note, preflight
from deblur_cli.span import Span
from deblur_cli.video_io import EncodeOptions, ReadOptions
from deblur_cli.video_io.images import is_glob_input
from deblur_cli.video_io.lossless import delivery_codec

if TYPE_CHECKING:
    from deblur_cli.pipeline import FramesProgress, RunResult
    from deblur_cli.restorer import Restorer
    from deblur_cli.windows import WindowOptions


class Said(NamedTuple):
    """A line the planning of a batch says as it finds it: a note, or a warning of what an output cannot hold."""

    text: str
    warning: bool = False


class Jobs(NamedTuple):
    """The inputs a run restores, each with its output, and the notes on those it leaves out."""

    jobs: list[Job]
    several: bool  # more than one job planned (a folder's videos count), before any is left out
    left_out: list[str]  # results of an earlier run beside their inputs, a folder of videos' photos


def plan_jobs(
    inputs: list[Path], output: Path | None, *, named_folder: bool = False, tag: str = DEFAULT_TAG, typed: bool = False
) -> Jobs:
    """The jobs of a run of `inputs` (quoted globs of videos expanded) to -o `output` (`named_folder`: typed
    with a trailing slash; `tag`: outputs.output_tag's), less the results of an earlier run found among them,
    as `deblur run` restores them. With `typed` (`deblur info`, which describes what it is given), such a
    result given itself is kept, and its note says that run would leave it out. UsageError where no output can
    be named."""
    inputs = expand_video_globs(inputs)
    planned = plan_outputs(inputs, output, named_folder=named_folder, tag=tag)
    # a batch run again beside its first results: a folder's, or without -o the shell's *.mp4, hold them too
    earlier = earlier_outputs([job.source for job in planned])
    if output is not None:  # what was typed goes to -o's place whatever its name
        earlier = {restored: source for restored, source in earlier.items() if restored not in inputs}
    kept = {restored for restored in earlier if typed and restored in inputs}
    left_out = [
        f"{'deblur run would leave out' if restored in kept else 'left out'} {restored}: named as deblur names the"
        f" result of {source} (restore it alone to restore it)"
        for restored, source in earlier.items()
    ]
    for folder in (path for path in inputs if path not in earlier):
        if photos := photos_beside_videos(folder):
            some = "a photo" if len(photos) == 1 else f"{len(photos)} photos"
            one = f"deblur run {shlex.quote(str(photos[0]))}"
            left_out.append(f"left out {some} in {folder}, a folder of videos: restore a photo on its own ({one})")
    jobs = [job for job in planned if job.source not in earlier or job.source in kept]
    return Jobs(jobs, len(planned) > 1, left_out)


class Described(NamedTuple):
    """The inputs `deblur info` describes, as `deblur run` without -o would restore them (plan_described)."""

    inputs: list[tuple[Path, Path | str | None, bool]]  # (source, its sink, whether it was named), in the order given
    left_out: list[str]  # the notes on the inputs left out
    refused: str | None  # why `deblur run` would refuse these inputs together: each was planned alone


def plan_described(inputs: list[Path]) -> Described:
    """What `deblur run` without -o would restore of `inputs` and write for each, as the sinks take it (Job.sink:
    "NAME/" for a folder of frames whose name holds a dot), (plan_jobs: quoted globs of videos expanded, earlier
    results left out), with whether it was named on the command line, and the globs of images, which name no place
    (None), in the order given; and the notes on the inputs left out. Inputs that run would refuse together (one
    given twice) are each planned alone, and `refused` says why."""
    expanded = expand_video_globs(inputs)
    videos = [path for path in expanded if not is_glob_input(path)]
    refused = None
    try:
        jobs = plan_jobs(videos, None, typed=True) if videos else Jobs([], False, [])
    except UsageError as e:
        refused = str(e)
        alone = [plan_jobs([path], None, typed=True) for path in videos]
        notes = [line for each in alone for line in each.left_out]
        jobs = Jobs([job for each in alone for job in each.jobs], True, notes)
    planned = [(job.source, job.sink, job.given) for job in jobs.jobs]
    planned += [(path, None, True) for path in expanded if is_glob_input(path)]

    def given_at(source: Path) -> int:  # the place of the input a job comes from: itself, or its folder
        return next((i for i, path in enumerate(expanded) if path == source or path in source.parents), len(expanded))

    return Described(sorted(planned, key=lambda entry: given_at(entry[0])), jobs.left_out, refused)


@dataclass(frozen=True)
class Batch:
    """The inputs of a run, planned and checked, and what the checks found before any model loads."""

    jobs: tuple[Job, ...]  # in order, less those left out (a result of an earlier run; no video in a folder of videos)
    skipped: frozenset[Job]  # --skip-existing: those whose output exists
    unreadable: dict[Path, InputError]  # inputs that cannot be read: any others still run
    foreseen: dict[Path, tuple[str, ...]]  # the warnings each output will give, said before the run
    spans: dict[Path, Span]  # the part of each input checked (its own, where a timecode was typed), in seconds
    several: bool  # more than one input as typed: --json's shape does not change with what is left out
    read: ReadOptions  # how the inputs are read, but for the span: each input's own is in `spans`
    encode: EncodeOptions
    force: bool
    side_by_side: bool
    skip_existing: bool
    mix: Mix  # what the outputs keep of the restoration

    @property
    def todo(self) -> list[Job]:
        """The jobs to restore: all but the skipped (the unreadable among them fail)."""
        return [job for job in self.jobs if job not in self.skipped]

    def decided(self, job: Job) -> Skipped | Failed | None:
        """The outcome of `job` known before any model loads: skipped (--skip-existing, its output exists) or
        failed (its input cannot be read); None for a job to restore."""
        if job in self.skipped:
            return Skipped(job)
        if job.source in self.unreadable:  # said before the model loaded
            return Failed(job, self.unreadable[job.source], unreadable=True)
        return None

    def entries(self) -> list[dict]:
        """The --json entries of a batch that restores nothing: each input skipped, or failed unread."""
        return [self.decided(job).entry for job in self.jobs]

    def none_readable(self) -> InputError | None:
        """The error that stops a batch before the model loads when none of the inputs left to restore can be
        read: the one input's own error, or one that counts them (after their own, said by the caller); None
        where there is one to restore."""
        todo = self.todo
        if not todo or len(self.unreadable) < len(todo):
            return None
        if len(self.unreadable) == 1:
            return next(iter(self.unreadable.values()))
        left = " left to restore" if len(todo) < len(self.jobs) else ""  # the others skipped (--skip-existing)
        return InputError(f"none of the {len(todo)} inputs{left} can be read", hint="the errors above say why")


def plan_batch(
    inputs: list[Path],
    output: Path | None,
    read: ReadOptions,
    encode: EncodeOptions,
    *,
    named_folder: bool = False,
    force: bool = False,
    side_by_side: bool = False,
    skip_existing: bool = False,
    span: AskedSpan = AskedSpan(),
    mix: Mix = Mix(),
) -> Generator[Said, None, Batch]:
    """The Batch of a run of `inputs` (quoted globs of videos expanded) to -o `output` (`named_folder`: typed
    with a trailing slash), checked as `preflight.preflight` checks each job, before any model loads: `span` as
    typed is turned into each input's own part there (a timecode is a label of the input's own). Yields
    what it says as it finds it: the inputs left out (results of an earlier run beside their inputs, a folder
    of videos' photos and sound files), --skip-existing's skipped, the notes and warnings of the checks, and with
    `mix.keep_detail` one note on the inputs in a delivery codec (preflight.compressed_note); returns the Batch.
    Raises UsageError, InputError or OutputError where the run cannot start (after what it said)."""
    jobs = plan_jobs(inputs, output, named_folder=named_folder, tag=output_tag(span, side_by_side))
    for line in jobs.left_out:
        yield Said(line)
    planned, several = list(jobs.jobs), jobs.several
    for job in planned:  # before --skip-existing takes an input for its own finished output
        check_not_a_device(job.target)  # nor /dev/null for one
        check_not_the_input(job.source, job.target)
    skipped = frozenset(job for job in planned if skip_existing and files.taken(job.target))
    for job in planned:
        if job in skipped:
            yield Said(f"skipped {job.source}: {job.target} exists")
    unreadable: dict[Path, InputError] = {}
    foreseen: dict[Path, tuple[str, ...]] = {}
    spans: dict[Path, Span] = {}
    compressed: dict[Path, str] = {}  # with --keep-detail: the inputs in a delivery codec, by its name
    todo = [job for job in planned if job not in skipped]
    checks = preflight(todo, read, encode, force=force, side_by_side=side_by_side, span=span) if todo else ()
    for found in checks:  # bad inputs and outputs fail before torch is imported and the model loads
        source = found.job.source
        if found.failed is not None:
            unreadable[source] = found.failed
        if found.left_out is not None:
            yield Said(left_out_note(source, found.left_out))
            planned.remove(found.job)
        if found.note is not None:
            yield Said(found.note)
        if found.warnings is not None:
            foreseen[source], spans[source] = found.warnings, found.span
            for message in found.warnings:
                yield Said(f"{source.name}: {message}" if several else message, warning=True)
            if mix.keep_detail and (codec := delivery_codec(source, found.codec)):
                compressed[source] = codec
    if compressed:
        yield Said(compressed_note(compressed))
    return Batch(
        jobs=tuple(planned),
        skipped=skipped,
        unreadable=unreadable,
        foreseen=foreseen,
        spans=spans,
        several=several,
        read=read,
        encode=encode,
        force=force,
        side_by_side=side_by_side,
        skip_existing=skip_existing,
        mix=mix,
    )


def make_output_folders(batch: Batch) -> None:
    """The folders the outputs of a batch go in, made where deblur names them: the folder -o names, or one
    beside a folder of videos (not the folder of a file -o names, which must exist)."""
    if not batch.jobs[0].named:
        for job in batch.todo:
            job.target.parent.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class Started:
    """An input about to be restored, the `number`th of the batch's jobs (from 1)."""

    job: Job
    number: int


@dataclass(frozen=True)
class Done:
    """An input restored."""

    job: Job
    result: RunResult
    entry: dict  # what --json prints for it: the result's summary
    warnings: tuple[str, ...]  # the result's warnings that were not said before the run


@dataclass(frozen=True)
class Skipped:
    """An input left out by --skip-existing: its output existed when the batch was planned, or another run
    finished it or is writing it now (`note` says which)."""

    job: Job
    note: str | None = None  # None: said when the batch was planned

    @property
    def entry(self) -> dict:
        return _entry(self.job, skipped=True)


@dataclass(frozen=True)
class Failed:
    """An input of several that could not be restored: the others are."""

    job: Job
    error: InputError | OutputError
    unreadable: bool = False  # found before the model loaded, and said then

    @property
    def entry(self) -> dict:
        return _entry(self.job, error=str(self.error))


@dataclass(frozen=True)
class Stopped:
    """The batch stopped at this input by `error` (Ctrl-C, an error that stops a batch, or the one input's own),
    which restore_batch raises when asked for the next outcome."""

    job: Job
    error: BaseException
    note: str | None  # how much of the batch is finished, where something of several is
    json: list[dict] | dict | None  # for Ctrl-C, what --json prints: what was done, for a script that stopped it;
    # for the one input's own error, its entry with the error


JobOutcome = Union[Done, Skipped, Failed, Stopped]


def restore_batch(
    batch: Batch,
    restorer: Restorer,
    *,
    model: str,
    windows: WindowOptions,
    resume: bool = True,
    progress: FramesProgress | None = None,
    on_note: Callable[[str], None] | None = None,
) -> Iterator[Started | JobOutcome]:
    """Each job of `batch` restored with `restorer` (named `model`) by `pipeline.deblur_video`, in order, with
    the options the batch was checked with; yields Started before each input restored, then each job's outcome.
    An error of one input of several is its Failed outcome; one not of an input (not InputError, OutputError) is
    raised; so are that of a batch of one and Ctrl-C, after their Stopped outcome. `progress` and `on_note` are
    deblur_video's, for the input Started last."""
    from deblur_cli.pipeline import deblur_video  # imports torch

    outcomes: list[JobOutcome] = []
    for number, job in enumerate(batch.jobs, 1):
        outcome: JobOutcome | None = batch.decided(job)
        if outcome is None:
            yield Started(job, number)
            # once an output is finished, the same command stops at it ("output exists") unless told to skip it
            finished = not batch.skip_existing and any(isinstance(outcome, Done) for outcome in outcomes)
            try:
                result = deblur_video(
                    job.source,
                    job.sink,
                    restorer,
                    windows=windows,
                    encode=batch.encode,
                    read=replace(batch.read, span=batch.spans[job.source]),
                    force=batch.force,
                    side_by_side=batch.side_by_side,
                    mix=batch.mix,
                    resume=resume,
                    progress=progress,
                    on_note=on_note,
                    again="the same command with --skip-existing" if finished else "the same command",
                )
            except (InputError, OutputError) as e:
                if batch.skip_existing and isinstance(e, OutputBusyError):
                    outcome = Skipped(job, f"skipped {job.source}: another deblur run is writing {job.target}")
                elif batch.skip_existing and isinstance(e, OutputExistsError):  # another worker of the batch did it
                    outcome = Skipped(job, f"skipped {job.source}: {job.target} exists")
                elif not batch.several:  # its own error, after its --json entry
                    yield _stopped(batch, job, e, outcomes)
                    raise
                else:
                    outcome = Failed(job, e)  # one damaged input of several: the others are still restored
            except BaseException as e:  # Ctrl-C, or an error that stops the batch
                yield _stopped(batch, job, e, outcomes)
                raise
            else:
                warnings = tuple(message for message in result.warnings if message not in batch.foreseen[job.source])
                summary = result.summary(model, restorer, windows, batch.mix)
                outcome = Done(job, result, summary, warnings)
        outcomes.append(outcome)
        yield outcome


def _stopped(batch: Batch, job: Job, error: BaseException, outcomes: list[JobOutcome]) -> Stopped:
    """The Stopped outcome of `batch` stopped by `error` at `job`, after `outcomes`: `job` counts as finished
    where the stop came once its output was in place (pipeline.deblur_video's `output_finished`)."""
    complete = getattr(error, "output_finished", False)
    note = None
    finished = sum(not isinstance(outcome, Failed) for outcome in outcomes) + int(complete)
    if batch.several and finished == len(batch.jobs):
        note = f"all {finished} outputs are finished"
    elif batch.several and finished:
        note = (
            f"{finished} of {len(batch.jobs)} outputs {'is' if finished == 1 else 'are'} finished: "
            "the same command with --skip-existing goes on with the rest"
        )
    entries = None
    if isinstance(error, KeyboardInterrupt):
        entries = [outcome.entry for outcome in outcomes]
        entries.append(_entry(job, finished=True) if complete else _entry(job, interrupted=True))
        # those after it not started, but for those skipped or failed before the model loaded (said then)
        entries += [
            decided.entry if (decided := batch.decided(later)) else _entry(later, not_started=True)
            for later in batch.jobs[len(entries) :]
        ]
    elif isinstance(error, (InputError, OutputError)):  # of one input: the entry it has among several
        entries = [_entry(job, error=str(error))]
    return Stopped(job, error, note, None if entries is None else json_shape(entries, batch.several))


def json_shape(entries: list[dict], several: bool) -> list[dict] | dict:
    """What --json prints of a batch's entries: the list, or one input's own entry alone."""
    return entries if several else entries[0]


def failure(batch: Batch, outcomes: Sequence[JobOutcome]) -> InputError | None:
    """The error a finished batch ends with where inputs of it failed: how many, and how many of the others
    were restored (those another run finished or was writing, skipped, are not); None where none failed."""
    failed = [outcome.job.source for outcome in outcomes if isinstance(outcome, Failed)]
    if not failed:
        return None
    names = ", ".join(str(source) for source in failed)
    restored = sum(isinstance(outcome, Done) for outcome in outcomes)
    todo = len(batch.todo)
    others = todo - len(failed)
    done = f"the other {restored}" if restored == others else f"{restored} of the other {others}"
    return InputError(
        f"{len(failed)} of {todo} inputs failed: {names}",
        hint=f"{done} {'was' if restored == 1 else 'were'} restored; the errors above say what went wrong",
    )


def _entry(job: Job, **state) -> dict:
    """The --json entry of an input that was not restored, or whose restoring a stop cut short: its input and
    output, and `state` (skipped, error, interrupted, finished, not_started)."""
    return {"input": str(job.source), "output": str(job.target), **state}
