"""Several windows per model call (`--batch`): the same frames out, fewer calls, memory respected."""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from deblur_cli import stream
from deblur_cli.cli import app
import deblur_cli.restorers as restorers_module
from deblur_cli.models.dstnet import DSTNet, DSTNetConfig
from deblur_cli.stream import restore_stream
from deblur_cli.restorer import batches, restore_windows
from deblur_cli.restorers import DSTNetRestorer
from deblur_cli.windows import WindowOptions, plan_windows
from tests import media
from tests.restorers import TINY_WTSA, IdentityRestorer


class BatchingRestorer(IdentityRestorer):
    """Each window's output depends on all its frames and their order, none on the call it came in."""

    def __init__(self, fail_batches_over: int | None = None):
        super().__init__()
        self.batch_calls: list[tuple[int, ...]] = []
        self.fail_batches_over = fail_batches_over

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(frames.shape))
        return self._restore(frames.unsqueeze(0)).squeeze(0)

    def restore_batch(self, frames: torch.Tensor) -> torch.Tensor:
        assert frames.ndim == 5 and frames.shape[2] == 3
        if self.fail_batches_over is not None and len(frames) > self.fail_batches_over:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.batch_calls.append(tuple(frames.shape))
        return self._restore(frames)

    @staticmethod
    def _restore(x: torch.Tensor) -> torch.Tensor:
        running_mean = x.cumsum(dim=1) / torch.arange(1, x.shape[1] + 1).view(1, -1, 1, 1, 1)
        return (0.5 * x + 0.5 * running_mean.flip(1)).clamp(0, 1)


def frames(n: int, size=(40, 72)) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(n)
    return [torch.rand(3, *size, generator=generator) for _ in range(n)]


def restored(restorer, clip, **options) -> list[torch.Tensor]:
    windows = WindowOptions(**{"window": 5, "overlap": 1, "tile": None, **options})
    with torch.inference_mode():
        return list(restore_stream(iter(clip), restorer, windows, tuple(clip[0].shape[-2:])))


def test_restore_windows_uses_one_call_where_the_restorer_batches():
    x = torch.rand(3, 4, 3, 16, 16)
    batching, plain = BatchingRestorer(), IdentityRestorer()
    torch.testing.assert_close(restore_windows(batching, x, [0, 3, 6]), BatchingRestorer._restore(x))
    assert batching.batch_calls == [(3, 4, 3, 16, 16)] and batching.calls == []
    torch.testing.assert_close(restore_windows(plain, x, [0, 3, 6]), x)
    assert plain.calls == [(4, 3, 16, 16)] * 3


@pytest.mark.parametrize("tile", [None, 48])
def test_batched_stream_equals_one_window_per_call(tile):
    clip = frames(23)  # 40x72, padded to 48x80: two 48-px tiles side by side
    one = restored(BatchingRestorer(), clip, tile=tile, tile_overlap=16)
    restorer = BatchingRestorer()
    many = restored(restorer, clip, tile=tile, tile_overlap=16, batch=3)
    assert len(one) == len(many) == 23
    for a, b in zip(one, many):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert plan_windows(23, 5, 1) == [(0, 5), (4, 9), (8, 13), (12, 17), (16, 20), (19, 23)]
    # Three full windows, then one alone (a plain call), then the last two of equal length.
    tiles = 1 if tile is None else 2
    assert [shape[:2] for shape in restorer.batch_calls] == [(3, 5)] * tiles + [(2, 4)] * tiles
    assert [shape[0] for shape in restorer.calls] == [5] * tiles


def test_a_restorer_without_restore_batch_gets_one_window_per_call():
    restorer = IdentityRestorer()
    out = restored(restorer, frames(12), batch=4)
    assert len(out) == 12 and all(len(shape) == 4 for shape in restorer.calls)


def test_auto_tiles_lower_the_batch_to_what_fits_whole(monkeypatch):
    clip = frames(20, size=(64, 64))
    restorer = BatchingRestorer()
    restorer.bytes_per_pixel = 1000.0
    window_bytes = 64 * 64 * 5 * 1000  # one 5-frame window of 64x64
    monkeypatch.setattr(stream, "free_memory", lambda device: int(2.5 * window_bytes / 0.8))
    restored(restorer, clip, tile="auto", batch=4)
    assert {shape[:2] for shape in restorer.batch_calls} <= {(2, 5), (2, 4)}  # two fit, three do not
    assert all(shape[-2:] == (64, 64) for shape in restorer.batch_calls)  # whole frames, no tiles


