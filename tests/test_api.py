"""deblur from Python (api.py): the same frames as `deblur run`, in the caller's own types."""

import inspect
import itertools
import re
import subprocess
import sys
import traceback
import tracemalloc
import typing
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import deblur_cli
from deblur_cli import cpu_share
from deblur_cli.api import _python_terms
from deblur_cli.cli import app
from deblur_cli.errors import UsageError
from deblur_cli.stream import restore_stream
from tests import media


@pytest.fixture(autouse=True, scope="module")
def cores_to_ourselves():
    """Whether other programs keep the cores busy (load's warning of spinning threads) is the machine's, not the
    test's: a test that wants it says so. For the module, since its `model` fixture loads once for all."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cpu_share, "others_busy", lambda since, now: None)
        yield


@pytest.fixture(scope="module")
def model():
    return deblur_cli.load("dstnet-s", device="cpu", precision="fp32", window=4, overlap=1)


def frames(count=7, seed=0, size=(40, 56)):
    return torch.rand(count, 3, *size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bit_depth, strength", [(8, 1.0), (16, 1.0), (8, 0.5)])
def test_restore_writes_what_deblur_run_writes(tmp_path, bit_depth, strength):
    """A folder of PNG frames through `deblur run` and the same frames through load().restore: equal, at a
    partial strength too (the blend made before the frames are rounded, as `deblur run` makes it)."""
    paths = media.make_images(tmp_path / "in", count=7, size=(64, 48), bit_depth=bit_depth)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "in"), "-o", f"{out}/", "--model", "dstnet-s",
                                      "--device", "cpu", "--precision", "fp32", "--strength", str(strength),
                                      "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    kind = "rgb24" if bit_depth == 8 else "rgb48le"
    written = np.stack([media.read_frames(path, format=kind)[0] for path in sorted(out.glob("*.png"))])
    given = np.stack([media.read_frames(path, format=kind)[0] for path in paths])
    restored = deblur_cli.load("dstnet-s", device="cpu", precision="fp32", strength=strength).restore(given)
    assert restored.dtype == given.dtype == written.dtype and restored.shape == given.shape == written.shape
    assert np.array_equal(restored, written)
    assert not np.array_equal(restored, given)  # it did restore


def test_tensors_come_back_as_the_restore_path_gives_them_and_free_of_inference_mode(model):
    x = frames()
    before = x.clone()
    y = model.restore(x)
    with torch.inference_mode():
        direct = torch.stack(list(restore_stream(iter(x), model.restorer, model.windows, (40, 56))))
    assert torch.equal(y, direct) and y.dtype == torch.float32 and y.shape == x.shape
    assert torch.equal(x, before)  # the input is not touched
    assert not y.is_inference() and not torch.is_inference_mode_enabled()
    (y * 2).sum()  # usable in ordinary code, autograd on


def test_kinds_and_dtypes(model):
    x = frames(count=5)
    as_float = model.restore(x)
    uint8 = model.restore((x * 255).round().to(torch.uint8))  # uint8 tensors in, float out
    assert uint8.dtype == torch.float32 and (uint8 - as_float).abs().max() < 0.05
    array = x.permute(0, 2, 3, 1).numpy()
    restored = model.restore(array.astype(np.float64))
    assert restored.dtype == np.float32 and restored.shape == array.shape
    np.testing.assert_allclose(restored, as_float.permute(0, 2, 3, 1).numpy(), atol=1e-6)
    deep = model.restore((array * 65535).round().astype(np.uint16))
    assert deep.dtype == np.uint16
    np.testing.assert_allclose(deep / 65535, restored, atol=2e-4)
    assert model.restore(array[:0]).shape == (0, 40, 56, 3)  # an empty clip is no error


def test_torch_uint16_frames_are_taken_as_numpys_are(model):
    """Found in review: torch.uint16 tensors (torchvision's 16-bit PNGs) were refused, NumPy's uint16 taken. They come
    back float32 in [0, 1], as every tensor does, and rounded to 16 bits are what the NumPy path gives, bit for bit."""
    array = (frames(count=5).permute(0, 2, 3, 1).numpy() * 65535).round().astype(np.uint16)
    tensor = torch.from_numpy(array).permute(0, 3, 1, 2)  # (T, 3, H, W), strided, as a permute leaves it
    given = array.copy()  # the tensor's memory is the array's
    restored = model.restore(tensor)
    assert restored.dtype == torch.float32 and restored.shape == tensor.shape
    rounded = restored.mul(65535).add(0.5).clamp(0, 65535).to(torch.int32).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(rounded.astype(np.uint16), model.restore(array))
    assert torch.equal(torch.stack(list(model.restore_iter(tensor))), restored)
    assert np.array_equal(array, given)  # the input is not touched (in NumPy: torch 2.3 has no equal for uint16)
    with pytest.raises(UsageError, match="frames of dtype torch.int16 are not taken") as raised:
        model.restore(torch.zeros(2, 3, 16, 16, dtype=torch.int16))
    assert raised.value.hint == "give uint8 or uint16, or float in [0, 1]"


def test_restore_iter_is_lazy_and_gives_what_restore_gives(model):
    x = frames(count=30, size=(16, 16))
    pulled = []

    def source():
        for frame in x:
            pulled.append(1)
            yield frame

    stream = model.restore_iter(source())
    first = next(stream)
    assert len(pulled) <= 2 * model.windows.window  # windows of 4 overlapping by 1: 7 frames read for the first
    ten = list(itertools.islice(stream, 9))
    assert len(pulled) <= 10 + 2 * model.windows.window
    rest = list(stream)
    assert len(pulled) == 30 and torch.equal(torch.stack([first, *ten, *rest]), model.restore(x))
    assert list(model.restore_iter([])) == []


def test_a_diffusion_model_gives_the_same_output_for_the_same_seed():
    x = frames(count=3, size=(32, 32))
    model = deblur_cli.load("wtsa-s", device="cpu", precision="fp32", steps=2, seed=3)
    first, again = model.restore(x), model.restore(x)
    assert torch.equal(first, again)  # each call draws from the seed afresh
    other = deblur_cli.load("wtsa-s", device="cpu", precision="fp32", steps=2, seed=4).restore(x)
    assert not torch.equal(first, other)


@pytest.mark.parametrize(
    "clip, message",
    [
        (
            torch.rand(3, 16, 16),
            "restore takes a clip, (T, 3, H, W) torch or (T, H, W, 3) NumPy, got Tensor of shape (3, 16, 16) and dtype torch.float32",
        ),
        ([[1.0]], "restore takes a clip"),
        # the clip's shape, as given: found in review, one frame's, (4, 16, 16), which the caller never gave
        (torch.rand(2, 4, 16, 16), "frames must be RGB, a clip (T, 3, H, W) tensor, got shape (2, 4, 16, 16)"),
        (np.zeros((2, 16, 16, 1), np.uint8), "frames must be RGB, a clip (T, H, W, 3) array, got shape (2, 16, 16, 1)"),
        (np.zeros((4, 3, 48, 64), np.uint8), "frames must be RGB, a clip (T, H, W, 3) array, got shape (4, 3, 48, 64)"),
        (torch.zeros(0, 16, 16, 3), "frames must be RGB, a clip (T, 3, H, W) tensor, got shape (0, 16, 16, 3)"),
        (torch.zeros(2, 3, 16, 16, dtype=torch.int32), "frames of dtype torch.int32 are not taken"),
    ],
)
def test_what_is_not_a_clip_is_a_usage_error(model, clip, message):
    with pytest.raises(UsageError) as raised:
        model.restore(clip)
    assert str(raised.value).startswith(message), raised.value


@pytest.mark.parametrize(
    "clip, fix, said",
    [
        (torch.rand(2, 16, 24, 3), lambda c: c.permute(0, 3, 1, 2), "channels-first: frame.permute(2, 0, 1)"),
        (torch.rand(2, 16, 24, 4), lambda c: c.permute(0, 3, 1, 2)[:, :3], "[:3] to drop the alpha"),
        (np.zeros((2, 3, 16, 24), np.uint8), lambda c: c.transpose(0, 2, 3, 1), "channels-last: frame.transpose"),
        (np.zeros((2, 4, 16, 24), np.uint8), lambda c: c.transpose(0, 2, 3, 1)[..., :3], "[..., :3] to drop"),
        (np.zeros((2, 16, 24, 1), np.uint8), lambda c: np.repeat(c, 3, axis=-1), "np.repeat(frame, 3, axis=-1)"),
        (torch.rand(2, 1, 16, 24), lambda c: c.expand(-1, 3, -1, -1), "frame.expand(3, -1, -1)"),
        (np.zeros((2, 16, 24, 4), np.uint16), lambda c: c[..., :3], "drop the alpha channel: frame[..., :3]"),
        (torch.rand(2, 4, 16, 24), lambda c: c[:, :3], "drop the alpha channel: frame[:3]"),
    ],
)
def test_frames_of_another_layout_get_a_hint_and_the_hint_works(model, clip, fix, said):
    with pytest.raises(UsageError, match="frames must be RGB") as raised:
        model.restore(clip)
    assert said in raised.value.hint, raised.value.hint
    assert model.restore(fix(clip)).shape == fix(clip).shape


def test_a_grey_stream_gets_a_hint(model):
    with pytest.raises(UsageError, match="frames must be RGB") as raised:
        list(model.restore_iter([np.zeros((16, 24), np.uint8)]))
    assert "np.repeat(frame[..., None], 3, axis=-1)" in raised.value.hint
    restored = list(model.restore_iter([np.repeat(np.zeros((16, 24), np.uint8)[..., None], 3, axis=-1)]))
    assert restored[0].shape == (16, 24, 3)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes (PEP 678) are Python 3.11's")
@pytest.mark.parametrize(
    "call",
    [
        lambda model: model.restore(np.zeros((4, 3, 48, 64), np.uint8)),
        lambda model: list(model.restore_iter([np.zeros((16, 24), np.uint8)])),
        lambda model: deblur_cli.load("dstnet-s", device="cpu", precision="fp16"),
        lambda model: deblur_cli.load("dstnet-s", device="cpu", weights="wtsa-s"),
    ],
)
def test_an_uncaught_error_shows_its_hint_in_the_traceback(model, call):
    """Found in review: the hint that says how to convert a clip's layout (or which device to use) was an
    attribute only, which a script's or a notebook's traceback never shows."""
    with pytest.raises(deblur_cli.DeblurError) as raised:
        call(model)
    shown = "".join(traceback.format_exception(raised.value))
    assert raised.value.hint and shown.count(f"hint: {raised.value.hint}\n") == 1, shown  # once, in load's terms
    assert "hint" not in str(raised.value)  # the message as before: the CLI prints the hint on its own line


@pytest.mark.parametrize(
    "clip, said, fix",
    [
        (np.zeros((5, 16, 24), np.uint8), "a grey clip (T, H, W)", lambda c: np.repeat(c[..., None], 3, axis=-1)),
        (np.zeros((3, 16, 24), np.uint8), "a grey clip (T, H, W)", lambda c: np.repeat(c[..., None], 3, axis=-1)),
        (np.zeros((3, 16, 24), np.uint8), "one channels-first frame", lambda c: c.transpose(1, 2, 0)[None]),
        (torch.rand(5, 16, 24), "a grey clip (T, H, W)", lambda c: c[:, None].expand(-1, 3, -1, -1)),
        (torch.rand(3, 16, 24), "for one frame, add a leading axis", lambda c: c[None]),
        (np.zeros((16, 24, 3), np.uint8), "for one frame, add a leading axis", lambda c: c[None]),
    ],
)
def test_a_grey_clip_or_one_frame_given_to_restore_gets_the_hint_that_fits(model, clip, said, fix):
    """A grey clip (T, H, W) was told to add a leading axis, as one frame is, and then to move its frames'
    axis last: three grey frames came back as one colour frame, with no error on the way."""
    with pytest.raises(UsageError, match="restore takes a clip") as raised:
        model.restore(clip)
    assert said in raised.value.hint, raised.value.hint
    assert len(model.restore(fix(clip))) == (1 if "frame" in said.split(",")[0] else len(clip))


@pytest.mark.parametrize("clips", [torch.rand(2, 3, 3, 16, 24), np.zeros((2, 3, 16, 24, 3), np.uint8)])
def test_a_batch_of_clips_is_told_to_restore_one_clip_at_a_time(model, clips):
    """Found in review: a batch (B, T, ...) was told to use restore_iter, which takes frames, not clips."""
    with pytest.raises(UsageError, match="restore takes a clip") as raised:
        model.restore(clips)
    assert raised.value.hint == "a batch of clips: restore one clip at a time, [model.restore(clip) for clip in clips]"
    restored = [model.restore(clip) for clip in clips]
    assert len(restored) == 2 and all(r.shape == clips.shape[1:] for r in restored)


@pytest.mark.parametrize("frame", [torch.rand(3, 16, 24), np.zeros((16, 24, 3), np.uint8)])
def test_one_frame_given_to_restore_iter_is_told_apart_from_a_grey_stream(model, frame):
    with pytest.raises(UsageError, match="restore_iter takes an iterable of frames, got one frame") as raised:
        list(model.restore_iter(frame))
    assert raised.value.hint == "give [frame], or restore(frame[None]) for a clip of one"
    assert len(list(model.restore_iter([frame]))) == 1


@pytest.mark.parametrize("where", [0, 1, 2])
def test_a_none_among_the_frames_is_an_error_naming_it_not_the_end_of_the_stream(model, where):
    """None ended the stream: a reader giving None for a frame it failed to decode lost the rest unnoticed."""
    given: list = [np.zeros((16, 24, 3), np.uint8) for _ in range(3)]
    given[where] = None
    with pytest.raises(UsageError) as raised:
        list(model.restore_iter(given))
    assert str(raised.value) == f"frame {where} is None"  # pytest's match= reads the hint's note too
    assert "OpenCV's read()" in raised.value.hint


def test_float_frames_out_of_range_or_not_finite_are_usage_errors_and_overshoot_is_clamped(model):
    x = frames(count=4, size=(16, 16))
    with pytest.raises(
        UsageError, match=r"frame 0 has values from 0\.\d+ to 25\d(\.\d+)?: float frames are in \[0, 1\]"
    ) as e:
        model.restore(x * 255)  # 8-bit values as floats: the usual slip
    assert e.value.hint == "divide 8-bit values by 255 (or give uint8 frames)"
    spoiled = x.clone()
    spoiled[2, 0, 0, 0] = torch.nan
    with pytest.raises(UsageError, match="frame 2 has NaN or infinite values") as e:
        model.restore(spoiled)
    assert e.value.hint is None  # not the 0-to-255 hint: dividing would not help
    with pytest.raises(UsageError, match="frame 0 has NaN or infinite values"):
        model.restore(np.full((2, 16, 16, 3), np.inf))
    overshoot = (x - 0.5) * 1.2 + 0.5  # resampling leaves values a little outside [0, 1]
    assert torch.equal(model.restore(overshoot), model.restore(overshoot.clamp(0, 1)))


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_restore_holds_its_output_once(model, dtype):
    """Found in review: restore kept the restored frames in a list and then stacked them, the output twice over at
    the end (for 240 frames at 320x180, float32, the peak rose 359 MiB during restore; 231 MiB filled in place).
    NumPy's memory as tracemalloc counts it (torch's it does not): 2.0 to 2.1 times the output before, 1.2 to 1.3
    times now."""
    clip = (np.random.default_rng(0).random((12, 48, 64, 3)) * (255 if dtype == np.uint8 else 1)).astype(dtype)
    model.restore(clip[:2])  # what the first call imports and caches
    tracemalloc.start()
    try:
        restored = model.restore(clip)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.6 * restored.nbytes, (peak, restored.nbytes)


def test_the_callers_frame_source_runs_outside_inference_mode(model):
    kept, modes = [], []

    def source():
        for frame in frames(count=6, size=(16, 16)):
            modes.append((torch.is_inference_mode_enabled(), torch.is_grad_enabled()))
            kept.append(frame.clone())  # made by the caller's code: an ordinary tensor
            yield kept[-1]

    list(model.restore_iter(source()))
    assert modes == [(False, True)] * 6 and not any(f.is_inference() for f in kept)
    kept[3].mul_(2)  # in place, as the caller's own tensors allow


def test_odd_frames_and_empty_clips(model):
    with pytest.raises(UsageError, match="frames on the meta device have no values"):
        model.restore(torch.empty(2, 3, 16, 16, device="meta"))
    empty = model.restore(torch.zeros(0, 3, 16, 16, dtype=torch.float16))
    assert empty.shape == (0, 3, 16, 16) and empty.dtype == torch.float32
    assert model.restore(np.zeros((0, 16, 16, 3), np.float64)).dtype == np.float32
    with pytest.raises(UsageError, match="frames must be RGB"):
        model.restore(torch.zeros(0, 16, 16, 3))  # the layout is checked on an empty clip too
    read_only = frames(count=3, size=(16, 16)).permute(0, 2, 3, 1).numpy()
    read_only.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torch warning about a read-only array
        assert model.restore(read_only).shape == (3, 16, 16, 3)
        model.restore(torch.rand(2, 3, 1, 1))  # a pixel has no structure for the scene-cut test to warn of


def test_a_frame_unlike_the_first_is_a_usage_error(model):
    mixed = [torch.rand(3, 16, 16), torch.rand(3, 16, 16), torch.rand(3, 16, 24)]
    with pytest.raises(
        UsageError, match=r"every frame must be like the first \(torch.float32, shape \(3, 16, 16\)\), .* \(frame 2\)"
    ):
        list(model.restore_iter(mixed))
    with pytest.raises(UsageError, match="every frame must be like the first"):
        list(model.restore_iter([np.zeros((16, 16, 3), np.uint8), torch.zeros(3, 16, 16, dtype=torch.uint8)]))
    with pytest.raises(UsageError, match="every frame must be like the first .*, got list"):
        list(model.restore_iter([np.zeros((16, 16, 3), np.uint8), [[0]]]))
    with pytest.raises(UsageError, match="restore_iter takes an iterable of frames, got None"):  # not iter()'s
        list(model.restore_iter(None))


@pytest.mark.parametrize(
    "call, kind",
    [
        (lambda model: model.restore([[1.0]]), TypeError),
        (lambda model: model.restore(torch.zeros(2, 3, 16, 16, dtype=torch.int32)), TypeError),
        (lambda model: list(model.restore_iter(None)), TypeError),
        (lambda model: list(model.restore_iter([np.zeros((16, 16, 3), np.uint8), None])), TypeError),
        (lambda model: list(model.restore_iter([np.zeros((16, 16, 3), np.uint8), torch.zeros(3, 16, 16)])), TypeError),
        (lambda model: model.restore(torch.rand(3, 16, 16)), ValueError),
        (lambda model: model.restore(np.zeros((4, 3, 48, 64), np.uint8)), ValueError),
        (lambda model: list(model.restore_iter([torch.rand(3, 16, 16), torch.rand(3, 16, 24)])), ValueError),
        (lambda model: model.restore(torch.empty(2, 3, 16, 16, device="meta")), ValueError),
        (lambda model: model.restore(frames(count=2) * 255), ValueError),
        (lambda model: model.restore(np.full((2, 16, 16, 3), np.nan)), ValueError),
    ],
)
def test_frame_errors_are_value_or_type_errors_too(model, call, kind):
    """Found in review: the frame errors were UsageErrors alone, so a caller's `except (ValueError, TypeError)`
    around restore, as around any library's call, did not catch them. Still UsageErrors, as the docs said."""
    with pytest.raises(kind) as raised:
        call(model)
    assert isinstance(raised.value, UsageError)
    assert not isinstance(raised.value, ValueError if kind is TypeError else TypeError)


