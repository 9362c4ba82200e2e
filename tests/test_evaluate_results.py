"""`deblur evaluate --results`: frames restored elsewhere, found by sequence name and scored as a model's are."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

import deblur_cli.restorers as restorers_module
from deblur_cli.cli import app
from deblur_cli.datasets import find_results, find_sequences
from deblur_cli.errors import InputError
from deblur_cli.evaluate import evaluate_sequence, score_results
from tests.media import make_images, write_image, write_video
from tests.restorers import IdentityRestorer
from tests.test_evaluate import WINDOWS, Darkens, frames_folder, random_images, table_rows, two_sequences

runner = CliRunner()


def test_results_are_found_by_the_sequence_name_or_a_tail_of_it(tmp_path):
    for seq in ("GOPR0384_11_00", "GOPR0410_11_00", "GOPR0862_11_00"):
        for kind in ("blur", "sharp"):
            make_images(tmp_path / "data" / "test" / seq / kind, count=2)
    pairs = find_sequences(tmp_path / "data")
    assert [p.name for p in pairs] == ["test/GOPR0384_11_00", "test/GOPR0410_11_00", "test/GOPR0862_11_00"]
    results = tmp_path / "results"
    make_images(results / "test" / "GOPR0384_11_00", count=2)  # the whole name
    make_images(results / "GOPR0410_11_00", count=2)  # its last part, as published results are laid out
    write_video(results / "gopr0862_11_00.MKV", random_images(2, seed=0))  # a video; no case, any suffix
    (results / "GOPR0384_11_00").mkdir()  # an empty folder of the right name is not taken before the whole name
    assert find_results(pairs, results) == {
        "test/GOPR0384_11_00": results / "test" / "GOPR0384_11_00",
        "test/GOPR0410_11_00": results / "GOPR0410_11_00",
        "test/GOPR0862_11_00": results / "gopr0862_11_00.MKV",
    }


def test_one_sequence_may_be_the_results_folder_itself(tmp_path):
    frames_folder(tmp_path / "seq" / "blur", random_images(2, seed=0))
    frames_folder(tmp_path / "seq" / "sharp", random_images(2, seed=1))
    frames_folder(tmp_path / "out", random_images(2, seed=2))
    pairs = find_sequences(tmp_path / "seq")
    assert find_results(pairs, tmp_path / "out") == {"seq": tmp_path / "out"}
    frames_folder(tmp_path / "out" / "seq", random_images(2, seed=3))  # the sequence's own folder comes first
    assert find_results(pairs, tmp_path / "out") == {"seq": tmp_path / "out" / "seq"}


def test_results_equal_to_the_sharp_frames_score_an_infinite_psnr(tmp_path, monkeypatch):
    """The restored frames are rounded to 8 bits with the same float32 arithmetic the sharp ones are
    read with (they differed by 6e-8, which scored 154 dB)."""
    sharp = random_images(2, seed=1)
    frames_folder(tmp_path / "seq" / "blur", random_images(2, seed=0))
    frames_folder(tmp_path / "seq" / "sharp", sharp)
    frames_folder(tmp_path / "out", sharp)
    result = runner.invoke(app, ["evaluate", str(tmp_path / "seq"), "--results", str(tmp_path / "out"),
                                 "--json", str(tmp_path / "r.json"), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "r.json").read_text())
    assert scores["sequences"][0]["output"]["psnr"] == "Infinity"  # JSON has no infinity: the string float() reads
    assert scores["sequences"][0]["output"]["ssim"] == pytest.approx(1.0)
    # which frames were scored, and how, as a model's report says it (research52 F9): they had {} and device ""
    assert scores["device"] is None
    assert scores["settings"] == {
        "results": {"seq": str(tmp_path / "out")}, "frames": None, "lpips": None, "niqe": False, "flicker": False
    }
    frames_folder(tmp_path / "still" / "blur", sharp)  # the input exact too: a gain of inf − inf is no number
    frames_folder(tmp_path / "still" / "sharp", sharp)
    monkeypatch.chdir(tmp_path)  # no path in the table: a long one folds it, and one may hold "nan" (tests53 F1)
    table = runner.invoke(app, ["evaluate", "still", "--results", "out", "-q"])
    assert table.exit_code == 0 and "inf" in table.stdout and "nan" not in table.stdout


def test_an_infinite_psnr_says_how_many_frames_were_restored_exactly(tmp_path):
    """Found in review: one exact frame made every mean infinite without a word, and nothing said how many."""
    sharp = random_images(3, seed=1)
    frames_folder(tmp_path / "seq" / "blur", random_images(3, seed=0))
    frames_folder(tmp_path / "seq" / "sharp", sharp)
    frames_folder(tmp_path / "out", [sharp[0], random_images(1, seed=2)[0], sharp[2]])
    result = runner.invoke(app, ["evaluate", str(tmp_path / "seq"), "--results", str(tmp_path / "out"),
                                 "--json", str(tmp_path / "r.json"), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (sequence,) = json.loads((tmp_path / "r.json").read_text())["sequences"]
    assert sequence["output"]["psnr"] == "Infinity" and sequence["exact_frames"] == 2
    assert "PSNR is infinite in 1 of 1 sequences, and so its means: 2 of 3 frames equal their sharp frames" in (
        " ".join(result.stderr.split())
    )
    blurred = runner.invoke(app, ["evaluate", str(tmp_path / "seq"), "--results", str(tmp_path / "seq" / "blur"), "-q"])
    assert blurred.exit_code == 0 and "PSNR is infinite" not in blurred.stderr, blurred.output


def test_a_16_bit_dataset_is_scored_and_saved_at_16_bits(tmp_path, monkeypatch):
    """The blurred frames given back as results score as the input does, and --save's 16-bit PNGs score
    what the table said (restored frames were rounded to 8 bits, the rest read at 16)."""
    rng = np.random.default_rng(0)
    deep = [rng.integers(0, 65536, (20, 24, 3), dtype=np.uint16) for _ in range(4)]
    frames_folder(tmp_path / "seq" / "blur", deep[:2])
    frames_folder(tmp_path / "seq" / "sharp", deep[2:])
    as_results = runner.invoke(app, ["evaluate", str(tmp_path / "seq"), "--results", str(tmp_path / "seq" / "blur"),
                                     "--json", str(tmp_path / "r.json"), "-q"])  # fmt: skip
    assert as_results.exit_code == 0, as_results.output
    sequence = json.loads((tmp_path / "r.json").read_text())["sequences"][0]
    assert sequence["output"]["psnr"] == sequence["input"]["psnr"] and sequence["output"]["ssim"] == sequence["input"]["ssim"]
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: Darkens())
    saved = runner.invoke(app, ["evaluate", str(tmp_path / "seq"), "-m", "dstnet-s", "--save", str(tmp_path / "s"),
                                "--json", str(tmp_path / "m.json"), "-q"])  # fmt: skip
    assert saved.exit_code == 0, saved.output
    rescored = runner.invoke(app, ["evaluate", str(tmp_path / "seq"), "--results", str(tmp_path / "s"),
                                   "--json", str(tmp_path / "s.json"), "-q"])  # fmt: skip
    assert rescored.exit_code == 0, rescored.output
    model, files = (json.loads((tmp_path / name).read_text())["sequences"][0]["output"] for name in ("m.json", "s.json"))
    assert model["psnr"] == pytest.approx(files["psnr"], abs=1e-9) and model["ssim"] == pytest.approx(files["ssim"], abs=1e-9)


def test_missing_results_are_named_before_any_work(tmp_path):
    data = two_sequences(tmp_path / "d")
    pairs = find_sequences(data)
    frames_folder(tmp_path / "r" / "a", random_images(3, seed=0, size=(32, 32)))
    with pytest.raises(InputError, match=r"no results in .* for 1 of 2 sequences: b"):
        find_results(pairs, tmp_path / "r")
    with pytest.raises(InputError, match="is not a folder"):
        find_results(pairs, tmp_path / "nowhere")


def test_saved_frames_score_as_the_model_that_saved_them(tmp_path, monkeypatch):
    """--save writes what the model restored; --results reads it back: the same scores, to the last
    digit, for every sequence, without a model being built."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: Darkens())
    data = two_sequences(tmp_path / "d")
    saved, first, second = tmp_path / "saved", tmp_path / "model.json", tmp_path / "results.json"
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "--save", str(saved), "--json", str(first), "-q"])
    assert result.exit_code == 0, result.output

    def no_model(*args, **kwargs):
        raise AssertionError("--results alone must not build a model")

    monkeypatch.setattr(restorers_module, "build_restorer", no_model)
    result = runner.invoke(app, ["evaluate", str(data), "--results", str(saved), "--json", str(second), "-q"])
    assert result.exit_code == 0, result.output
    model, files = json.loads(first.read_text()), json.loads(second.read_text())
    assert files["model"] == str(saved) and files["fps"] is None
    assert [s["output"] for s in files["sequences"]] == [s["output"] for s in model["sequences"]]
    assert [s["input"] for s in files["sequences"]] == [s["input"] for s in model["sequences"]]
    assert model["mean_of_sequences"]["output"]["psnr"] < model["mean_of_sequences"]["input"]["psnr"] - 1  # darker


