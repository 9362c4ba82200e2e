"""`deblur synth --add`: one's own sharp photos, frame folders and videos in a source cache, each clip one
scene of the train/validation split; and what a folder of images given as --sources is told."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import deblur_cli.cli.synth  # noqa: F401  registers the command
from deblur_cli.cli.app import app
from deblur_cli.data.dataset import split_videos
from deblur_cli.data.own import FRAMES_PER_CLIP, add_own
from deblur_cli.data.photos import is_validation, list_photos, load_photo, scene_group
from deblur_cli.data import sources
from deblur_cli.data.sources import fetch_sources
from deblur_cli.data.videos import load_video
from tests import media


def own_folder(folder):
    """Two photos, a folder of 12 frames, a 30-frame video, one photo too small, one broken, one text."""
    folder.mkdir()
    for name, index in (("IMG_0001.png", 0), ("IMG_0002.jpg", 1)):
        media.write_image(folder / name, media.pattern(index, 320, 240))
    (folder / "walk").mkdir()
    for index in range(12):
        media.write_image(folder / "walk" / f"{index:04d}.png", media.pattern(index, 256, 208))
    media.make_video(folder / "street.mp4", frames=30, size=(224, 208))
    media.write_image(folder / "tiny.png", media.pattern(2, 120, 90))
    (folder / "broken.jpg").write_bytes(b"not a picture")
    (folder / "notes.txt").write_text("what is not a picture is passed over")
    return folder


def synth(*args: str):
    return CliRunner().invoke(app, ["synth", *args])


def test_the_scenes_held_out_for_validation_are_named(tmp_path):
    """Found in review: with two scenes added, one was held out (half of the footage never trained on), and
    nothing said so."""
    (tmp_path / "mine").mkdir()
    for index, name in enumerate(("a", "clipA", "b")):  # clipA's scene falls in the held-out share
        media.write_image(tmp_path / "mine" / f"{name}.png", media.pattern(index, 240, 208))
    result = synth("--add", str(tmp_path / "mine"), "--sources", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "note: 1 of these 3 scenes is held out for validation, which training does not see: clipA" in said


def test_a_small_video_is_named_once(tmp_path):
    """Found in review: each of its frames was named, as 'images'."""
    (tmp_path / "mine").mkdir()
    media.make_video(tmp_path / "mine" / "walk.mkv", frames=6, size=(160, 96))
    result = synth("--add", str(tmp_path / "mine"), "--sources", str(tmp_path / "cache"))
    said = " ".join(result.stderr.split())
    assert "warning: left out 1 file under 200 px a side (too little room for motion): walk.mkv error:" in said


def test_a_long_list_of_files_left_out_says_how_many_more(tmp_path):
    """Found in review (structure54 F19): own.py named the first three and "...", never how many more, where
    every other message says "and N more" (wording.some)."""
    (tmp_path / "mine").mkdir()
    media.write_image(tmp_path / "mine" / "keep.png", media.pattern(0, 240, 208))
    for name in "abcde":
        (tmp_path / "mine" / f"{name}.jpg").write_bytes(b"not a picture")
    result = synth("--add", str(tmp_path / "mine"), "--sources", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "warning: left out 5 files that could not be decoded: a.jpg, b.jpg, c.jpg and 2 more" in said


def test_add_keeps_each_photo_and_evenly_spaced_frames_of_each_clip_named_by_scene(tmp_path):
    mine, cache = own_folder(tmp_path / "mine"), tmp_path / "cache"
    result = synth("--add", str(mine), "--sources", str(cache))
    assert result.exit_code == 0, result.output
    said = f"{2 + 2 * FRAMES_PER_CLIP} photos of 4 scenes and 1 video of real motion added to {cache} from {mine}"
    assert said in result.stdout
    assert "warning: left out 1 file that could not be decoded: broken.jpg" in result.stderr
    assert "warning: left out 1 file under 200 px a side (too little room for motion): tiny.png" in result.stderr
    names = [p.name for p in list_photos(cache)]
    assert names == [
        "IMG_0001~0000.npy", "IMG_0002~0000.npy",
        *(f"street~{i:04d}.npy" for i in (0, 4, 8, 12, 17, 21, 25, 29)),
        *(f"walk~{i:04d}.npy" for i in (0, 2, 3, 5, 6, 8, 9, 11)),
    ]  # fmt: skip
    assert {scene_group(name) for name in names} == {"IMG_0001", "IMG_0002", "street", "walk"}
    walk = load_photo(cache / "photos/own-mine/walk~0003.npy")
    assert np.array_equal(walk, media.pattern(3, 256, 208))  # PNG frames: the exact pixels
    manifest = json.loads((cache / "manifest.json").read_text())
    assert len(manifest) == len(names) + 1 and {e["source"] for e in manifest} == {"own-mine"}
    street = [e for e in manifest if e.get("group") == "street"]
    assert {e["original"] for e in street} == {str((mine / "street.mp4").resolve())}
    assert len({e["sha256"] for e in street}) == 1
    # the video is a real-motion source too, as the fetched ones are, and trains (no held-out name)
    video = load_video(cache / "videos/own-mine~street")
    assert len(video.frames) == 30 and video.size == (224, 208)
    assert split_videos(cache) == ([cache / "videos/own-mine~street"], [])
    assert [e["video"] for e in manifest if "video" in e] == ["videos/own-mine~street"]


def test_adding_many_photos_says_a_line_a_second_not_one_each(tmp_path, monkeypatch):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(6):
        media.write_image(folder / f"p{index}.png", media.pattern(index, 200, 200))
    clock = iter([0.0, 0.2, 0.5, 1.1, 1.3, 1.6])  # six scenes: lines at 0 and 1.1 s
    monkeypatch.setattr(deblur_cli.cli.synth, "monotonic", lambda: next(clock))
    result = synth("--add", str(folder), "--sources", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    lines = [line.split(":")[0] for line in result.stderr.splitlines() if line.startswith("adding")]
    assert lines == ["adding p0", "adding p3"]


def test_a_file_added_from_two_folders_is_said_to_be_there_twice(tmp_path):
    mine, cache = own_folder(tmp_path / "mine"), tmp_path / "cache"
    assert "in the cache already" not in synth("--add", str(mine), "--sources", str(cache)).stderr
    assert "in the cache already" not in synth("--add", str(mine), "--sources", str(cache)).stderr  # replaced
    again = synth("--add", str(mine / "IMG_0001.png"), "--sources", str(cache))
    assert again.exit_code == 0, again.output
    assert "warning: IMG_0001.png is in the cache already, added from another folder" in again.stderr


def test_a_frame_folder_and_a_video_of_one_name_are_two_scenes(tmp_path):
    """walk/ (frames) and walk.mp4 wrote the same walk~0000.npy: one overwrote the other."""
    mine = tmp_path / "mine"
    (mine / "walk").mkdir(parents=True)
    for index in range(3):
        media.write_image(mine / "walk" / f"{index:04d}.png", media.pattern(index, 224, 208))
    media.make_video(mine / "walk.mp4", frames=3, size=(224, 208))
    said = []
    add_own(tmp_path / "cache", mine, progress=said.append)
    names = [p.name for p in list_photos(tmp_path / "cache")]
    assert names == [*(f"walk-2~{i:04d}.npy" for i in range(3)), *(f"walk~{i:04d}.npy" for i in range(3))]
    assert [line.split(":")[0] for line in said][:2] == ["walk", "walk-2"]  # as stored: "walk" was said twice


def test_a_clips_frames_all_land_on_one_side_of_the_split():
    """By-name groups split frame_a0 ... frame_l11 into 12 scenes and put all of 0000.npy ... into one ""."""
    for scene in ("walk", "IMG_0001", "frame_a", "0000"):
        sides = {is_validation(f"photos/own-x/{scene}~{i:04d}.npy") for i in range(40)}
        assert len(sides) == 1
    held_out = [s for s in (f"scene{i}" for i in range(200)) if is_validation(f"{s}~0000.npy")]
    assert 15 <= len(held_out) <= 45  # the 15 % held out, by scene
    assert scene_group("aloeL.npy") == scene_group("aloeR.npy") == "aloe"  # the packages' names as before


def test_adding_again_replaces_what_the_folder_added_and_a_fetch_keeps_it(tmp_path, monkeypatch):
    mine, cache = tmp_path / "mine", tmp_path / "cache"
    mine.mkdir()
    for name in ("a.png", "b.png"):
        media.write_image(mine / name, media.pattern(0, 240, 208))
    media.make_video(mine / "v.mp4", frames=4, size=(224, 208))
    add_own(cache, mine)
    assert (cache / "videos/own-mine~v/meta.json").is_file()
    other = tmp_path / "other.png"
    media.write_image(other, media.pattern(1, 240, 208))
    add_own(cache, other)
    (mine / "b.png").unlink()
    (mine / "v.mp4").unlink()
    add_own(cache, mine)
    assert not (cache / "videos/own-mine~v").exists()
    assert [p.relative_to(cache).as_posix() for p in list_photos(cache)] == [
        "photos/own-mine/a~0000.npy", "photos/own-other/other~0000.npy"
    ]  # fmt: skip
    fetch_sources(cache, names=(), videos=())  # the packages' entries rewritten; --add's stay
    manifest = json.loads((cache / "manifest.json").read_text())
    assert sorted(e["photo"] for e in manifest) == ["photos/own-mine/a~0000.npy", "photos/own-other/other~0000.npy"]
    # and `synth --fetch` counts them beside the fetched ones (here none: no package is downloaded)
    monkeypatch.setattr(sources, "fetch_sources", lambda cache, progress: fetch_sources(cache, names=(), videos=()))
    fetched = synth("--fetch", "--sources", str(cache))
    assert fetched.exit_code == 0, fetched.output
    assert "0 photos and 0 videos in" in fetched.stdout and "besides 2 photos and 0 videos of your own" in fetched.stdout


def test_another_folder_of_the_same_name_is_added_beside_the_first(tmp_path):
    """Found in review: adding trip2/shots after trip1/shots replaced trip1's photos without a word, as if the
    first folder were added again; so did two files of one name."""
    cache = tmp_path / "cache"
    for trip in ("trip1", "trip2"):
        (tmp_path / trip / "shots").mkdir(parents=True)
        media.write_image(tmp_path / trip / "shots" / f"{trip}.png", media.pattern(len(trip), 240, 208))
        media.write_image(tmp_path / trip / "same.png", media.pattern(len(trip) + 1, 240, 208))
        add_own(cache, tmp_path / trip / "shots")
        add_own(cache, tmp_path / trip / "same.png")
    add_own(cache, tmp_path / "trip1" / "shots")  # the first again: it replaces its own
    assert sorted(p.relative_to(cache).as_posix() for p in list_photos(cache)) == [
        "photos/own-same-2/same~0000.npy", "photos/own-same/same~0000.npy",
        "photos/own-shots-2/trip2~0000.npy", "photos/own-shots/trip1~0000.npy",
    ]  # fmt: skip
    assert len(json.loads((cache / "manifest.json").read_text())) == 4


def test_without_opencv_videos_are_stills_only_and_said_so(tmp_path, monkeypatch):
    import deblur_cli.data.own as own

    monkeypatch.setattr(own, "has_opencv", lambda: False)
    media.make_video(tmp_path / "v.mp4", frames=10, size=(224, 208))
    said: list[str] = []
    entries = add_own(tmp_path / "cache", tmp_path / "v.mp4", warn=said.append)
    assert len(entries) == 8 and all("photo" in e for e in entries) and not (tmp_path / "cache/videos").exists()
    assert said == ["your videos are added as stills only: real-motion clips need OpenCV's optical flow "
                    "(pip install opencv-python-headless), then --add again"]  # fmt: skip


def test_a_video_whose_tags_are_not_utf8_is_added(tmp_path, monkeypatch):
    """An old camera's Latin-1 title (found by fuzz48 in deblur run): the video is read all the same."""
    import deblur_cli.data.own as own

    monkeypatch.setattr(own, "has_opencv", lambda: False)
    source = media.make_latin1_titled(tmp_path / "old.mkv", frames=10, size=(224, 208))
    entries = add_own(tmp_path / "cache", source, warn=lambda line: None)
    assert len(entries) == 8 and all("photo" in e for e in entries)


