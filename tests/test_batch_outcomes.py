"""deblur_cli.batch without the command line: a batch planned, what it says, and each input's outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from deblur_cli.batch import (
    Batch,
    Done,
    Failed,
    Said,
    Skipped,
    Started,
    Stopped,
    failure,
    make_output_folders,
    plan_batch,
    restore_batch,
)
from deblur_cli.errors import InputError
from deblur_cli.video_io import EncodeOptions, ReadOptions
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import FailingRestorer, IdentityRestorer, MixingRestorer


def planned(planning) -> tuple[list[Said], Batch]:
    """What a planning says, and its Batch, its output folders made."""
    said = []
    while True:
        try:
            said.append(next(planning))
        except StopIteration as done:
            make_output_folders(done.value)
            return said, done.value


def restored(batch: Batch, restorer) -> list:
    return list(restore_batch(batch, restorer, model="dstnet", windows=WindowOptions(window=3, overlap=1)))


def test_a_skipped_a_failed_and_a_restored_input(tmp_path):
    a, c = media.make_video(tmp_path / "a.mkv", frames=3), media.make_video(tmp_path / "c.mkv", frames=3)
    b = media.truncate(media.make_video(tmp_path / "full.mkv", frames=30), 0.5, tmp_path / "b.mkv")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.mkv").write_bytes(b"kept")
    said, batch = planned(plan_batch([a, b, c], out, ReadOptions(), EncodeOptions(), skip_existing=True))
    assert said == [Said(f"skipped {a}: {out / 'a.mkv'} exists")]
    assert [job.source for job in batch.jobs] == [a, b, c] and [job.source for job in batch.todo] == [b, c]
    # a file cut short is found before the model loads (before warnings of what its output would leave out)
    assert batch.several and list(batch.unreadable) == [b] and batch.none_readable() is None
    assert [job.named for job in batch.jobs] == [False] * 3 and all(job.given for job in batch.jobs)

    outcomes = restored(batch, IdentityRestorer())
    assert [type(outcome) for outcome in outcomes] == [Skipped, Failed, Started, Done]
    assert outcomes[0].note is None  # said when the batch was planned
    assert outcomes[2].number == 3
    assert "ends early" in str(outcomes[1].error) and outcomes[1].unreadable
    assert outcomes[3].entry["frames"] == 3 and outcomes[3].result.output == str(out / "c.mkv")
    finished = [outcome for outcome in outcomes if not isinstance(outcome, Started)]
    assert [sorted(outcome.entry) for outcome in finished[:2]] == [
        ["input", "output", "skipped"],
        ["error", "input", "output"],
    ]
    error = failure(batch, finished)
    assert str(error) == f"1 of 2 inputs failed: {b}"
    assert error.hint == "the other 1 was restored; the errors above say what went wrong"
    assert (out / "a.mkv").read_bytes() == b"kept" and not (out / "b.mkv").exists()


def test_inputs_that_cannot_be_read_fail_before_the_model_loads(tmp_path):
    a = media.make_video(tmp_path / "a.mkv", frames=3)
    broken = [tmp_path / "b.mp4", tmp_path / "c.mp4"]
    for path in broken:
        path.write_text("not a video")
    said, batch = planned(plan_batch([a, *broken], tmp_path / "out", ReadOptions(), EncodeOptions()))
    assert said == [] and list(batch.unreadable) == broken and batch.none_readable() is None
    outcomes = restored(batch, IdentityRestorer())
    assert [type(outcome) for outcome in outcomes] == [Started, Done, Failed, Failed]
    assert all(outcome.unreadable for outcome in outcomes[2:])
    assert str(failure(batch, outcomes[1:])) == f"2 of 3 inputs failed: {broken[0]}, {broken[1]}"

    _, none = planned(plan_batch(broken, tmp_path / "out", ReadOptions(), EncodeOptions()))
    assert str(none.none_readable()) == "none of the 2 inputs can be read"
    assert [sorted(entry) for entry in none.entries()] == [["error", "input", "output"]] * 2
    _, one = planned(plan_batch([a, broken[0]], tmp_path / "o2", ReadOptions(), EncodeOptions()))
    assert one.none_readable() is None


def test_ctrl_c_is_a_stopped_outcome_then_raised(tmp_path):
    videos = [media.make_video(tmp_path / f"{name}.mkv", frames=3) for name in "abc"]
    _, batch = planned(plan_batch(videos, tmp_path / "out", ReadOptions(), EncodeOptions()))
    restoring = restore_batch(
        batch, FailingRestorer(1, KeyboardInterrupt()), model="dstnet", windows=WindowOptions(window=3, overlap=1)
    )
    outcomes = [next(restoring) for _ in range(4)]
    assert [type(outcome) for outcome in outcomes] == [Started, Done, Started, Stopped]
    stopped = outcomes[-1]
    assert stopped.job.source == videos[1] and isinstance(stopped.error, KeyboardInterrupt)
    assert stopped.note == "1 of 3 outputs is finished: the same command with --skip-existing goes on with the rest"
    assert [Path(entry["input"]).name for entry in stopped.json] == ["a.mkv", "b.mkv", "c.mkv"]
    assert [("frames" in e, e.get("interrupted"), e.get("not_started")) for e in stopped.json] == [
        (True, None, None),
        (False, True, None),
        (False, None, True),
    ]
    with pytest.raises(KeyboardInterrupt):  # once what it stopped at is said
        next(restoring)


def test_a_stopped_batch_lists_the_inputs_after_the_stop_already_skipped_or_failed_as_such(tmp_path):
    """Found in review: an input whose error was said as the batch began was listed `"not_started": true` in the
    --json of a batch stopped before it, as those truly not reached were; so was an output --skip-existing skipped."""
    a, c, d = (media.make_video(tmp_path / f"{name}.mkv", frames=3) for name in "acd")
    b = media.truncate(media.make_video(tmp_path / "full.mkv", frames=30), 0.5, tmp_path / "b.mkv")
    out = tmp_path / "out"
    out.mkdir()
    (out / "d.mkv").write_bytes(b"kept")
    _, batch = planned(plan_batch([a, b, c, d], out, ReadOptions(), EncodeOptions(), skip_existing=True))
    restoring = restore_batch(
        batch, FailingRestorer(0, KeyboardInterrupt()), model="dstnet", windows=WindowOptions(window=3, overlap=1)
    )
    stopped = [next(restoring) for _ in range(2)][-1]
    assert isinstance(stopped, Stopped) and stopped.job.source == a
    assert stopped.json == [
        {"input": str(a), "output": str(out / "a.mkv"), "interrupted": True},
        {"input": str(b), "output": str(out / "b.mkv"), "error": str(batch.unreadable[b])},
        {"input": str(c), "output": str(out / "c.mkv"), "not_started": True},
        {"input": str(d), "output": str(out / "d.mkv"), "skipped": True},
    ]
    with pytest.raises(KeyboardInterrupt):
        next(restoring)


@pytest.mark.parametrize("at", ["a.mkv", "b.mkv"])
def test_a_stop_as_an_output_is_renamed_into_place_lists_it_as_finished(tmp_path, monkeypatch, at):
    """Found by chaos48: the run said "a.mkv was finished before the stop: it is complete", and --json listed it
    as interrupted (a script would restore it again), without it in the count of outputs finished."""
    import signal

    import deblur_cli.video_io.atomic as atomic_module
    from deblur_cli.interrupts import stop_now

    real = atomic_module.commit

    def then_ctrl_c(temp, final):  # the signal arrives as the rename returns
        real(temp, final)
        if final.name == at:
            stop_now(signal.SIGINT, None)

    monkeypatch.setattr(atomic_module, "commit", then_ctrl_c)
    videos = [media.make_video(tmp_path / f"{name}.mkv", frames=3) for name in "ab"]
    _, batch = planned(plan_batch(videos, tmp_path / "out", ReadOptions(), EncodeOptions()))
    notes: list[str] = []
    windows = WindowOptions(window=3, overlap=1)
    restoring = restore_batch(batch, IdentityRestorer(), model="dstnet", windows=windows, on_note=notes.append)
    outcomes = []
    with pytest.raises(KeyboardInterrupt):  # once what it stopped at is said
        for outcome in restoring:
            outcomes.append(outcome)
    stopped = outcomes[-1]
    assert isinstance(stopped, Stopped) and stopped.job.target.name == at
    assert notes == [f"{tmp_path / 'out' / at} was finished before the stop: it is complete"]
    if at == "a.mkv":
        assert stopped.json == [
            {"input": str(videos[0]), "output": str(tmp_path / "out" / "a.mkv"), "finished": True},
            {"input": str(videos[1]), "output": str(tmp_path / "out" / "b.mkv"), "not_started": True},
        ]
        assert stopped.note == "1 of 2 outputs is finished: the same command with --skip-existing goes on with the rest"
    else:
        assert stopped.json[0]["frames"] == 3 and stopped.json[1] == {
            "input": str(videos[1]), "output": str(tmp_path / "out" / "b.mkv"), "finished": True
        }  # fmt: skip
        assert stopped.note == "all 2 outputs are finished"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mkv", "b.mkv"][: 1 + (at == "b.mkv")]


@pytest.mark.parametrize("skip_existing", [False, True])
def test_an_input_stopped_after_a_finished_one_says_the_command_that_continues_it(tmp_path, monkeypatch, skip_existing):
    """Found by chaos48: its note said "the same command continues from there", which stops at the finished
    output ("output exists"); the batch's own note said --skip-existing."""
    import deblur_cli.pipeline as pipeline

    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 3)
    videos = [media.make_video(tmp_path / "a.mkv", frames=4), media.make_video(tmp_path / "b.mkv", frames=30)]
    _, batch = planned(
        plan_batch(videos, tmp_path / "out", ReadOptions(), EncodeOptions(codec="ffv1"), skip_existing=skip_existing)
    )
    notes: list[str] = []
    windows = WindowOptions(window=3, overlap=1)
    restoring = restore_batch(batch, MixingRestorer(fail_after=8), model="mix", windows=windows, on_note=notes.append)
    outcomes = [next(restoring) for _ in range(4)]
    assert [type(outcome) for outcome in outcomes] == [Started, Done, Started, Stopped]
    again = "the same command" if skip_existing else "the same command with --skip-existing"
    assert len(notes) == 1 and notes[0].startswith("the first ") and f": {again} continues from there" in notes[0]