def test_frames_saved_from_a_rotated_dataset_score_as_the_model_that_saved_them(tmp_path, monkeypatch):
    """JPEGs whose EXIF says "turn 90 degrees" are scored as stored; --save writes them so, not turned,
    or --results of them would compare turned frames with unturned ones."""
    from PIL import Image

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: Darkens())
    data = tmp_path / "d"
    for kind, shift in (("sharp", 0), ("blur", 40)):
        (data / "a" / kind).mkdir(parents=True)
        for i, image in enumerate(random_images(2, seed=7, size=(40, 24))):
            exif = Image.Exif()
            exif[0x0112] = 6  # Orientation: the stored picture is to be turned 90 degrees for display
            picture = Image.fromarray(np.clip(image.astype(int) // 2 + shift, 0, 255).astype(np.uint8))
            picture.save(data / "a" / kind / f"{i:06d}.jpg", quality=95, exif=exif)
    saved, first, second = tmp_path / "saved", tmp_path / "model.json", tmp_path / "results.json"
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "--save", str(saved), "--json", str(first), "-q"])
    assert result.exit_code == 0, result.output
    with av.open(str(next(saved.rglob("000000.png")))) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (40, 24)  # as stored
    result = runner.invoke(app, ["evaluate", str(data), "--results", str(saved), "--json", str(second), "-q"])
    assert result.exit_code == 0, result.output
    model, files = json.loads(first.read_text()), json.loads(second.read_text())
    assert [s["output"] for s in files["sequences"]] == [s["output"] for s in model["sequences"]]


