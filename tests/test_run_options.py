"""run_options: the window, tile, batch and sampling checks shared by the commands and api.load, in each one's words."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.errors import UsageError
from deblur_cli.run_options import check_restorer, sampling_note, window_options
from tests import media
from tests.restorers import IdentityRestorer


def test_window_options_take_the_models_defaults_and_word_errors_for_each_front_end():
    windows, notes = window_options("dstnet-s", None, None, 0, 8)
    assert (windows.tile, windows.tile_overlap, notes) == (None, 8, [
        "--tile-overlap 8 is not used: --tile 0 restores whole frames"])  # fmt: skip
    assert window_options("dstnet-s", None, None, None, 8, python=True)[1] == [
        "tile_overlap=8 is not used: tile=None restores whole frames"
    ]
    with pytest.raises(UsageError, match=r"^--overlap \(4\) must be smaller than --window \(4\)$"):
        window_options("dstnet-s", 4, 4, "auto", None)
    with pytest.raises(UsageError, match=r"^overlap \(4\) must be smaller than window \(4\)$"):
        window_options("dstnet-s", 4, 4, "auto", None, python=True)
    with pytest.raises(UsageError, match="tile must be"):
        window_options("dstnet-s", None, None, "64", None, python=True)


def test_a_tile_of_0_is_quoted_as_given_and_named_among_the_values_taken():
    """Found in review (docs52 F8): load(tile=0) restores whole frames, as --tile 0 does, but the note called it
    tile=None and the error for a bad tile did not name 0."""
    assert window_options("dstnet-s", None, None, 0, 8, python=True)[1] == [
        "tile_overlap=8 is not used: tile=0 restores whole frames"
    ]
    with pytest.raises(UsageError, match=r'^tile must be "auto", None or 0 \(whole frames\), or a side in pixels, got'):
        window_options("wtsa-s", None, None, "big", None, python=True)


def test_sampling_notes_name_the_options_as_each_front_end_takes_them():
    assert sampling_note("dstnet-s", 5, 0.0, 1, 3) == (
        "--steps and --seed apply to the diffusion models (wtsa, wtsa-s); dstnet-s restores in one deterministic pass"
        " and ignores them"
    )
    assert sampling_note("dstnet-s", 5, 0.0, 2, 3, python=True) == (
        "steps, samples: dstnet-s restores in one deterministic pass and ignores sampling options"
    )
    assert sampling_note("wtsa-s", 5, 0.5, 2, 3) is None


def test_check_restorer_refuses_tiles_with_no_room_and_notes_an_unbatched_batch():
    windows, _ = window_options("dstnet-s", None, None, 64, 64, batch=2)
    with pytest.raises(UsageError, match="a tile overlap of 64 px leaves no room between 64-px tiles"):
        check_restorer(IdentityRestorer(), "dstnet-s", windows)
    windows, _ = window_options("dstnet-s", None, None, 64, 16, batch=2)
    assert check_restorer(IdentityRestorer(), "dstnet-s", windows) == [
        "--batch 2 does nothing for dstnet-s: it restores one window per call"
    ]
    assert check_restorer(IdentityRestorer(), "dstnet-s", windows, python=True) == [
        "batch=2 does nothing for dstnet-s, which restores one window per call"
    ]


def test_run_refuses_tiles_with_no_room_before_the_output_is_opened(tmp_path, identity):
    """As api.load does: once the model is built, not at the first window (which came after the output opened)."""
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mp4"), "--tile", "64",
                                      "--tile-overlap", "64"])  # fmt: skip
    assert result.exit_code == 2 and "leaves no room between 64-px tiles" in result.stderr, result.output
    assert identity.calls == [] and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
