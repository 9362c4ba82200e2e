"""How fast PyTorch's own norms run on a GPU at WTSA's sizes, against a plain pass over the same memory.

    python3 benchmarks/bench_norms.py          # CUDA only

WTSA's profile on an H200 (docs/wtsa.md) put a quarter of a DDIM step in LayerNorm and an eighth in
GroupNorm. This times, in bf16, LayerNorm over 64 channels of the 4.6 M tokens of a 5-frame 720p
window, as PyTorch's kernel, by hand (var_mean, then one pass) and on float32 input, against a copy
and an addition of that tensor (bandwidth-bound passes), and GroupNorm (8
groups) of the UNet's three stages in contiguous and channels-last layouts and written out by hand with
var_mean, against SiLU of the same maps. Each figure is the mean of 20 calls after 3, CUDA events.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def milliseconds(fn, calls: int = 20) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(calls):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / calls


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("bench_norms.py times CUDA kernels: no CUDA device here")
    torch.manual_seed(0)
    dev, bf16 = "cuda", torch.bfloat16
    print(torch.cuda.get_device_name(), "torch", torch.__version__)
    x = torch.randn(5 * 720 * 1280, 64, device=dev, dtype=bf16)
    w, b = torch.ones(64, device=dev, dtype=bf16), torch.zeros(64, device=dev, dtype=bf16)
    moved = x.numel() * x.element_size() * 2  # bytes read and written by one pass

    def layer_norm_by_hand():  # what a replacement would do: one reduction, then one fused-able pass
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        return torch.addcmul(b, (x - mean) * torch.rsqrt(var + 1e-5), w)

    for name, fn in [
        ("layer_norm (4.6M,64)", lambda: F.layer_norm(x, (64,), w, b)),
        ("layer_norm by hand (var_mean) (4.6M,64)", layer_norm_by_hand),
        ("layer_norm (4.6M,64) float32 in", lambda: F.layer_norm(x.float(), (64,), w.float(), b.float())),
        ("copy (4.6M,64)", lambda: x.clone()),
        ("add", lambda: x + x),
    ]:
        ms = milliseconds(fn)
        print(f"{name}: {ms:.3f} ms, {moved / ms / 1e9:.2f} TB/s as one read and one write")
    for c, h, wd in [(64, 720, 1280), (128, 360, 640), (256, 180, 320)]:
        y = torch.randn(5, c, h, wd, device=dev, dtype=bf16)
        y_last = y.contiguous(memory_format=torch.channels_last)
        gw, gb = torch.ones(c, device=dev, dtype=bf16), torch.zeros(c, device=dev, dtype=bf16)
        for layout, z in [("contiguous", y), ("channels_last", y_last)]:
            print(f"group_norm {c}x{h}x{wd} {layout}: {milliseconds(lambda: F.group_norm(z, 8, gw, gb)):.3f} ms")
        print(f"silu {c}x{h}x{wd}: {milliseconds(lambda: F.silu(y)):.3f} ms")

        def by_hand(z=y_last):
            groups = z.permute(0, 2, 3, 1).reshape(5, h * wd, 8, c // 8)  # a view of channels-last memory
            var, mean = torch.var_mean(groups.float(), dim=(1, 3), keepdim=True, correction=0)
            return ((groups - mean) * torch.rsqrt(var + 1e-5)).to(z.dtype)

        print(f"group_norm by hand (var_mean) {c}x{h}x{wd} channels_last: {milliseconds(by_hand):.3f} ms")


if __name__ == "__main__":
    main()