def test_results_beside_models_in_one_comparison(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    monkeypatch.chdir(tmp_path)  # "same" names its row whole; a long path folds in the table (tests53 F1)
    data = two_sequences(Path("d"))
    for k, seq in enumerate(("a", "b")):  # a method that returns the blurred frames: scores as the identity does
        frames_folder(Path("same") / seq, blurred_images(k))
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "--results", "same", "-q"])
    assert result.exit_code == 0, result.output
    assert len(table_rows(result.stdout, "sequence")) == 2 and "(restored elsewhere)" in result.output
    of_sequences, of_frames = table_rows(result.stdout, "model")
    for rows in (of_sequences[:3], of_frames):  # the first's rows run on into the second's title
        assert [row[0] for row in rows] == ["input", "dstnet-s", "same"]
        assert rows[0][1] == rows[1][1] == rows[2][1]  # the same PSNR: all three are the blurred frames


def blurred_images(k):
    """The blurred frames of sequence k of two_sequences."""
    return [(s // 2 + 64).astype(np.uint8) for s in random_images(3, seed=k, size=(32, 32))]


@pytest.mark.parametrize(
    "count, size, message",
    [(2, (32, 32), "fewer frames than"), (4, (32, 32), "more frames than"), (3, (16, 32), "are 16x32, the blurred ones 32x32")],
)
def test_results_must_match_the_blurred_frames(tmp_path, count, size, message):
    data = two_sequences(tmp_path / "d")
    pair = find_sequences(data)[0]
    results = frames_folder(tmp_path / "r", random_images(count, seed=5, size=size))
    with pytest.raises(InputError, match=message):
        score_results(pair, results)
    frames_folder(tmp_path / "all" / "b", random_images(3, seed=5, size=(32, 32)))
    (tmp_path / "r").rename(tmp_path / "all" / "a")
    result = runner.invoke(app, ["evaluate", str(data), "--results", str(tmp_path / "all"), "-q"])
    assert result.exit_code == 1 and message.split(",")[0] in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: (r / "b" / "000002.png").unlink(), "b: .* has fewer frames than"),
        (lambda r: (r / "b" / "000001.png").unlink(), "b: blurred frame 000001 has no restored frame of its name"),
        (lambda r: (r / "b" / "000001.png").rename(r / "b" / "000007.png"), "b: blurred frame 000001 has no restored"),
        (lambda r: shutil.copy(r / "b" / "000000.png", r / "b" / "000003.png"), "b: .* has more frames than"),
    ],
)
def test_results_that_do_not_pair_with_the_blurred_frames_are_refused_before_a_model_runs(
    tmp_path, monkeypatch, change, message
):
    """Found by review: a frame missing from the last sequence's results was named only when that sequence
    was scored, after every model had restored the whole dataset."""
    restorer = IdentityRestorer()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: restorer)
    data = two_sequences(tmp_path / "d")
    for k, seq in enumerate(("a", "b")):
        frames_folder(tmp_path / "r" / seq, blurred_images(k))
    change(tmp_path / "r")
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "--results", str(tmp_path / "r"), "-q"])
    assert result.exit_code == 1 and re.search(message, result.stderr), result.output
    assert restorer.calls == []  # nothing restored
    with pytest.raises(InputError, match=message):  # what score_results finds when it reads them
        score_results(find_sequences(data)[1], tmp_path / "r" / "b")


