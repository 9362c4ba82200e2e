"""Frames per second of a whole `deblur run` (decoding, the restore path, encoding) on a generated clip,
with random weights of a DSTNet variant: what `bench_stream.py` (frames already on the device, no codecs)
leaves out.

    python3 benchmarks/bench_run.py --model dstnet --device cuda --precision bf16 --size 1280x720 --frames 240
    python benchmarks/bench_run.py --model dstnet-s --size 640x352 --frames 40 --variants default

The clip is H.264 (CRF 18): a smooth random picture panning a few pixels a frame, so scene-cut tests see
one shot. Variants: `default`, `deblur run` as it is; `pageable`, the decoding thread's uploads from
pageable host memory, as before 2026-12-04 (`levels.uploaded` without its pinned copy: on a GPU, whether
the decoding thread waited for each window's model); `no-scene-cuts`, with `--no-scene-cuts`; `batch4`,
with `--batch 4`. Each variant runs once, after one untimed run of a few frames (allocator, cuDNN,
--compile's kernels); the figures are `deblur run`'s own (its `--json` fps, frames over its run's
seconds) and the wall time of the whole command. Needs PyAV (benchmarks/gpu_session.sh `run` installs
the wheel it is given on a machine without it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deblur_cli import levels  # noqa: E402
from deblur_cli.cli import app  # noqa: E402
from deblur_cli.dstnet_weights import save_dstnet  # noqa: E402
from deblur_cli.models.dstnet import DSTNET_VARIANTS, DSTNet  # noqa: E402

VARIANTS = {"default": [], "pageable": [], "no-scene-cuts": ["--no-scene-cuts"], "batch4": ["--batch", "4"]}


def make_clip(path: Path, width: int, height: int, frames: int, fps: int = 30) -> None:
    """A panning smooth random picture, H.264 CRF 18, yuv420p."""
    generator = torch.Generator().manual_seed(0)
    picture = F.interpolate(torch.rand(1, 3, height // 8 + 2, width // 8 + frames, generator=generator),
                            scale_factor=8, mode="bicubic").clamp(0, 1)[0]  # fmt: skip
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "18"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            crop = picture[:, :height, 3 * index : 3 * index + width]
            image = (crop.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def pageable(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """levels.uploaded as it was before 2026-12-04: straight from NumPy's (pageable) memory."""
    return torch.from_numpy(image).to(device, non_blocking=True)


def run(arguments: list[str]) -> dict:
    result = CliRunner().invoke(app, ["run", *arguments, "--json", "-q", "-f"])
    if result.exit_code != 0:
        raise SystemExit(f"deblur run {' '.join(arguments)} failed: {result.output}{result.exception or ''}")
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(DSTNET_VARIANTS), default="dstnet")
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT")
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--compile", action="store_true", help="deblur run --compile")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["default", "pageable"])
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as folder:
        clip, weights = Path(folder) / "clip.mp4", Path(folder) / f"{args.model}-random.safetensors"
        started = time.perf_counter()
        make_clip(clip, width, height, args.frames)
        torch.manual_seed(0)
        save_dstnet(DSTNet(DSTNET_VARIANTS[args.model]), weights)
        print(f"{args.model} (random weights), {width}x{height}, {args.frames} frames of H.264, torch "
              f"{torch.__version__}, PyAV {av.__version__}; clip made in {time.perf_counter() - started:.1f} s")  # fmt: skip
        if torch.cuda.is_available() and args.device in ("auto", "cuda"):  # the pinned upload, checked first
            image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
            on_gpu, expected = levels.uploaded(image, torch.device("cuda")), image.copy()
            image[:] = 0
            print(f"pinned upload equal to its frame: {torch.equal(on_gpu.cpu(), torch.from_numpy(expected))}")
        common = ["--model", args.model, "--weights", str(weights), "--device", args.device,
                  "--precision", args.precision] + (["--compile"] if args.compile else [])  # fmt: skip
        uploaded = levels.uploaded
        for variant in args.variants:
            levels.uploaded = pageable if variant == "pageable" else uploaded
            try:
                run([str(clip), "-o", str(Path(folder) / "warm.mp4"), "--end", "0.2", *common, *VARIANTS[variant]])
                began = time.perf_counter()
                summary = run([str(clip), "-o", str(Path(folder) / "out.mp4"), *common, *VARIANTS[variant]])
                wall = time.perf_counter() - began
            finally:
                levels.uploaded = uploaded
            print(f"{variant}: {summary['frames']} frames, {summary['fps']:.2f} fps ({summary['seconds']:.2f} s "
                  f"in deblur run, {wall:.2f} s the whole command), {summary['device']}, "
                  f"{summary['settings']['restorer']['dtype']}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
