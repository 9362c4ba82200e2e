"""deblur from Python (api.py): the same frames as `deblur run`, in the caller's own types."""

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import deblur_cli
from deblur_cli.cli import app
from deblur_cli.errors import UsageError
from deblur_cli.stream import restore_stream
from tests import media


@pytest.fixture(scope="module")
def model():
    return deblur_cli.load("dstnet-s", device="cpu", precision="fp32", window=4, overlap=1)


def frames(count=7, seed=0, size=(40, 56)):
    return torch.rand(count, 3, *size, generator=torch.Generator().manual_seed(seed))


def test_restore_writes_what_deblur_run_writes(tmp_path):
    """A folder of PNG frames through `deblur run` and the same frames through load().restore: equal."""
    paths = media.make_images(tmp_path / "in", count=7, size=(64, 48))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "in"), "-o", f"{out}/", "--model", "dstnet-s",
                                      "--device", "cpu", "--precision", "fp32", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    written = np.stack([media.read_frames(path)[0] for path in sorted(out.glob("*.png"))])
    given = np.stack([media.read_frames(path)[0] for path in paths])
    restored = deblur_cli.load("dstnet-s", device="cpu", precision="fp32").restore(given)
    assert restored.dtype == np.uint8 and restored.shape == given.shape == written.shape
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
        (torch.rand(2, 4, 16, 16), "frames must be RGB (3, H, W) tensors, got one of shape (4, 16, 16)"),
        (np.zeros((2, 16, 16, 1), np.uint8), "frames must be RGB (H, W, 3) arrays, got one of shape (16, 16, 1)"),
        (torch.zeros(2, 3, 16, 16, dtype=torch.int32), "frames of dtype torch.int32 are not taken"),
    ],
)
def test_what_is_not_a_clip_is_a_usage_error(model, clip, message):
    with pytest.raises(UsageError) as raised:
        model.restore(clip)
    assert str(raised.value).startswith(message), raised.value


def test_a_frame_unlike_the_first_is_a_usage_error(model):
    mixed = [torch.rand(3, 16, 16), torch.rand(3, 16, 16), torch.rand(3, 16, 24)]
    with pytest.raises(UsageError, match=r"every frame must be like the first \(torch.float32, shape \(3, 16, 16\)\)"):
        list(model.restore_iter(mixed))
    with pytest.raises(UsageError, match="every frame must be like the first"):
        list(model.restore_iter([np.zeros((16, 16, 3), np.uint8), torch.zeros(3, 16, 16, dtype=torch.uint8)]))
    with pytest.raises(UsageError, match="every frame must be like the first .*, got list"):
        list(model.restore_iter([np.zeros((16, 16, 3), np.uint8), [[0]]]))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tile": -1}, "tile must be"),
        ({"tile": "big"}, "tile must be"),
        ({"window": 4, "overlap": 4}, "window overlap must be between 0 and 3"),
        ({"batch": 0}, "batch must be at least 1"),
        ({"steps": 0, "model": "wtsa-s"}, "--steps must be between 1 and 1000"),
        ({"model": "dstnet-xl"}, "unknown model 'dstnet-xl'"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(deblur_cli.errors.DeblurError, match=message):
        deblur_cli.load(**{"model": "dstnet-s", "device": "cpu", **options})


def test_sampling_options_for_a_deterministic_model_warn():
    with pytest.warns(deblur_cli.DeblurWarning, match="steps, samples: dstnet-s restores in one deterministic pass"):
        deblur_cli.load("dstnet-s", device="cpu", steps=5, samples=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deblur_cli.load("dstnet-s", device="cpu", precision="fp32")  # nothing to say


def test_the_options_reach_the_windows(model):
    loaded = deblur_cli.load("dstnet-s", device="cpu", window=6, overlap=2, tile=None, batch=2, scene_cuts=False)
    assert (loaded.windows.window, loaded.windows.overlap, loaded.windows.tile) == (6, 2, None)
    assert (loaded.windows.batch, loaded.windows.scene_cuts) == (2, False)
    assert repr(model) == "Deblurrer('dstnet-s', device=cpu, window=4, overlap=1, tile='auto')"
    assert deblur_cli.load(device="cpu").name == "dstnet-s"  # "auto" picks as deblur run does


def test_importing_the_package_imports_no_torch_until_load_is_asked_for():
    script = (
        "import sys, deblur_cli; assert 'torch' not in sys.modules; "
        "load = deblur_cli.load; assert 'torch' in sys.modules; "
        "assert deblur_cli.Deblurrer.__name__ == 'Deblurrer'; "
        "import pytest\n"
        "with pytest.raises(AttributeError): deblur_cli.nothing"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


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