def test_a_dataset_whose_sharp_frames_do_not_pair_is_refused_before_a_model_runs(tmp_path, monkeypatch):
    restorer = IdentityRestorer()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: restorer)
    data = two_sequences(tmp_path / "d")
    (data / "b" / "sharp" / "000000.png").unlink()
    result = runner.invoke(app, ["evaluate", str(data), "-m", "dstnet-s", "-q"])
    assert result.exit_code == 1 and "b: blurred frame 000000 has no sharp frame" in result.stderr, result.output
    assert restorer.calls == []


def test_first_frames_only_with_frames(tmp_path):
    """--frames N scores the first N frames of results that hold more, as it does a model's."""
    data = two_sequences(tmp_path / "d")
    pair = find_sequences(data)[0]
    longer = frames_folder(tmp_path / "r", blurred_images(0) + random_images(2, seed=9, size=(32, 32)))
    restored = score_results(pair, longer, max_frames=2)
    model = evaluate_sequence(pair, IdentityRestorer(), WINDOWS, max_frames=2)
    assert restored.frames == 2 and restored.output == pytest.approx(model.output)


def test_a_stopped_evaluation_with_save_continues_and_keeps_its_frames(tmp_path, monkeypatch):
    """--save with --json: the continued command takes the finished sequences with the frames saved for
    them, saves the rest, and --results then scores the folder as the whole evaluation did. Under other
    settings a saved folder is refused, not overwritten."""
    from tests.test_evaluate import CountsSequences, three_levels

    data, out, saved = three_levels(tmp_path / "d"), tmp_path / "scores.json", tmp_path / "saved"
    args = ["evaluate", str(data), "-m", "dstnet-s", "--json", str(out), "--save", str(saved), "-q"]
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: CountsSequences(stop_above=0.6))
    stopped = runner.invoke(app, args)
    assert stopped.exit_code == 130 and "the same command continues from there" in stopped.stderr
    assert sorted(p.name for p in saved.iterdir()) == ["a", "b"]
    first = min((saved / "a").iterdir())  # named after the sequence's first blurred frame
    first_frames = first.stat().st_mtime_ns

    again = CountsSequences()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: again)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 of 3 sequences were scored with dstnet-s already" in result.stderr and len(again.seen) == 1
    assert sorted(p.name for p in saved.iterdir()) == ["a", "b", "c"]
    assert first.stat().st_mtime_ns == first_frames  # kept, not written again
    scores = json.loads(out.read_text())
    result = runner.invoke(app, ["evaluate", str(data), "--results", str(saved), "--json", str(tmp_path / "r.json"), "-q"])
    assert result.exit_code == 0, result.output
    assert [s["output"] for s in json.loads((tmp_path / "r.json").read_text())["sequences"]] == [
        s["output"] for s in scores["sequences"]
    ]

    # stopped again, then continued by another model: the saved frames are not its own
    shutil.rmtree(saved)
    out.unlink()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: CountsSequences(stop_above=0.6))
    runner.invoke(app, args)
    other = CountsSequences(name="other")
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: other)
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "holds frames an earlier evaluation saved with other settings" in result.output
    assert other.seen == []


