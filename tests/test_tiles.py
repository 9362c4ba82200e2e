import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from deblur_cli import tiles
from deblur_cli.devices import free_memory
from deblur_cli.errors import ModelError, UsageError
from deblur_cli.tiles import (
    auto_tile_size,
    crop_to,
    pad_to_multiple,
    restore_tiled,
    restore_tiled_with_retry,
)

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def image(t, h, w, seed=0):
    return torch.rand(t, 3, h, w, generator=torch.Generator().manual_seed(seed))


@st.composite
def tilings(draw):
    multiple = draw(st.sampled_from([1, 4, 8, 16]))
    tile = draw(st.none() | st.integers(multiple, 48))
    rounded = tile // multiple * multiple if tile else None
    overlap = draw(st.integers(0, rounded - multiple)) if tile else 0
    return draw(st.integers(1, 45)), draw(st.integers(1, 45)), tile, overlap, multiple


class Recording:
    """An identity restorer that remembers the shapes it was given."""

    def __init__(self):
        self.shapes = []

    def __call__(self, x):
        self.shapes.append(tuple(x.shape))
        return x.clone()


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 2, 8, 16, 32]))
def test_pad_then_crop_is_the_identity(h, w, multiple):
    x = image(2, h, w)
    padded, size = pad_to_multiple(x, multiple)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert padded.shape[-2] - h < multiple and padded.shape[-1] - w < multiple
    assert size == (h, w)
    assert torch.equal(crop_to(padded, size), x)


def test_pad_reflects_and_replicates_where_it_cannot_reflect():
    x = torch.arange(1.0, 6.0).reshape(1, 5)  # H = 1 cannot be reflected
    padded, _ = pad_to_multiple(x, 8)
    assert padded[0].tolist() == [1, 2, 3, 4, 5, 4, 3, 2]  # reflected along W
    assert (padded == padded[0]).all()  # replicated along H
    assert padded.shape == (8, 8)
    x = torch.arange(1.0, 4.0).reshape(1, 3)
    assert pad_to_multiple(x, 8)[0][0].tolist() == [1, 2, 3, 3, 3, 3, 3, 3]  # 5 > 2: replicated


@SETTINGS
@given(st.integers(1, 20), st.integers(1, 20), st.sampled_from([2, 3, 8, 16]))
def test_pad_matches_torch_reflect_and_replicate_padding(h, w, multiple):
    x = image(2, h, w, seed=h * 100 + w)
    pad_h, pad_w = -h % multiple, -w % multiple
    expected = x
    if pad_w:
        expected = F.pad(expected, (0, pad_w, 0, 0), mode="reflect" if pad_w < w else "replicate")
    if pad_h:
        expected = F.pad(expected, (0, 0, 0, pad_h), mode="reflect" if pad_h < h else "replicate")
    assert torch.equal(pad_to_multiple(x, multiple)[0], expected)


def test_pad_keeps_leading_dims_dtype_and_leaves_multiples_alone():
    x = image(2, 16, 32).to(torch.float16)
    assert pad_to_multiple(x, 16)[0] is x
    padded, _ = pad_to_multiple(x[..., :15, :], 16)
    assert padded.shape == (2, 3, 16, 32) and padded.dtype == torch.float16


