"""evaluate_session.evaluate_models: several contenders over a dataset, the input scored once, a stopped
evaluation continued, without the command."""

from __future__ import annotations

from deblur_cli import evaluate_session
from deblur_cli.datasets import find_results, find_sequences
from deblur_cli.errors import InputError
from deblur_cli.evaluate_plan import Stored, read_stored
from deblur_cli.evaluate_session import (
    ModelContender,
    ResultsContender,
    evaluate_models,
    write_reports,
)
from deblur_cli.windows import WindowOptions
from tests.test_evaluate import CountsSequences, Darkens, three_levels, two_sequences

WINDOWS = WindowOptions(window=3, overlap=1, tile=None)


def contender(label, restorer):
    return ModelContender(label, WINDOWS, lambda: restorer)


def test_every_contender_after_the_first_takes_its_input_scores(tmp_path, monkeypatch):
    pairs = find_sequences(two_sequences(tmp_path / "d"))
    passes = []
    real = evaluate_session.evaluate_sequence

    def recording(pair, **kwargs):
        passes.append((pair.name, kwargs["input_scores"] is not None))
        return real(pair, **kwargs)

    monkeypatch.setattr(evaluate_session, "evaluate_sequence", recording)
    reports, events = [], []
    evaluation = evaluate_models(
        "d", pairs, [contender("one", Darkens()), contender("two", Darkens())], save=tmp_path / "saved",
        on_report=reports.append, on_progress=events.append,
    )  # fmt: skip
    assert evaluation.stopped_by is None and evaluation.reports == reports
    assert passes == [("a", False), ("b", False), ("a", True), ("b", True)]
    first, second = reports
    assert [s.input for s in first.sequences] == [s.input for s in second.sequences]
    assert [(e.stage, e.model, e.name) for e in events if e.stage != "frames"][:6] == [
        ("pass", "one", ""), ("started", "one", "a"), ("scored", "one", "a"),
        ("started", "one", "b"), ("scored", "one", "b"), ("pass", "two", ""),
    ]  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["one", "two"]  # a folder each

    results = [ResultsContender("saved", find_results(pairs, tmp_path / "saved" / "one"))]
    again = evaluate_models("d", pairs, [], results)
    assert [s.output for s in again.reports[0].sequences] == [s.output for s in first.sequences]
    assert again.reports[0].timed is False


def test_a_stopped_evaluation_is_kept_and_continued(tmp_path):
    pairs = find_sequences(three_levels(tmp_path / "d"))
    first = evaluate_models("d", pairs, [contender("m", CountsSequences(stop_above=0.6))], digests=True)
    assert isinstance(first.stopped_by, KeyboardInterrupt)
    assert first.partial is first.reports[0] and [s.name for s in first.partial.sequences] == ["a", "b"]
    write_reports(first.reports, tmp_path / "s.json", several=False)
    stored = read_stored(tmp_path / "s.json")
    assert stored.kind == "stopped" and list(stored.reports) == ["m"]
    stopped = stored.reports

    again, events = CountsSequences(), []
    second = evaluate_models(
        "d", pairs, [contender("m", again)], stopped=stopped, digests=True, on_progress=events.append
    )
    assert second.stopped_by is None and len(again.seen) == 1  # only c restored
    assert [s.output for s in second.reports[0].sequences[:2]] == [s.output for s in first.partial.sequences]
    assert [(e.stage, e.taken) for e in events if e.stage in ("pass", "taken")] == [
        ("pass", 2),
        ("taken", 0),
        ("taken", 0),
    ]
    write_reports(second.reports, tmp_path / "s.json", several=False)
    assert read_stored(tmp_path / "s.json") == Stored("finished")  # run again whole, with --force
    assert read_stored(tmp_path / "none.json") == Stored("absent")
    for bad in ("{", '{"dataset": "d"}', '{"dataset": "d", "models": [1]}'):  # one reading of what is an evaluation
        (tmp_path / "bad.json").write_text(bad)
        assert read_stored(tmp_path / "bad.json") == Stored("other")


def test_a_contender_stopped_before_its_first_sequence_is_left_out(tmp_path):
    pairs = find_sequences(three_levels(tmp_path / "d"))
    models = [contender("whole", CountsSequences()), contender("none", CountsSequences(stop_above=0.0))]

    def bad_build():
        raise InputError("no such weights")

    evaluation = evaluate_models("d", pairs, [*models, ModelContender("never", WINDOWS, bad_build)])
    assert isinstance(evaluation.stopped_by, KeyboardInterrupt) and evaluation.partial is None
    assert [r.model for r in evaluation.reports] == ["whole"] and evaluation.reports[0].complete
    built = evaluate_models("d", pairs, [models[0], ModelContender("never", WINDOWS, bad_build)])
    assert isinstance(built.stopped_by, InputError) and [r.model for r in built.reports] == ["whole"]