BAD_OPTIONS = [
    ({"tile": -1}, "tile must be"),
    ({"tile": "big"}, "tile must be"),
    ({"tile": 7}, "^tile=7 must be at least 16 pixels for dstnet-s"),
    ({"window": 4, "overlap": 4}, "^overlap=4 must be smaller than window=4"),
    ({"batch": 0}, "batch must be an integer of at least 1, got 0"),
    ({"batch": "2"}, "batch must be an integer of at least 1, got '2'"),
    ({"seed": "a"}, "seed must be an integer"),
    ({"tile_overlap": -5}, "tile_overlap must be an integer of at least 0"),
    ({"steps": 0, "model": "wtsa-s"}, "steps must be an integer of at least 1"),
    ({"steps": 1001, "model": "wtsa-s"}, "^steps=1001 must be from 1 to 1000$"),
    ({"eta": -1, "model": "wtsa-s"}, r"^eta=-1 must be from 0 \(deterministic\) to 1 \(DDPM's noise\)$"),
    ({"eta": 5.0, "model": "wtsa-s"}, "^eta=5 must be from 0"),  # as --eta: 1 is DDPM's noise
    ({"eta": float("inf"), "model": "wtsa-s"}, "^eta=inf must be from 0"),
    ({"eta": "0.5", "model": "wtsa-s"}, "^eta must be a number, got '0.5'"),
    ({"seed": 2**64, "model": "wtsa-s"}, r"^seed=18446744073709551616 must be from 0 to 2\^64 - 1 \("),
    ({"samples": 65, "model": "wtsa-s"}, "^samples=65 must be from 1 to 64$"),  # as --samples
    ({"tile": 64, "tile_overlap": 64}, "a tile overlap of 64 px leaves no room between 64-px tiles"),
    ({"model": None}, "model must be a name"),
    ({"device": 0}, "device must be a name"),
    ({"precision": torch.int8}, "precision must be one of auto, fp32, fp16, bf16 or their torch dtypes"),
    ({"precision": torch.float16}, "fp16 is not supported on the CPU"),
    ({"weights": 3}, "weights must be a path or a registered name, got int"),
    ({"cache_dir": 3}, "cache_dir must be a folder's path or None, got int"),
    ({"window": 99, "model": "wtsa-s"}, r"^window=99 is longer than wtsa-s accepts \(8 frames\)"),
    ({"model": "dstnet-xl"}, "unknown model 'dstnet-xl'"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
    ({"weights": "nosuch"}, 'weights="nosuch": no such file'),
    ({"weights": "/no/such.safetensors"}, 'weights="/no/such.safetensors": no such file'),
    ({"weights": "wtsa-s"}, 'weights="wtsa-s": wtsa weights cannot load into model dstnet-s'),  # was "wtsa"-s
    ({"weights": "dstnet-s=foo.pth"}, 'weights="dstnet-s=foo.pth": no such file'),
    # found in review: any object was taken as a yes or no, and "no" is true (scene cuts stayed on)
    ({"scene_cuts": "no"}, "scene_cuts must be True or False, got 'no'"),
    ({"compile": 1}, "compile must be True or False, got 1"),
    ({"offline": "no"}, "offline must be True, False or None, got 'no'"),
]


@pytest.mark.parametrize("options, message", BAD_OPTIONS)
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(deblur_cli.errors.DeblurError, match=message):
        deblur_cli.load(**{"model": "dstnet-s", "device": "cpu", **options})


def test_an_empty_cache_dir_or_a_file_is_refused_as_deblur_run_refuses_them(tmp_path, monkeypatch):
    """Found in review (docs52 F11): cache_dir="" (an unset variable) made the current folder the weights cache,
    and a file was taken, where deblur run refuses both."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(UsageError, match='^cache_dir="" is empty') as empty:
        deblur_cli.load("dstnet", device="cpu", cache_dir="", offline=True)
    assert empty.value.hint == "name a folder, or leave cache_dir out for the default cache"
    with pytest.raises(UsageError, match='^cache_dir="afile" is a file, not a folder'):
        deblur_cli.load("dstnet-s", device="cpu", cache_dir="afile")  # bundled weights: the cache is not needed
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]  # no cache made here


@pytest.mark.parametrize("options", [options for options, _ in BAD_OPTIONS] + [{"model": "wtsa"}])
def test_load_errors_name_its_arguments_not_deblur_runs_options(options):
    """The library words its errors for the command line (--weights FILE); load's callers have arguments. Found
    in review: `load(weights="nosuch")` said `--weights nosuch: no such file`."""
    with pytest.raises(deblur_cli.errors.DeblurError) as raised:
        deblur_cli.load(**{"model": "dstnet-s", "device": "cpu", **options})
    for text in (str(raised.value), raised.value.hint or ""):
        outside_commands = re.sub(r"`[^`]*`", "", text)
        assert "--" not in outside_commands, text
        named = set(re.findall(r"\b([a-z_]+)=", re.sub(r'"[^"]*"', '""', outside_commands)))  # not in values
        assert named <= set(inspect.signature(deblur_cli.load).parameters), text


def test_hints_name_loads_arguments_not_deblur_runs_options():
    with pytest.raises(UsageError) as raised:
        deblur_cli.load("dstnet-s", device="cpu", precision="fp16")
    assert raised.value.hint == 'use precision="fp32" (or bf16 on CPUs with AVX-512 BF16 or AMX)'  # not --precision
    with pytest.raises(deblur_cli.errors.WeightsError) as raised:
        deblur_cli.load("wtsa", device="cpu")
    assert raised.value.hint == "pass weights of your own with weights=... (`deblur train --model wtsa ...` makes them)"
    # found in review: 'model="wtsa" or wtsa-s', and '--weights takes a file' became 'weights="takes" a file'
    with pytest.raises(deblur_cli.errors.WeightsError) as raised:
        deblur_cli.load("dstnet-s", device="cpu", weights="wtsa-s")
    assert raised.value.hint == 'give them to a wtsa model: model="wtsa" or model="wtsa-s" (see `deblur models`)'
    with pytest.raises(deblur_cli.errors.WeightsError) as raised:
        deblur_cli.load("dstnet-s", device="cpu", weights="dstnet-s=foo.pth")
    assert raised.value.hint == 'name the model and the file apart: model="dstnet-s" weights="foo.pth"'


@pytest.mark.parametrize(
    "options, hint",
    [
        ({"model": "wtsa-s", "window": 99}, "use window=8 or less"),
        ({"tile": 7}, "use tile=16 or more"),
        ({"window": 2}, "add overlap=1 or less (dstnet-s's is 2)"),
        ({"window": 4, "overlap": 4}, "use overlap=3 or less"),
    ],
)
def test_loads_option_errors_keep_the_command_lines_hints(options, hint):
    """Found in review (structure54 F5): load's hand-written copies of these errors had no hint, where deblur run's
    say what fits."""
    with pytest.raises(UsageError) as raised:
        deblur_cli.load(**{"model": "dstnet-s", "device": "cpu", **options})
    assert raised.value.hint == hint


def test_words_after_an_option_stay_words():
    """Only an option's value becomes an argument's: "--overlap smaller" is no overlap of "smaller"."""
    assert _python_terms("use an --overlap smaller than --window") == "use an overlap=... smaller than window=..."
    assert _python_terms("set --tile to skip the retries") == "set tile=... to skip the retries"
    said = 'device="cuda:0", tile=64, precision="bf16".'
    assert _python_terms("--device cuda:0, --tile 64, --precision bf16.") == said
    assert _python_terms("--weights nosuch: no such file", {"weights": "nosuch"}) == 'weights="nosuch": no such file'
    assert _python_terms("--eta -1 and --eta inf, --compile on a CPU") == "eta=-1 and eta=inf, compile=True on a CPU"


def test_load_leaves_the_callers_random_numbers_as_they_were():
    """Found in review: the layers' random initialisation, which the weights then replace, drew from torch's
    generator, so a script seeded for its own sampling drew other numbers after loading a model."""
    for name in ("dstnet-s", "wtsa-s"):
        torch.manual_seed(0)
        deblur_cli.load(name, device="cpu")
        after_loading = torch.rand(3)
        torch.manual_seed(0)
        assert torch.equal(after_loading, torch.rand(3)), name


def test_a_torch_device_and_dtype_are_taken_as_their_names():
    """A researcher passes x.device and torch.float32: they gave an AttributeError from deep inside."""
    loaded = deblur_cli.load("dstnet-s", device=torch.device("cpu"), precision=torch.float32)
    assert loaded.device == torch.device("cpu") and loaded.restorer.dtype == torch.float32


def test_compiling_on_a_cpu_is_warned_of(monkeypatch):
    from deblur_cli.restorers import DSTNetRestorer

    monkeypatch.setattr(DSTNetRestorer, "compile", lambda self, warn=None: True)  # torch.compile's set-up: seconds
    with pytest.warns(deblur_cli.DeblurWarning, match="compile=True on a CPU: measured no faster"):
        deblur_cli.load("dstnet-s", device="cpu", compile=True)


def test_what_deblur_run_would_warn_of_is_a_warning_at_the_callers_line():
    with pytest.warns(deblur_cli.DeblurWarning, match="^steps=5 and samples=2 apply to the diffusion models") as w:
        deblur_cli.load("dstnet-s", device="cpu", steps=5, samples=2)
    assert w[0].filename == __file__
    with pytest.warns(deblur_cli.DeblurWarning, match="^tile_overlap=8 is not used without tiles: whole frames are"):
        deblur_cli.load("dstnet-s", device="cpu", tile=None, tile_overlap=8)
    with pytest.warns(deblur_cli.DeblurWarning, match="window=8: wtsa-s's weights learned windows of up to 6 frames"):
        deblur_cli.load("wtsa-s", device="cpu", window=8)  # found in review: rows 7 and 8 of its tables are zero
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deblur_cli.load("dstnet-s", device="cpu", precision="fp32")  # nothing to say
        deblur_cli.load("wtsa-s", device="cpu", eta=0.5, batch=2)  # it batches with step noise too


def test_weights_of_another_size_than_the_model_named_are_warned_of(tmp_path):
    """Found in review (docs52): `deblur run` warns that the file's model runs under the name given, `load` said
    nothing, and its Deblurrer's name named a model the file does not hold."""
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), tmp_path / "mine.safetensors")
    said = (
        "mine.safetensors holds DSTNet(feat=8, blocks=1), not dstnet-s: the file's model runs, under the name dstnet-s"
    )
    with pytest.warns(deblur_cli.DeblurWarning) as w:
        loaded = deblur_cli.load("dstnet-s", device="cpu", weights=tmp_path / "mine.safetensors")
    assert [str(warning.message) for warning in w] == [said] and w[0].filename == __file__
    assert loaded.name == "dstnet-s"
    with pytest.warns(deblur_cli.DeblurWarning, match="^dstnet-s holds a dstnet-s model, not dstnet: the file's model"):
        deblur_cli.load("dstnet", device="cpu", weights="dstnet-s")  # a registry entry
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deblur_cli.load("auto", device="cpu", weights=tmp_path / "mine.safetensors")  # auto takes the file's model
        deblur_cli.load("dstnet-s", device="cpu", weights="dstnet-s")