def test_the_tile_side_used_is_told_as_planned_and_after_a_retry(monkeypatch):
    """on_tile hears what --tile auto decides and what an out-of-memory retry makes of it (run --json)."""

    class OutOfMemoryAbove128(IdentityRestorer):
        def __call__(self, frames):
            if max(frames.shape[-2:]) > 128:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super().__call__(frames)

    clip = frames(5, size=(256, 256))
    told: list[int | None] = []
    with torch.inference_mode():
        windows = WindowOptions(window=5, overlap=1, tile=None)
        list(restore_stream(iter(clip), OutOfMemoryAbove128(), windows, (256, 256), on_tile=told.append))
        assert told == [None, 128]  # whole frames, then the retry's half
        told.clear()
        restorer = IdentityRestorer()
        monkeypatch.setattr(stream, "free_memory", lambda device: 256 * 256 * 5 * restorer.bytes_per_pixel // 2)
        list(restore_stream(iter(clip), restorer, replace(windows, tile="auto"), (256, 256), on_tile=told.append))
    assert len(told) == 1 and told[0] < 256 and max(max(shape[-2:]) for shape in restorer.calls) <= told[0]


def test_out_of_memory_with_several_windows_falls_back_to_one_at_a_time():
    clip = frames(23)
    restorer = BatchingRestorer(fail_batches_over=1)
    notes: dict[str, str] = {}
    windows = WindowOptions(window=5, overlap=1, tile=None, batch=3)
    with torch.inference_mode():
        out = list(restore_stream(iter(clip), restorer, windows, (40, 72), on_retry=notes.__setitem__))
    for a, b in zip(out, restored(BatchingRestorer(), clip)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert len(out) == 23
    assert notes == {"batch": "out of device memory with 3 windows per call: restored one at a time (lower --batch to skip the retry)"}
    assert len(restorer.calls) == 6  # every window alone after the first failure, none twice
    assert restorer.batch_calls == []


def test_other_errors_in_a_batch_are_not_retried():
    class Broken(BatchingRestorer):
        def restore_batch(self, frames):
            raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        restored(Broken(), frames(23), batch=2)


def test_dstnet_restores_a_batch_as_each_window_alone():
    torch.manual_seed(0)
    model = DSTNet(DSTNetConfig(feat=16, blocks=2))
    restorer = DSTNetRestorer(model, torch.device("cpu"), torch.float32)
    x = torch.rand(3, 4, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    alone = torch.stack([restorer(window) for window in x])
    torch.testing.assert_close(restorer.restore_batch(x), alone, rtol=0, atol=1e-5)
    # and the windows differ, so a batch that mixed them up would fail
    assert (alone[0] - alone[1]).abs().max() > 0.05


def test_run_with_batch_writes_the_same_video(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mkv", frames=19, size=(64, 48), codec="ffv1")
    restorers = []

    def build(*args, **kwargs):
        restorers.append(BatchingRestorer())
        return restorers[-1]

    monkeypatch.setattr(restorers_module, "build_restorer", build)
    runner = CliRunner()
    for batch in (1, 3):
        result = runner.invoke(app, ["run", str(source), "-o", str(tmp_path / f"out{batch}.mkv"), "--codec", "ffv1",
                                     "--window", "5", "--overlap", "2", "--batch", str(batch), "--quiet"])
        assert result.exit_code == 0, result.output
    one, three = (media.read_frames(tmp_path / f"out{b}.mkv") for b in (1, 3))
    assert len(one) == len(three) == 19
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(one, three)) <= 1
    assert restorers[0].batch_calls == [] and restorers[1].batch_calls  # batch 1 never batches
    assert max(shape[0] for shape in restorers[1].batch_calls) == 3


def test_batch_below_one_is_a_usage_error(tmp_path):
    source = media.make_video(tmp_path / "in.mp4", frames=3, size=(32, 32))
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mp4"), "--batch", "0"])
    assert result.exit_code == 2 and "--batch" in result.output


def test_batch_where_the_model_restores_one_window_per_call_says_so(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mp4", frames=6, size=(32, 32))
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())  # no restore_batch
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mp4"), "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "--batch 2 does nothing for dstnet-s: it restores one window per call" in result.output


def test_the_diffusion_models_batch_with_step_noise_too(tmp_path):
    """Each frame draws its noise from its own index, so --batch works with --eta above 0 too, without a note."""
    source = media.make_video(tmp_path / "in.mp4", frames=6, size=(32, 32))
    runner = CliRunner()
    for eta in ("0", "0.5"):
        result = runner.invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mp4"), "-m", "wtsa-s", "--steps", "1",
                                     "--eta", eta, "--batch", "2", "--force", "-q"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "does nothing" not in result.output


def test_frames_wait_on_the_host_and_go_to_the_restorers_device_per_call():
    class OnMeta(BatchingRestorer):
        device = torch.device("meta")  # stands in for a GPU: tensors without storage

        def __call__(self, frames):
            self.calls.append(frames.device)
            return frames.clone()

    restorer = OnMeta()
    clip = frames(12, size=(32, 48))  # on the CPU, as `deblur run` decodes them
    windows = WindowOptions(window=5, overlap=1, tile=None)
    with torch.inference_mode():
        out = list(restore_stream(iter(clip), restorer, windows, (32, 48)))
    assert len(out) == 12 and {frame.device.type for frame in out} == {"meta"}
    assert restorer.calls == [torch.device("meta")] * 3


@pytest.mark.parametrize("tile, batch", [(None, 1), (48, 3)])
def test_eight_bit_frames_are_restored_as_their_float_values(tile, batch):
    # `deblur run` reads ahead uint8 frames; the restorer must see float32 in [0, 1], as before.
    generator = torch.Generator().manual_seed(3)
    clip = [torch.randint(0, 256, (3, 40, 72), dtype=torch.uint8, generator=generator) for _ in range(13)]
    seen = []

    class Checking(BatchingRestorer):
        def restore_batch(self, frames):
            seen.append((frames.dtype, frames.min().item() >= 0, frames.max().item() <= 1))
            return super().restore_batch(frames)

        def __call__(self, frames):
            seen.append((frames.dtype, frames.min().item() >= 0, frames.max().item() <= 1))
            return super().__call__(frames)

    compact = restored(Checking(), clip, tile=tile, tile_overlap=16, batch=batch)
    expected = restored(BatchingRestorer(), [f.float() * (1 / 255) for f in clip], tile=tile, tile_overlap=16, batch=batch)
    assert len(compact) == len(expected) == 13 and {f.dtype for f in compact} == {torch.float32}
    for a, b in zip(compact, expected):
        assert torch.equal(a, b)
    assert set(seen) == {(torch.float32, True, True)}
    assert max(f.max().item() for f in compact) > 0.9  # scaled once, not twice


def test_run_reads_frames_ahead_as_uint8_or_uint16_and_converts_them_as_before():
    from deblur_cli.levels import as_float, holds_uint16, to_compact_tensor, to_tensor

    cpu = torch.device("cpu")
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    compact = to_compact_tensor(image, cpu)
    assert compact.dtype == torch.uint8 and compact.shape == (3, 4, 6) and compact.is_contiguous()
    assert torch.equal(as_float(compact), to_tensor(image, cpu))
    # every 16-bit code, bit for bit as the float32 frames read ahead before (half their bytes)
    deep = np.random.default_rng(0).permutation(np.arange(65536 * 3) % 65536).astype(np.uint16).reshape(256, 256, 3)
    compact = to_compact_tensor(deep, cpu)
    if torch.__version__ >= (2, 13):  # the torch README installs; torch 2.3 has uint16 without torch.equal
        assert holds_uint16(cpu)
    expected = torch.uint16 if holds_uint16(cpu) else torch.float32  # else what to_tensor gives
    assert compact.dtype == expected and compact.shape == (3, 256, 256)
    scaled = as_float(torch.stack([compact, compact]))
    assert torch.equal(scaled[1], to_tensor(deep, cpu))
    assert scaled.max() == 1 and scaled.min() == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="uploads to a CUDA device go through pinned memory")
def test_frames_reach_a_cuda_device_whole_through_pinned_memory():
    from deblur_cli.levels import uploaded

    image = np.random.default_rng(0).integers(0, 256, (36, 64, 3), dtype=np.uint8)
    on_gpu = uploaded(image, torch.device("cuda"))
    image[:] = 0  # the host copy may change as soon as uploaded returns
    assert on_gpu.device.type == "cuda" and on_gpu.sum().item() > 0
    assert torch.equal(on_gpu.cpu(), torch.from_numpy(np.random.default_rng(0).integers(0, 256, (36, 64, 3), dtype=np.uint8)))


def test_run_reports_what_out_of_memory_retries_changed(tmp_path, monkeypatch):
    class Small(BatchingRestorer):
        """Runs out of memory on several windows at once, and on tiles over 96x96."""

        def __call__(self, frames):
            if frames.shape[-2] * frames.shape[-1] > 96 * 96:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super().__call__(frames)

    source = media.make_video(tmp_path / "in.mkv", frames=17, size=(320, 256), codec="ffv1")  # four windows of 5
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: Small(fail_batches_over=1))
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mkv"), "--codec", "ffv1",
                                      "--window", "5", "--overlap", "1", "--batch", "2", "--tile", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "out of device memory with 2 windows per call: restored one at a time" in result.output
    # whole 320x256 frames fail, then 160-px tiles, then 80-px tiles fit: said once, with the size that held
    assert result.output.count("restored in tiles of") == 1 and "restored in tiles of 80 px" in result.output
    assert len(media.read_frames(tmp_path / "out.mkv")) == 17


@pytest.mark.parametrize("samples,eta", [(1, 0.0), (2, 0.0), (2, 1.0)])
def test_a_diffusion_batch_gives_what_one_window_per_call_gives(tmp_path, samples, eta):
    from deblur_cli.diffusion import DiffusionConfig
    from deblur_cli.models.wtsa_unet import WTSAUNet
    from deblur_cli.restorers import ModelOptions, build_restorer
    from deblur_cli.wtsa_weights import save_wtsa

    torch.manual_seed(0)
    unet, prior = WTSAUNet(TINY_WTSA).eval(), DSTNet(DSTNetConfig(feat=8, blocks=1)).eval()
    torch.nn.init.normal_(unet.head.weight, std=0.1)  # the head starts at zero: make the samples differ
    path = tmp_path / "residual.safetensors"
    save_wtsa(unet, path, diffusion=DiffusionConfig(condition="residual", scale=6.0), prior=prior)

    def restorer():
        options = ModelOptions(weights=path, device="cpu", precision="fp32", steps=3, eta=eta, seed=7, samples=samples)
        return build_restorer("wtsa-s", options)

    windows = torch.rand(3, 4, 3, 16, 32, generator=torch.Generator().manual_seed(1))
    starts = [0, 3, 6]
    one_by_one = restorer()
    alone = torch.stack([one_by_one(window, start) for window, start in zip(windows, starts)])
    batched = restorer()
    calls = []
    batched.model.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    together = restore_windows(batched, windows, starts)
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)
    # all three windows in each of the steps x samples calls, with step noise (eta > 0) too
    assert batches(batched) and calls == [3] * 3 * samples
    # the noise is the frames': the same where they are, other frames' elsewhere
    again = restorer()
    torch.testing.assert_close(again(windows[1], 3), alone[1], rtol=0, atol=1e-5)
    assert not torch.allclose(again(windows[0], 0), again(windows[0], 3), atol=1e-3)


