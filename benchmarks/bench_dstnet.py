"""Speed and memory of a DSTNet variant on this machine: seconds per frame and peak RSS.

    python benchmarks/bench_dstnet.py --variant dstnet --size 1280x720 --frames 4 --warmup 1 --repeat 2
    python benchmarks/bench_dstnet.py --variant dstnet --device cuda --dtype bfloat16 --frames 30 --batch 4 --cudnn-benchmark

Weights are random (speed does not depend on their values). A burn-in stage runs first, then the
timed stage; the device is synchronised around the timer. Before timing, a small window is run
through the inference path and through the autograd-friendly path (no buffer reuse, no out=) and
in float64, and the largest differences are printed, so a faster path cannot silently drift.
On a CPU shared with other work, wall time overstates the cost; the process CPU time (summed over
threads) is printed beside it. The arithmetic of one frame (GFLOP, counted on the meta device) turns
the time into achieved TFLOP/s; `--profile` prints the operators that took the most time. On Linux,
THP_MEM_ALLOC_ENABLE=1 in the environment lets PyTorch back large CPU tensors with huge pages, which
saves page-fault time on fresh 720p feature maps. `--batch` restores that many windows in one call
(the batch dimension): on a GPU, one 720p frame per recurrence step may leave the device idle
between small kernels, and this measures what filling it would gain. `--cudnn-benchmark` lets cuDNN
time its algorithms for each convolution shape on first use. The operators per frame (views
excluded, counted on the meta device) turn the time into microseconds per operator: when that is
near what launching one costs the host (some microseconds in eager PyTorch), launches, not
arithmetic, set the pace. `--compile` runs the recurrence step of
both propagation directions (most of the time; each frame calls it once per direction) through
torch.compile, which fuses its elementwise work (gates, activations, residual adds).
`--cuda-graph` captures one call in a CUDA graph and times its replays: no kernel is launched by
the host, so the difference from the eager time is what launching costs.
`--fused-filter` (CUDA, Triton) runs inference with the per-pixel filter's fused Triton kernel
(DEBLUR_FUSED_FILTER=1): the path check then compares it with the PyTorch path (the autograd one), and
the filter alone is timed both ways on the feature maps of one frame at --size.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import torch

from deblur_cli.devices import synchronize
from deblur_cli.models.dstnet import DSTNET_VARIANTS, PIXEL_KERNEL_SCALE, DSTNet
from deblur_cli.models.dynamic_filter import FUSED_FILTER_ENV, pixel_filter_3x3
from deblur_cli.restorers import DSTNetRestorer
from profiling import count_flops, count_operators, kernel_table


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def check_paths(model: DSTNet, device: torch.device, dtype: torch.dtype) -> tuple[float, float]:
    """Max |difference| of the inference path vs the autograd path, and vs float64, on a small window."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 3, 64, 96, generator=generator)
    with torch.inference_mode():
        fast = model(x.to(device, dtype)).float().cpu()
    graph_input = x.to(device, dtype).requires_grad_()
    with torch.enable_grad():
        graph = model(graph_input).detach().float().cpu()
    reference = DSTNet(model.config).to(torch.float64)
    reference.load_state_dict(model.state_dict())
    with torch.inference_mode():
        exact = reference(x.to(torch.float64)).float()
    return (fast - graph).abs().max().item(), (fast - exact).abs().max().item()