def test_load_says_what_deblur_run_says_in_its_order(tmp_path):
    """Found in review (structure54 F10): load said the sampling and tile notes before building the model and the
    weights' model after it, where deblur run says the weights' model first, once they are known to load."""
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), tmp_path / "mine.safetensors")
    with pytest.warns(deblur_cli.DeblurWarning) as w:
        deblur_cli.load(
            "dstnet-s", device="cpu", weights=tmp_path / "mine.safetensors", steps=5, tile=None, tile_overlap=8
        )
    assert [str(warning.message) for warning in w] == [
        "mine.safetensors holds DSTNet(feat=8, blocks=1), not dstnet-s: the file's model runs, under the name dstnet-s",
        "steps=5 applies to the diffusion models (wtsa, wtsa-s); dstnet-s restores in one deterministic pass and"
        " ignores it",
        "tile_overlap=8 is not used without tiles: whole frames are restored",
    ]


def test_threads_that_spin_beside_other_programs_are_warned_of(monkeypatch):
    """Found in review (api50): on a CPU other programs kept busy, restore took 10 to 25 s where deblur run, which
    sets OMP_WAIT_POLICY=PASSIVE itself before torch loads, took 2.5 s; the library said nothing."""
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cpu_share, "others_busy", lambda since, now: 1.5)  # cores' worth of other programs' work
    with pytest.warns(deblur_cli.DeblurWarning, match="other programs are busy on this CPU, and torch's threads spin"):
        deblur_cli.load("dstnet-s", device="cpu", precision="fp32")
    for busy, environment in ((0.2, {}), (1.5, {"OMP_WAIT_POLICY": "PASSIVE"})):
        monkeypatch.setattr(cpu_share, "others_busy", lambda since, now, busy=busy: busy)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            deblur_cli.load("dstnet-s", device="cpu", precision="fp32")