class NoisyRestorer(BatchingRestorer):
    """Positional, as a diffusion restorer: adds noise drawn from each frame's index in the video."""

    positional = True

    def __init__(self, fail_calls: int = 0):
        super().__init__()
        self.fail_calls = fail_calls  # this many calls run out of memory
        self.starts = []

    def __call__(self, frames, first_frame=0):
        return self.restore_batch(frames.unsqueeze(0), [first_frame]).squeeze(0)

    def restore_batch(self, frames, first_frames=None):
        self.starts.append(list(first_frames))
        if self.fail_calls:
            self.fail_calls -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        noise = torch.stack([self._noise(window, first) for window, first in zip(frames, first_frames)])
        return (self._restore(frames) + 0.05 * noise).clamp(0, 1)

    @staticmethod
    def _noise(window: torch.Tensor, first: int) -> torch.Tensor:
        drawn = [torch.randn(f.shape, generator=torch.Generator().manual_seed(first + t)) for t, f in enumerate(window)]
        return torch.stack(drawn)


def assert_same(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-6)


@pytest.mark.parametrize("tile", [None, 32])
def test_a_positional_restorer_gives_the_same_frames_whatever_the_batch(tile):
    clip = frames(13)
    restorer = NoisyRestorer()
    alone = restored(restorer, clip, tile=tile, batch=1)
    assert [start for start, _ in itertools.groupby(restorer.starts)] == [[0], [4], [8]]  # each tile told too
    assert_same(restored(NoisyRestorer(), clip, tile=tile, batch=3), alone)