def test_a_folder_given_twice_or_named_as_a_model_is_told_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    data = two_sequences(tmp_path / "d")
    for k, seq in enumerate(("a", "b")):
        frames_folder(tmp_path / "dstnet-s" / seq, blurred_images(k))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "scores.json"
    args = ["evaluate", str(data), "-m", "dstnet-s", "--results", "dstnet-s", "--results", "dstnet-s", "--json", str(out), "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [m["model"] for m in json.loads(out.read_text())["models"]] == ["dstnet-s", "dstnet-s #2", "dstnet-s #3"]


def test_results_are_paired_with_the_blurred_frames_by_name(tmp_path):
    """With --frames the count checks stop early, so a missing restored frame showed only as every later
    frame scored against its neighbour's sharp frame."""
    frames_folder(tmp_path / "s" / "blur", random_images(3, seed=0))
    frames_folder(tmp_path / "s" / "sharp", random_images(3, seed=1))
    results = frames_folder(tmp_path / "out", random_images(3, seed=1))
    (results / "000001.png").unlink()
    with pytest.raises(InputError, match="blurred frame 000001 has no restored frame"):
        score_results(find_sequences(tmp_path / "s")[0], results, max_frames=2)


def test_a_set_of_videos_names_its_sequences_without_the_suffix(tmp_path):
    """BasicSR's layout of videos (blur/seq0.mkv, gt/seq0.mkv): results for seq0 are in a folder seq0."""
    for kind in ("blur", "gt"):
        (tmp_path / "data" / "test" / kind).mkdir(parents=True)
        write_video(tmp_path / "data" / "test" / kind / "seq0.mkv", random_images(2, seed=0))
    pairs = find_sequences(tmp_path / "data")
    assert [p.name for p in pairs] == ["test/seq0"]
    make_images(tmp_path / "results" / "seq0", count=2, size=(24, 20))
    assert find_results(pairs, tmp_path / "results") == {"test/seq0": tmp_path / "results" / "seq0"}


def test_options_for_models_given_with_results_alone_are_warned_of(tmp_path):
    """Found in review: `--results DIR --save S --strength 0.5` without --model saved nothing, without a word."""
    frames_folder(tmp_path / "seq" / "blur", random_images(2, seed=0))
    frames_folder(tmp_path / "seq" / "sharp", random_images(2, seed=1))
    frames_folder(tmp_path / "out", random_images(2, seed=2))
    command = ["evaluate", str(tmp_path / "seq"), "--results", str(tmp_path / "out"), "-q"]
    result = runner.invoke(app, [*command, "--save", str(tmp_path / "saved"), "--strength", "0.5", "--no-scene-cuts"])
    assert result.exit_code == 0, result.output
    warning = "warning: --strength, --save, --no-scene-cuts are for models, and --results without --model runs none"
    assert warning in " ".join(result.stderr.split()) and not (tmp_path / "saved").exists()
    assert "warning" not in runner.invoke(app, [*command, "--frames", "2"]).stderr  # --frames is for the results too


def test_results_named_after_the_blurred_frames_and_an_experiment_pair_with_them(tmp_path):
    """Found by review (research52 F1): BasicSR saves `<blurred frame>_<experiment>.png`, and an experiment
    name with a digit (`BasicVSR_REDS4`) made the last number of every name 4, so every frame was refused."""
    data = two_sequences(tmp_path / "d")
    pair = find_sequences(data)[1]
    numbered = frames_folder(tmp_path / "numbered", blurred_images(1))
    named = tmp_path / "named"
    named.mkdir()
    for path in numbered.iterdir():
        shutil.copy(path, named / f"{path.stem}_BasicVSR_REDS4.png")
    assert score_results(pair, named).output == score_results(pair, numbered).output
    (named / "000001_BasicVSR_REDS4.png").unlink()
    with pytest.raises(InputError, match="blurred frame 000001 has no restored frame of its name"):
        score_results(pair, named)


def test_a_blurred_name_that_begins_another_pairs_with_its_own_frame(tmp_path):
    """1_x4.png pairs with frame 1 and 10_x4.png with frame 10, which also begins with 1."""
    images = random_images(11, seed=0)
    for kind in ("blur", "sharp"):
        (tmp_path / "s" / kind).mkdir(parents=True)
        for k, image in enumerate(images, start=1):
            write_image(tmp_path / "s" / kind / f"{k}.png", image)
    (tmp_path / "r").mkdir()
    for k, image in enumerate(images, start=1):
        write_image(tmp_path / "r" / f"{k}_x4.png", image)
    assert score_results(find_sequences(tmp_path / "s")[0], tmp_path / "r").output["psnr"] == math.inf
    from deblur_cli.evaluate import _check_names

    with pytest.raises(InputError, match="blurred frame 3 has no restored frame of its name"):  # 30 is not 3
        _check_names("s", ["1", "2", "3"], ["1_x4", "2_x4", "30_x4"], Path("r"), "restored", None, "hint")


@pytest.mark.parametrize(
    "blurred, other, message",
    [
        (  # the experiment's digit is every name's last number, and no name begins with a blurred frame's
            ["000000", "000001", "000002"],
            ["0_BasicVSR_REDS4", "1_BasicVSR_REDS4", "2_BasicVSR_REDS4"],
            "3 restored frames in r are all read as frame 4 (the last number in their names): 0_BasicVSR_REDS4, ",
        ),
        (["01", "1", "2"], ["00001", "00002", "00003"], "blurred frames 01 and 1 are both read as frame 1"),
    ],
)
def test_names_that_read_as_one_frame_are_named(tmp_path, blurred, other, message):
    """Found by review (research52 F1): these said "has no frame of its name" or "would be paired with"."""
    from deblur_cli.evaluate import _check_names

    with pytest.raises(InputError, match=re.escape(message)) as raised:
        _check_names("s", blurred, other, Path("r"), "restored", None, "hint")
    assert "last number, or, for a sharp or restored frame, by beginning with" in raised.value.hint