def test_a_warning_said_deep_inside_the_loading_is_shown_at_the_callers_line(monkeypatch):
    from deblur_cli import restorers

    said = "bf16 is emulated here: slow; --precision auto picks fp32 here"
    monkeypatch.setattr(restorers, "precision_warning", lambda dtype, device: said)
    with pytest.warns(deblur_cli.DeblurWarning, match="bf16 is emulated here: slow") as w:
        deblur_cli.load("dstnet-s", device="cpu")
    assert w[0].filename == __file__, w[0].filename
    assert str(w[0].message).endswith('precision="auto" picks fp32 here')  # in load's terms, as its hints are


def test_yes_or_no_arguments_take_numpy_bools_too():
    loaded = deblur_cli.load("dstnet-s", device="cpu", scene_cuts=np.False_, compile=np.bool_(False), offline=np.True_)
    assert loaded.windows.scene_cuts is False


def test_the_options_reach_the_windows(model):
    loaded = deblur_cli.load("dstnet-s", device="cpu", window=6, overlap=2, tile=None, batch=2, scene_cuts=False)
    assert (loaded.windows.window, loaded.windows.overlap, loaded.windows.tile) == (6, 2, None)
    assert (loaded.windows.batch, loaded.windows.scene_cuts) == (2, False)
    assert repr(model) == "Deblurrer('dstnet-s', device=cpu, window=4, overlap=1, tile='auto')"
    assert deblur_cli.load(device="cpu").name == "dstnet-s"  # "auto" picks as deblur run does