def test_an_add_that_was_stopped_leaves_nothing_training_reads(tmp_path, monkeypatch):
    mine, cache = tmp_path / "mine", tmp_path / "cache"
    mine.mkdir()
    for name in ("a.png", "b.png"):
        media.write_image(mine / name, media.pattern(0, 240, 208))
    import deblur_cli.data.own as own

    monkeypatch.setattr(own, "save_npy", _stopping_after(1, own.save_npy))
    with pytest.raises(KeyboardInterrupt):
        add_own(cache, mine)
    assert list(cache.rglob("*.npy")) and list_photos(cache) == [] and not (cache / "manifest.json").exists()
    monkeypatch.undo()
    add_own(cache, mine)
    assert len(list_photos(cache)) == 2 and not list(cache.glob("photos/.*"))


def _stopping_after(count, save):
    calls = []

    def save_then_stop(path, array):
        if len(calls) == count:
            raise KeyboardInterrupt
        calls.append(path)
        save(path, array)

    return save_then_stop


def test_add_refuses_what_it_cannot_use_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = synth("--add", str(tmp_path / "empty"), "--sources", str(tmp_path / "cache"))
    assert result.exit_code == 1 and "no images, frame folders or videos of at least 200 px a side" in result.stderr
    assert "hint: images (.bmp, .jpeg" in result.stderr and not (tmp_path / "cache/photos/own-empty").exists()
    inside = synth("--add", str(tmp_path / "empty"), "--sources", str(tmp_path / "empty" / "cache"))
    assert inside.exit_code == 2 and "is inside --add" in inside.stderr and not (tmp_path / "empty/cache").exists()
    result = synth("--add", str(tmp_path / "nowhere"), "--sources", str(tmp_path / "cache"))
    assert result.exit_code == 1 and "--add " in result.stderr and "no such file or folder" in result.stderr
    result = synth(str(tmp_path / "out"), "--add", str(tmp_path / "empty"), "--sources", str(tmp_path / "cache"))
    assert result.exit_code != 0 and "error: --add takes --sources alone" in result.stderr
    alone = synth("--add", str(tmp_path / "empty"))  # was "--add takes --sources alone": --sources was missing
    assert alone.exit_code == 2 and "error: --add needs --sources CACHE" in alone.stderr


