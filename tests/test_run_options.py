"""run_options: the window, tile, batch and sampling checks shared by the commands and api.load, worded once for the
command line, and in load's arguments' terms through api._python_terms."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from deblur_cli.api import _python_terms
from deblur_cli.cli import app
from deblur_cli.errors import UsageError
from deblur_cli.restorer import ModelFacts
from deblur_cli.run_options import check_restorer, sampling_note, window_options
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import IdentityRestorer


def test_window_options_take_the_models_defaults_and_word_errors_once():
    windows, notes = window_options("dstnet-s", None, None, 0, 8)
    said = "--tile-overlap 8 is not used without tiles: whole frames are restored"
    assert (windows.tile, windows.tile_overlap, notes) == (None, 8, [said])
    assert _python_terms(said) == "tile_overlap=8 is not used without tiles: whole frames are restored"
    with pytest.raises(UsageError, match="^--overlap 4 must be smaller than --window 4$"):
        window_options("dstnet-s", 4, 4, "auto", None)
    with pytest.raises(UsageError, match="^--overlap 2 must be smaller than --window 2$") as raised:
        window_options("dstnet-s", 2, None, "auto", None)  # the model's overlap: say what fits
    assert _python_terms(str(raised.value)) == "overlap=2 must be smaller than window=2"
    assert _python_terms(raised.value.hint) == "add overlap=1 or less (dstnet-s's is 2)"
    with pytest.raises(UsageError, match="tile must be"):
        window_options("dstnet-s", None, None, "64", None)


def test_tiles_under_the_least_advised_are_noted_for_the_commands_only():
    said = "--tile 32: tiles under 64 pixels restore less"
    assert window_options("dstnet-s", None, None, 32, None)[1][0].startswith(said)
    assert window_options("dstnet-s", None, None, 32, None, note_small_tiles=False)[1] == []


def test_a_tile_of_0_is_named_among_the_values_taken():
    """Found in review (docs52 F8): the error for a bad tile did not name 0, which load(tile=0) takes as --tile 0."""
    with pytest.raises(UsageError, match=r'^tile must be "auto", None or 0 \(whole frames\), or a side in pixels, got'):
        window_options("wtsa-s", None, None, "big", None)


def test_sampling_notes_name_the_options_with_their_values():
    """Found in review (structure54 F5): load's own copy of the note named neither the values nor the models that
    sample; the command line's, through _python_terms, read "steps=... and seed=... apply"."""
    said = sampling_note("dstnet-s", 5, 0.5, 1, 3)
    assert said == (
        "--steps 5, --eta 0.5 and --seed 3 apply to the diffusion models (wtsa, wtsa-s); dstnet-s restores in one"
        " deterministic pass and ignores them"
    )
    assert _python_terms(said).startswith("steps=5, eta=0.5 and seed=3 apply to the diffusion models")
    assert sampling_note("dstnet-s", 20, 0.0, 2).startswith("--samples 2 applies to the diffusion models")
    assert sampling_note("wtsa-s", 5, 0.5, 2, 3) is None


def test_check_restorer_refuses_tiles_with_no_room_and_notes_an_unbatched_batch():
    windows, _ = window_options("dstnet-s", None, None, 64, 64, batch=2)
    with pytest.raises(UsageError, match="a tile overlap of 64 px leaves no room between 64-px tiles"):
        check_restorer(IdentityRestorer(), "dstnet-s", windows)
    windows, _ = window_options("dstnet-s", None, None, 64, 16, batch=2)
    assert check_restorer(IdentityRestorer(), "dstnet-s", windows) == [
        "--batch 2 does nothing for dstnet-s: it restores one window per call"
    ]


def test_check_restorer_words_each_rule_once_with_its_hint_in_loads_terms_too():
    """Found in review (structure54 F5): load's own copies of these messages had lost the command line's hints."""
    facts = ModelFacts(16, 8, 6, True, torch.device("cpu"))
    for windows, message, hint in [
        (WindowOptions(window=10, overlap=2), "window=10 is longer than wtsa-s accepts (8 frames)", "use window=8 or less"),
        (WindowOptions(window=6, overlap=2, tile=8), "tile=8 must be at least 16 pixels for wtsa-s", "use tile=16 or more"),
    ]:  # fmt: skip
        with pytest.raises(UsageError) as raised:
            check_restorer(facts, "wtsa-s", windows)
        assert (_python_terms(str(raised.value)), _python_terms(raised.value.hint)) == (message, hint)
    notes = check_restorer(facts, "wtsa-s", WindowOptions(window=8, overlap=2), compiled=True)
    assert [_python_terms(note) for note in notes] == [
        "window=8: wtsa-s's weights learned windows of up to 6 frames; frames 7 to 8 of each window get positions the"
        " network never learned (use window=6 or less)",
        "compile=True on a CPU: measured no faster than without, after minutes of compiling (docs/cli.md)",
    ]


def test_run_refuses_tiles_with_no_room_before_the_output_is_opened(tmp_path, identity):
    """As api.load does: once the model is built, not at the first window (which came after the output opened)."""
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mp4"), "--tile", "64",
                                      "--tile-overlap", "64"])  # fmt: skip
    assert result.exit_code == 2 and "leaves no room between 64-px tiles" in result.stderr, result.output
    assert identity.calls == [] and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