def _runs_clean(script: str) -> None:
    """Run `script` in a Python of its own, where nothing was imported before it."""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_importing_the_package_imports_no_torch_until_load_is_asked_for():
    script = (
        "import sys, deblur_cli; assert 'torch' not in sys.modules and 'load' in dir(deblur_cli); "
        "load = deblur_cli.load; assert 'torch' in sys.modules; "
        "assert deblur_cli.Deblurrer.__name__ == 'Deblurrer'; assert 'load' in dir(deblur_cli); "
        "import pytest\n"
        "with pytest.raises(AttributeError): deblur_cli.nothing"
    )
    _runs_clean(script)


def test_the_errors_to_catch_are_there_from_the_start_without_torch():
    """Found in review: `deblur_cli.errors` was an AttributeError until load had run."""
    script = (
        "import sys, deblur_cli; "
        "assert deblur_cli.errors.DeblurError is deblur_cli.DeblurError; "
        "assert all(issubclass(getattr(deblur_cli, name), deblur_cli.DeblurError) "
        "for name in ('UsageError', 'WeightsError', 'ModelError', 'UnknownModelError', 'FrameError', "
        "'FrameTypeError')); "
        "assert 'torch' not in sys.modules; "
        "names = {}; exec('from deblur_cli import *', names); "
        "assert {'load', 'Deblurrer', 'DeblurWarning', 'DeblurError', 'UsageError', 'FrameError'} <= set(names)"
    )
    _runs_clean(script)