def test_an_out_of_memory_retry_restores_the_windows_where_they_are():
    """After a failed call of several windows, or of a whole frame, each window is still told where it starts."""
    clip = frames(13)
    assert_same(restored(NoisyRestorer(fail_calls=1), clip, batch=3), restored(NoisyRestorer(), clip, batch=3))
    clip = frames(6, size=(144, 256))
    tiled = restored(NoisyRestorer(), clip, tile=128)
    assert_same(restored(NoisyRestorer(fail_calls=1), clip), tiled)  # the whole frame fails: tiles of 256 / 2 px


def test_a_stream_restarted_at_a_window_start_is_told_where_it_restarts():
    """A continued run restores from a restart point: told where its first frame lies in the video, a positional
    restorer gives the frames the whole run gave from there (after the overlap the restart reads again)."""
    clip, options = frames(14), WindowOptions(window=5, overlap=1, tile=None)
    with torch.inference_mode():
        whole = list(restore_stream(iter(clip), NoisyRestorer(), options, (40, 72)))
        again = list(restore_stream(iter(clip[8:]), NoisyRestorer(), options, (40, 72), first=8))
        unplaced = list(restore_stream(iter(clip[8:]), NoisyRestorer(), options, (40, 72)))
    assert_same(again[1:], whole[9:])
    assert not torch.allclose(unplaced[1], whole[9])


