"""mix.Mix: what a run keeps of the restoration (--strength, --keep-still, --keep-detail), one value from the
options to the stream, the labels and the recorded settings."""

from __future__ import annotations

import dataclasses
import math

import pytest

from deblur_cli.errors import UsageError
from deblur_cli.mix import Mix
from deblur_cli.pipeline import output_settings
from deblur_cli.video_io.work_folder import key_changes
from deblur_cli.windows import WindowOptions
from tests.restorers import MixingRestorer


@pytest.mark.parametrize("strength", [-0.1, 1.5, math.nan, math.inf])
def test_a_strength_outside_0_to_1_is_refused_with_a_hint(strength):
    with pytest.raises(UsageError, match="--strength must be between 0 and 1") as refused:
        Mix(strength)
    assert refused.value.hint == "1 keeps the whole restoration, 0.5 half of it, 0 the input"


def test_the_words_say_what_is_kept_in_the_order_of_the_options():
    assert Mix().words() == []
    assert Mix(1.0, keep_detail=True).words() == ["keep-detail"]
    assert Mix(0.25, True, True).words() == ["strength 0.25", "keep-still", "keep-detail"]
    assert Mix(0).words() == ["strength 0"]


def test_the_input_is_kept_beside_the_restored_frames_only_for_what_needs_it():
    assert not Mix().keeps_input and not Mix(0.5).keeps_input
    assert Mix(keep_still=True).keeps_input and Mix(keep_detail=True).keeps_input


def test_every_field_is_recorded_and_a_change_of_it_names_its_option():
    """A field added to Mix reaches `run --json`'s settings and the resume key, and a run that finds work kept under
    another value says which option changed, not a bare key."""
    windows = WindowOptions(window=3, overlap=1, tile=None)
    options = {"strength": "--strength", "keep_still": "--keep-still", "keep_detail": "--keep-detail"}
    assert [field.name for field in dataclasses.fields(Mix)] == list(options)
    before = output_settings(MixingRestorer(), windows, Mix())
    assert {name: before[name] for name in options} == {"strength": 1.0, "keep_still": False, "keep_detail": False}
    for name, option in options.items():
        changed = output_settings(MixingRestorer(), windows, Mix(**{name: 0.5 if name == "strength" else True}))
        told = [(change.kind, change.text.split(",")[0].split(" ")[0]) for change in key_changes(before, changed)]
        assert told == [("option", option)], told