def test_type_checkers_see_loads_arguments_and_what_restore_returns():
    """Found in review: mypy saw load(...) -> Deblurrer (its decorator's type hid the arguments, so a typo such
    as devise="cpu" passed), read no hints from an installed deblur (no py.typed), and took restore's return
    for torch or NumPy whichever was given. Checked by mypy in review; here, the hints it reads."""
    from deblur_cli import api

    decorated = typing.get_type_hints(api._in_python_terms)
    assert all(isinstance(typing.get_args(decorated[name])[0], typing.ParamSpec) for name in ("load", "return"))
    hints = typing.get_type_hints(deblur_cli.load)
    assert torch.device in typing.get_args(hints["device"]) and torch.dtype in typing.get_args(hints["precision"])
    assert (Path(deblur_cli.__file__).parent / "py.typed").is_file()  # setuptools ships it as package data
    if sys.version_info >= (3, 11):  # typing.get_overloads
        for method, given, returned in (
            ("restore", lambda t: t, lambda t: t),
            ("restore_iter", lambda t: typing.Iterable[t], lambda t: typing.Iterator[t]),
        ):
            overloads = [typing.get_type_hints(o) for o in typing.get_overloads(getattr(deblur_cli.Deblurrer, method))]
            kinds = (torch.Tensor, np.ndarray)
            assert [(o["frames"], o["return"]) for o in overloads] == [(given(t), returned(t)) for t in kinds], method