@SETTINGS
@given(tilings(), st.integers(1, 2))
def test_tiled_identity_round_trip(tiling, frames):
    h, w, tile, overlap, multiple = tiling
    x = image(frames, h, w, seed=h * 100 + w)
    restore = Recording()
    y = restore_tiled(x, restore, multiple=multiple, tile=tile, overlap=overlap)
    # Not bit-exact where tiles overlap: sum(w_i * x) / sum(w_i) rounds in float32.
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)
    hp, wp = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    if tile is None:
        assert restore.shapes == [(frames, 3, hp, wp)]
        return
    side = tile // multiple * multiple
    # No tile larger than asked, only multiples reach the model, and as few tiles as tiles of
    # that side overlapping by `overlap` (rounded up to the multiple) allow along each axis.
    assert all(s[:2] == (frames, 3) and s[-2] <= min(side, hp) and s[-1] <= min(side, wp) for s in restore.shapes)
    assert all(s[-2] % multiple == 0 and s[-1] % multiple == 0 for s in restore.shapes)
    step = side - -(-overlap // multiple) * multiple

    def fewest(length):
        return 1 if length <= side else -(-(length - side) // step) + 1

    assert len(restore.shapes) == fewest(hp) * fewest(wp)


def test_whole_frame_restores_are_bit_exact():
    x = image(2, 37, 23)
    assert torch.equal(restore_tiled(x, lambda t: t, multiple=16, tile=None), x)


def test_a_tile_larger_than_the_frame_is_one_call():
    restore = Recording()
    x = image(1, 20, 30)
    torch.testing.assert_close(restore_tiled(x, restore, multiple=8, tile=256, overlap=32), x, rtol=0, atol=0)
    assert restore.shapes == [(1, 3, 24, 32)]


def test_each_tile_is_told_before_it_is_restored():
    """tile_begun(index, count) comes before each tile's call, so a restorer can count its progress over the
    window's tiles (DSTNet's on_step); whole frames and in_tiles are told nothing."""
    told, calls = [], []

    def restore(x):
        calls.append(len(told))
        return x

    frames = image(2, 40, 56)
    out = restore_tiled(frames, restore, multiple=8, tile=24, overlap=8, tile_begun=lambda *place: told.append(place))
    assert torch.equal(out, restore_tiled(frames, lambda x: x, multiple=8, tile=24, overlap=8))
    assert told == [(i, len(calls)) for i in range(len(calls))] and calls == list(range(1, len(calls) + 1))
    assert len(calls) > 1
    told.clear()
    restore_tiled(frames, restore, multiple=8, tile=None, tile_begun=lambda *place: told.append(place))
    restore_tiled(frames, restore, multiple=8, tile=24, in_tiles=lambda x, grid: x, tile_begun=told.append)
    assert told == []


def test_tiles_overlap_by_at_least_the_overlap():
    starts = []

    def restore(t):
        starts.append(int(t[0, 0, 0, 0]))  # the column index written into the frame below
        return t

    x = torch.arange(100.0).expand(1, 3, 16, 100).clone()
    restore_tiled(x, restore, multiple=4, tile=32, overlap=10)
    # Steps of 32 - 12 (the overlap rounded up to the multiple); the 40 px left from 60 on are split
    # into tiles of 24 and 28 px that overlap by 12.
    assert starts == [0, 20, 40, 60, 72]


def per_tile_constant(value):
    calls = []

    def restore(x):
        calls.append(None)
        return torch.full_like(x, value(len(calls) - 1))

    return restore


@SETTINGS
@given(st.integers(8, 90), st.sampled_from([1, 4, 8]), st.integers(8, 32), st.data())
def test_tiles_fade_into_each_other(width, multiple, tile, data):
    side = tile // multiple * multiple
    overlap = data.draw(st.integers(1, side - multiple)) if side > multiple else 0
    x = torch.zeros(1, 3, 4, width)
    flicker = per_tile_constant(lambda k: float(k % 2))  # one row of tiles, neighbours one apart
    row = restore_tiled(x, flicker, multiple=multiple, tile=tile, overlap=overlap)[0, 0, 0]
    jumps = (row[1:] - row[:-1]).abs()
    # The same raised cosine as between windows: at most sin(pi / (2 (L + 1))) per pixel.
    assert jumps.max() <= math.sin(math.pi / (2 * (overlap + 1))) + 1e-6


@SETTINGS
@given(tilings())
def test_tile_weights_sum_to_one(tiling):
    h, w, tile, overlap, multiple = tiling
    x = torch.zeros(1, 3, h, w)
    ones = restore_tiled(x, lambda t: torch.ones_like(t), multiple=multiple, tile=tile, overlap=overlap)
    torch.testing.assert_close(ones, torch.ones_like(x), rtol=0, atol=1e-6)


def test_a_cut_would_fail_the_tile_smoothness_bound():
    x = torch.zeros(1, 3, 4, 64)
    row = restore_tiled(x, per_tile_constant(lambda k: float(k % 2)), multiple=1, tile=32, overlap=0)[0, 0, 0]
    assert (row[1:] - row[:-1]).abs().max() == 1


def test_output_keeps_the_input_dtype():
    x = image(1, 20, 20).to(torch.bfloat16)
    y = restore_tiled(x, lambda t: t.float(), multiple=8, tile=16, overlap=8)
    assert y.dtype == torch.bfloat16 and y.shape == x.shape


@pytest.mark.parametrize("tile,overlap", [(8, 0), (32, 17), (32, 32)])
def test_impossible_tiles_are_usage_errors(tile, overlap):
    with pytest.raises(UsageError) as info:
        restore_tiled(image(1, 40, 40), lambda t: t, multiple=16, tile=tile, overlap=overlap)
    assert info.value.hint


def test_the_default_overlap_shrinks_to_fit_a_small_tile():
    starts = []

    def restore(t):
        starts.append(int(t[0, 0, 0, 0]))
        return t

    x = torch.arange(96.0).expand(1, 3, 16, 96).clone()
    restore_tiled(x, restore, multiple=16, tile=32, overlap=None)  # 32 px would leave no room: 16 px it is
    assert starts == [0, 16, 32, 48, 64]
    wide = []
    restore_tiled(x, lambda t: wide.append(t.shape[-1]) or t, multiple=16, tile=96 + 64, overlap=None)
    assert wide == [96]  # a tile that fits is one call, whatever the overlap
    with pytest.raises(UsageError):  # asked for, it is not shrunk
        restore_tiled(x, restore, multiple=16, tile=32, overlap=32)


def test_auto_tile_size_golden():
    # The whole 1024 x 1024 frame, 2 frames at 100 B per pixel-frame, needs 209,715,200 B.
    assert auto_tile_size(1024, 1024, 2, bytes_per_pixel_frame=100, free_bytes=209_715_200, multiple=16) is None
    # 100 MB: the float32 sums take 1024^2 * (2 * 12 + 4) = 29,360,128 B, leaving 70,639,872 B,
    # i.e. 353,199 pixels per frame: 594 px square, rounded down to 592.
    assert auto_tile_size(1024, 1024, 2, bytes_per_pixel_frame=100, free_bytes=100_000_000, multiple=16) == 592
    # Nothing left after the sums: the smallest tile, and the retry decides.
    assert auto_tile_size(1024, 1024, 2, bytes_per_pixel_frame=100, free_bytes=10_000_000, multiple=16) == 16


@SETTINGS
@given(st.integers(64, 4000), st.integers(64, 4000), st.integers(1, 16), st.integers(10**7, 10**10))
def test_auto_tile_is_the_largest_that_fits(h, w, frames, free):
    bpp, m = 300.0, 16
    tile = auto_tile_size(h, w, frames, bytes_per_pixel_frame=bpp, free_bytes=free, multiple=m)
    padded = (-(-h // m) * m) * (-(-w // m) * m)
    if tile is None:
        assert padded * frames * bpp <= free
        return
    budget = free - padded * (frames * 12 + 4)
    assert tile % m == 0
    if tile > m:
        assert tile * tile * frames * bpp <= budget
    assert (tile + m) ** 2 * frames * bpp > budget


def test_free_memory_on_cpu_is_plausible():
    free = free_memory(torch.device("cpu"))
    with open("/proc/meminfo") as f:
        total = int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) * 1024
    assert 0 < free <= total


def oom_above(limit):
    """An identity restorer that runs out of CUDA memory on inputs with a side over `limit`."""
    shapes = []

    def restore(x):
        shapes.append(tuple(x.shape[-2:]))
        if max(x.shape[-2:]) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return x

    return restore, shapes


def test_retry_halves_the_tile_until_it_fits():
    x = image(2, 100, 130)  # padded to 112 x 144
    restore, shapes = oom_above(64)
    retries = []
    y = restore_tiled_with_retry(x, restore, multiple=16, tile=None, overlap=64, on_retry=retries.append)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)
    assert retries == [64]  # half of 144, rounded down to 16; the overlap shrank to 48 to fit
    assert shapes[0] == (112, 144) and max(max(s) for s in shapes[1:]) == 64  # then tiles of at most 64


def test_retry_starts_from_the_given_tile():
    restore, shapes = oom_above(100)
    retries = []
    restore_tiled_with_retry(image(1, 300, 300), restore, multiple=8, tile=256, overlap=16, on_retry=retries.append)
    assert retries == [128, 64]


def test_retry_gives_up_below_min_tile_with_a_hint():
    restore, shapes = oom_above(0)
    with pytest.raises(ModelError) as info:
        restore_tiled_with_retry(image(1, 200, 200), restore, multiple=16, tile=None, overlap=32, min_tile=64)
    assert "--window" in info.value.hint and "--tile" in info.value.hint and "--precision" not in info.value.hint
    # The whole 208-px frame, then 96-px tiles; 48 would be below min_tile.
    assert list(dict.fromkeys(s[0] for s in shapes)) == [208, 96]
    assert "96-px tiles" in str(info.value)


@pytest.mark.parametrize(
    "device, dtype, bf16_cpu, offered",
    [
        ("cuda", torch.float32, False, "--precision fp16"),
        ("mps", torch.float32, False, "--precision fp16"),
        ("cuda", torch.bfloat16, False, None),  # already half: nothing narrower to offer
        ("cpu", torch.float32, True, "--precision bf16"),
        ("cpu", torch.float32, False, None),  # fp16 is refused on the CPU, and bf16 is emulated slowly
        ("cpu", torch.bfloat16, True, None),
    ],
)
def test_out_of_memory_hint_offers_only_a_precision_the_device_runs(monkeypatch, device, dtype, bf16_cpu, offered):
    monkeypatch.setattr(tiles, "cpu_runs_bf16", lambda: bf16_cpu)
    hint = tiles._out_of_memory_hint(torch.device(device), dtype, 64)
    assert hint.startswith("try a smaller --window") and hint.endswith("--tile below 64 (at some cost in quality)")
    if offered is None:
        assert "--precision" not in hint
    else:
        assert f", {offered} or --tile" in hint


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB, other allocations: 1.20 GB)"),
        RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate memory: you tried"),
    ],
)
def test_mps_and_cpu_allocation_failures_are_retried_too(error):
    shapes = []

    def restore(x):
        shapes.append(tuple(x.shape[-2:]))
        if max(x.shape[-2:]) > 100:
            raise error
        return x

    y = restore_tiled_with_retry(image(1, 200, 200), restore, multiple=16, tile=None, overlap=16)
    torch.testing.assert_close(y, image(1, 200, 200), rtol=0, atol=1e-6)
    assert shapes[0] == (208, 208) and max(max(s) for s in shapes[1:]) == 96  # the whole frame, then 96-px tiles


def test_other_errors_are_not_retried():
    def broken(x):
        raise RuntimeError("not memory")

    with pytest.raises(RuntimeError, match="not memory"):
        restore_tiled_with_retry(image(1, 16, 16), broken, multiple=16, tile=None, overlap=32)