def test_a_folder_of_pictures_given_as_sources_is_told_how_to_add_them(tmp_path):
    """It said the folder held "no photos" and offered to --fetch the Debian packages into it."""
    mine = own_folder(tmp_path / "mine")
    args = ["--clips", "1", "--frames", "2", "--size", "32x24", "--split", "train"]
    result = synth(str(tmp_path / "ds"), "--sources", str(mine), *args)
    assert result.exit_code == 1 and not (tmp_path / "ds").exists()  # it wrote procedural clips, with a warning
    assert f"{mine} holds images or videos, not a source cache" in result.stderr
    assert f"`deblur synth --add {mine} --sources CACHE`" in result.stderr
    import deblur_cli.cli.train  # noqa: F401  registers the command

    trained = CliRunner().invoke(app, ["train", "-o", str(tmp_path / "run0"), "--sources", str(mine), "--steps", "1"])
    assert trained.exit_code == 1 and f"{mine} holds images or videos" in trained.stderr
    assert not (tmp_path / "run0").exists()
    result = synth(str(tmp_path / "ds2"), "--sources", str(mine / "street.mp4"), *args)
    hint = f"hint: your own photos and videos go into a cache with `deblur synth --add {mine / 'street.mp4'} --sources"
    assert result.exit_code != 0 and hint in result.stderr
    trained = CliRunner().invoke(app, ["train", "-o", str(tmp_path / "run"), "--sources", str(mine / "street.mp4")])
    assert trained.exit_code != 0 and hint in trained.stderr
    add_own(tmp_path / "cache", mine)
    result = synth(str(tmp_path / "ds3"), "--sources", str(tmp_path / "cache"), *args)
    assert result.exit_code == 0 and "warning" not in result.stderr  # the clips are of the added photos