def test_frames_of_a_stream_may_come_from_any_iterable(model):
    x = frames(count=5)
    assert torch.equal(torch.stack(list(model.restore_iter(itertools.chain(x[:2], x[2:])))), model.restore(x))


def test_the_documented_stream_over_pyav_frames(tmp_path):
    """docs/python.md's restore_iter example, on a small video."""
    import av

    path = media.make_video(tmp_path / "in.mp4", frames=6, size=(48, 32))
    model = deblur_cli.load(device="cpu", precision="fp32")
    with av.open(str(path)) as video:
        frames = (frame.to_ndarray(format="rgb24") for frame in video.decode(video=0))
        restored = list(model.restore_iter(frames))
    assert len(restored) == 6 and all(r.shape == (32, 48, 3) and r.dtype == np.uint8 for r in restored)


def test_the_documented_progress_bar(model, capsys):
    """docs/python.md's progress for a long restore: restore_iter in the caller's own bar gives what restore gives."""
    tqdm = pytest.importorskip("tqdm").tqdm
    clip = frames(count=5).permute(0, 2, 3, 1).numpy()
    restored = model.restore(clip)
    assert capsys.readouterr() == ("", "")  # restore says nothing
    sharp = list(tqdm(model.restore_iter(clip), total=len(clip)))
    assert np.array_equal(np.stack(sharp), restored) and "5/5" in capsys.readouterr().err