class Structural:
    """A restorer with the contract's required members only, not a subclass of Restorer."""

    multiple, max_frames, device, bytes_per_pixel = 16, None, torch.device("cpu"), 64.0

    def __call__(self, frames):
        return frames.clone()


def test_a_restorer_that_does_not_subclass_the_protocol_gets_its_defaults(tmp_path):
    """Found in review: once the pipeline read the optional members as attributes, a restorer with only the
    required ones (a Protocol is structural) failed with AttributeError in restore_stream, the API and bench."""
    import deblur_cli
    from deblur_cli.pipeline import deblur_video

    clip = [torch.rand(3, 20, 24) for _ in range(5)]
    windows = WindowOptions(window=4, overlap=1, tile=None)
    out = list(restore_stream(iter(clip), Structural(), windows, (20, 24)))
    assert len(out) == 5 and all(torch.allclose(a, b) for a, b in zip(out, clip))
    restored = deblur_cli.Deblurrer("mine", Structural(), windows).restore(torch.stack(clip))
    assert restored.shape == (5, 3, 20, 24)
    source = media.make_video(tmp_path / "in.mkv", frames=5)
    assert deblur_video(source, tmp_path / "out.mkv", Structural(), windows=windows).frames == 5


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10 holds a call's arguments in the caller until the call returns"
)
def test_the_8_bit_stack_of_a_call_is_let_go_before_the_model_runs():
    """Found in review: restore_stream's windows went to stitch_windows as an object, whose call kept the 8-bit
    stack of each call alive through the model (on a GPU, 62 MB a 1080p window of dstnet's). Python 3.10 keeps
    it alive anyway, in stitch_windows' frame (its calls do not hand their arguments over), about 1.5% of the
    4 GB the tile planner counts for such a window."""
    import gc

    held = []

    class Probe(IdentityRestorer):
        def __call__(self, frames):
            stacks = [o for o in gc.get_objects() if type(o) is torch.Tensor and o.dtype == torch.uint8]
            held.append([tuple(o.shape) for o in stacks if o.dim() == 5])
            return frames.clone()

    clip = [torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8) for _ in range(8)]
    with torch.inference_mode():
        list(restore_stream(iter(clip), Probe(), WindowOptions(window=4, overlap=1, tile=None), (32, 32)))
    assert held == [[]] * len(held) and len(held) == 3