def captured(model: DSTNet, x: torch.Tensor):
    """A function that replays one call of model(x), captured in a CUDA graph: the GPU then runs
    the whole window without the host launching each kernel, which shows what launching costs.
    Its output must equal the eager call's (checked here)."""
    if x.device.type != "cuda":
        raise SystemExit("--cuda-graph needs --device cuda")
    # The composed input and output convolutions are built from constants copied from the host,
    # which a capture cannot hold: build them once, before it, and let every call reuse them.
    kernels = model._composite_kernels(x.dtype)
    model._composite_kernels = lambda dtype: kernels
    side = torch.cuda.Stream(x.device)
    side.wait_stream(torch.cuda.current_stream(x.device))
    with torch.cuda.stream(side):  # the allocator's warm-up happens off the capture
        eager = model(x)
    torch.cuda.current_stream(x.device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        replayed = model(x)
    graph.replay()
    torch.cuda.synchronize(x.device)
    print(f"CUDA graph: max|replay - eager| = {(replayed.float() - eager.float()).abs().max().item():.2e}")
    return graph.replay


def time_filter(channels: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> str:
    """The per-pixel filter alone on one frame's propagation features ((1, channels, height, width)),
    the PyTorch path against the fused kernel: ms per call (best of 20) and their largest difference."""
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(1, channels, height, width, generator=generator).to(device, dtype)
    x = x.contiguous(memory_format=torch.channels_last)
    low = (1, 9 * channels, height // PIXEL_KERNEL_SCALE, width // PIXEL_KERNEL_SCALE)
    kernels = (torch.randn(low, generator=generator) / 9).to(device, dtype)
    results, times = {}, {}
    for fused in ("0", "1"):
        os.environ[FUSED_FILTER_ENV] = fused
        with torch.inference_mode():
            results[fused] = pixel_filter_3x3(x, kernels, PIXEL_KERNEL_SCALE)
            best = float("inf")
            for _ in range(20):
                synchronize(device)
                start = time.perf_counter()
                pixel_filter_3x3(x, kernels, PIXEL_KERNEL_SCALE)
                synchronize(device)
                best = min(best, time.perf_counter() - start)
        times[fused] = best * 1e3
    os.environ[FUSED_FILTER_ENV] = "1"
    difference = (results["0"].float() - results["1"].float()).abs().max().item()
    return (
        f"pixel filter on (1, {channels}, {height}, {width}): PyTorch path {times['0']:.3f} ms, fused "
        f"{times['1']:.3f} ms; max|difference| {difference:.2e} (max|output| {results['0'].abs().max().item():.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(DSTNET_VARIANTS), default="dstnet")
    parser.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT, multiples of 16")
    parser.add_argument("--frames", type=int, default=4, help="frames per window")
    parser.add_argument("--warmup", type=int, default=1, help="untimed windows first")
    parser.add_argument("--repeat", type=int, default=2, help="timed windows")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--batch", type=int, default=1, help="windows restored together in one call")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    parser.add_argument("--compile", action="store_true", help="torch.compile the propagation steps")
    parser.add_argument(
        "--cuda-graph", action="store_true", help="capture one call in a CUDA graph and time its replays (CUDA only)"
    )
    parser.add_argument(
        "--fused-filter", action="store_true", help="the per-pixel filter's fused Triton kernel (CUDA only)"
    )
    parser.add_argument("--no-check", action="store_true", help="skip the path-equivalence check")
    parser.add_argument("--profile", action="store_true", help="then profile one window: the top operators")
    args = parser.parse_args(argv)

    if args.fused_filter:
        if args.device == "cpu":
            raise SystemExit("--fused-filter needs --device cuda")
        os.environ[FUSED_FILTER_ENV] = "1"
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    torch.manual_seed(0)
    model = DSTNet(DSTNET_VARIANTS[args.variant]).to(device, dtype).eval()
    width, height = args.size
    print(
        f"{args.variant}: {DSTNET_VARIANTS[args.variant]}, {width}x{height}, {args.frames} frames/window, "
        f"{args.batch} window(s) per call, {args.dtype} on {device}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}" + (", cudnn.benchmark" if args.cudnn_benchmark else "")
        + (", compiled propagation steps" if args.compile else "")
        + (", CUDA graph" if args.cuda_graph else "")
        + (", fused pixel filter" if args.fused_filter else "")
    )
    if args.compile:
        DSTNetRestorer(model, device, dtype).compile(print)  # the model's steps, as deblur run --compile does
    if not args.no_check:
        vs_graph, vs_float64 = check_paths(model, device, dtype)
        print(
            f"check (64x96, 3 frames): max|inference - autograd path| = {vs_graph:.2e}, "
            f"max|{args.dtype} - float64| = {vs_float64:.2e}"
        )

    if args.fused_filter:
        print(time_filter(model.config.feat, height // 2, width // 2, device, dtype))

    shape = (args.batch, args.frames, 3, height, width)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1)).to(device, dtype)
    frames = args.batch * args.frames  # restored per call
    with torch.inference_mode():
        call = captured(model, x) if args.cuda_graph else lambda: model(x)
        for _ in range(args.warmup):
            call()
        synchronize(device)
        wall, cpu = [], []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            synchronize(device)
            wall.append((time.perf_counter() - start) / frames)
            cpu.append((time.process_time() - start_cpu) / frames)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"s/frame: best {min(wall):.4f} ({1 / min(wall):.1f} fps), mean {sum(wall) / len(wall):.4f} over {args.repeat} calls "
        f"(process CPU s/frame, all threads: {min(cpu):.3f}); peak RSS {peak_rss_mib:.0f} MiB"
    )
    if device.type == "cuda":
        print(f"peak CUDA memory {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB")
    config = DSTNET_VARIANTS[args.variant]

    def on_meta(meta: torch.device) -> None:
        DSTNet(config).to(meta).eval()(torch.empty(x.shape, device=meta))

    flops = count_flops(on_meta) / frames
    print(f"{flops / 1e9:.1f} GFLOP per frame: {flops / min(wall) / 1e12:.2f} TFLOP/s achieved")
    meta_model, meta_x = DSTNet(config).to("meta").eval(), torch.empty(x.shape, device="meta")
    operators = count_operators(lambda: meta_model(meta_x)) / frames
    print(f"{operators:.0f} operators per frame (views excluded): {min(wall) / operators * 1e6:.1f} us each")
    if args.profile:
        print(kernel_table(lambda: model(x), device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