def test_one_input_raises_its_own_error_after_its_json_entry(tmp_path):
    b = media.truncate(media.make_video(tmp_path / "full.mkv", frames=30), 0.5, tmp_path / "b.mkv")
    _, cut = planned(plan_batch([b], tmp_path / "out.mkv", ReadOptions(), EncodeOptions()))
    assert "ends early" in str(cut.none_readable())  # as it is planned, before the model loads
    assert cut.entries() == [{"input": str(b), "output": str(tmp_path / "out.mkv"), "error": str(cut.unreadable[b])}]
    a = media.make_video(tmp_path / "a.mkv", frames=3)
    _, batch = planned(plan_batch([a], tmp_path / "out.mkv", ReadOptions(), EncodeOptions()))
    assert not batch.several and batch.jobs[0].named and not batch.unreadable
    failing = FailingRestorer(0, InputError("a.mkv cannot be read on"))
    restoring = restore_batch(batch, failing, model="dstnet", windows=WindowOptions(window=3, overlap=1))
    started, stopped = next(restoring), next(restoring)  # as it restores: not a Failed outcome
    assert isinstance(started, Started) and isinstance(stopped, Stopped) and stopped.note is None
    assert stopped.json == {"input": str(a), "output": str(tmp_path / "out.mkv"), "error": "a.mkv cannot be read on"}
    with pytest.raises(InputError, match="read on"):
        next(restoring)