def test_out_of_memory_retries_are_warnings():
    model = deblur_cli.load("dstnet-s", device="cpu", precision="fp32", window=4, overlap=1, tile=None)
    whole = model.restorer.model.forward

    def small_only(frames, **options):  # a device with room for tiles of 96 px and less
        if frames.shape[-1] > 96:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return whole(frames, **options)

    model.restorer.model.forward = small_only  # the network, whether the restorer runs it whole or in tiles
    with pytest.warns(
        deblur_cli.DeblurWarning,
        match=r"out of device memory: restored in tiles of \d+ px \(load with a smaller tile to skip the retries\)",
    ):
        restored = model.restore(frames(count=5, size=(128, 160)))
    assert restored.shape == (5, 3, 128, 160)


@pytest.mark.parametrize("bf16", [False, True])
def test_out_of_memory_even_in_the_smallest_tiles_is_told_in_loads_terms(monkeypatch, bf16):
    """Found in review (docs52 F9): the ModelError that restore and restore_iter raise when even the smallest
    tiles run out of memory told a Python caller to try a smaller --window or --tile. A CPU built for bf16 is
    also told to try it (the test fixes which CPU it is: it failed on one that runs bf16)."""
    monkeypatch.setattr("deblur_cli.tiles.cpu_runs_bf16", lambda: bf16)
    model = deblur_cli.load("dstnet-s", device="cpu", precision="fp32", window=4, overlap=1, tile=None)

    def no_room(frames, **options):  # a device with room for nothing
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    model.restorer.model.forward = no_room  # the network, whether the restorer runs it whole or in tiles
    for restoring in (model.restore, lambda clip: list(model.restore_iter(clip))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", deblur_cli.DeblurWarning)  # the retries on the way down
            with pytest.raises(deblur_cli.ModelError, match="^out of cpu memory even with 80-px tiles") as caught:
                restoring(frames(count=5, size=(128, 160)))
        hint = caught.value.hint
        bf16_said = ', precision="bf16"' if bf16 else ""
        assert hint == f"try a smaller window=...{bf16_said} or tile=... below 64 (at some cost in quality)"
        if sys.version_info >= (3, 11):  # exception notes (PEP 678)
            assert caught.value.__notes__ == [f"hint: {hint}"]


def test_the_documented_comparison_of_models():
    """docs/python.md's comparison: the metrics of deblur evaluate over restored tensors."""
    from deblur_cli.data.synth import synthesize_clip
    from deblur_cli.metrics import psnr, ssim, to_8bit

    blurred, sharp = synthesize_clip(0, frames=4, size=(48, 32))[:2]
    scores = {}
    for name, options in (("dstnet-s", {}), ("wtsa-s", {"steps": 2})):
        restored = to_8bit(deblur_cli.load(name, device="cpu", **options).restore(blurred))
        scores[name] = (psnr(restored, sharp).mean().item(), ssim(restored, sharp).mean().item())
    assert all(10 < p < 60 and 0 < s <= 1 for p, s in scores.values()), scores
