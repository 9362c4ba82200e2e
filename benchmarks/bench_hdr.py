"""HDR video and the models: how much of a model's gain survives when the frames are PQ or HLG code
values, restored as stored and on transfer.ModelCurve (what `deblur run` does).

    python benchmarks/bench_hdr.py [--sources ~/.cache/deblur/sources] [--model dstnet-s] [--clips 6] [--gain G]

Clips: camera-shake clips (640x368, 8 frames, moving camera) synthesised from held-out photos of the
source cache (procedural scenes without one). Their light, diffuse white at 1 (times `--gain`: 4 makes
a bright scene whose whites reach 812 cd/m²), is stored as sRGB (what the models learned on; with a
gain, clipped at white), as PQ (diffuse white at 203 cd/m²) and as HLG (diffuse white at 75% signal),
each rounded to 10 bits; each is restored as one window and scored against the sharp clip (PSNR, dB)
twice: its light decoded and shown as sRGB (highlights clipped at white), and in its own code values.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deblur_cli.data.dataset import split_photos  # noqa: E402
from deblur_cli.data.synth import synthesize_clip  # noqa: E402
from deblur_cli.metrics import psnr  # noqa: E402
from deblur_cli.restorers import ModelOptions, build_restorer  # noqa: E402
from deblur_cli.stream import restore_stream  # noqa: E402
from deblur_cli.transfer import (  # noqa: E402
    HLG,
    PQ,
    hlg_to_light,
    light_to_hlg,
    light_to_pq,
    linear_to_srgb,
    model_curve,
    pq_to_light,
    srgb_to_linear,
)
from deblur_cli.windows import WindowOptions  # noqa: E402

STORED = {  # name: (light -> code values, code values -> light, transfer)
    "sRGB": (linear_to_srgb, srgb_to_linear, None),
    "PQ": (light_to_pq, pq_to_light, PQ),
    "HLG": (light_to_hlg, hlg_to_light, HLG),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=Path, help="source cache (held-out photos); procedural scenes without")
    parser.add_argument("--model", default="dstnet-s")
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--gain", type=float, default=1.0, help="scale the clips' light: highlights above white")
    args = parser.parse_args()
    held_out = split_photos(args.sources)[1] if args.sources else []
    restorer = build_restorer(args.model, ModelOptions(device="cpu"))

    def restored(frames: torch.Tensor, transfer: int | None) -> torch.Tensor:
        windows = WindowOptions(window=len(frames), overlap=0, tile=None)
        with torch.inference_mode():
            stream = restore_stream(iter(frames), restorer, windows, tuple(frames.shape[-2:]), curve=model_curve(transfer))
            return torch.stack(list(stream))

    scores: dict[str, list[float]] = {}
    for i in range(args.clips):
        photo = np.load(held_out[i % len(held_out)]) if held_out else None
        layer = [np.load(held_out[(i + 1) % len(held_out)])] if held_out else []
        blurred, sharp = synthesize_clip(3000 + i, frames=8, size=(640, 368), photo=photo, layer_photos=layer, still=False)
        light, sharp_light = srgb_to_linear(blurred) * args.gain, srgb_to_linear(sharp) * args.gain
        shown = linear_to_srgb(sharp_light)
        row = {"input": psnr(linear_to_srgb(light), shown).mean().item()}
        for name, (encode, decode, transfer) in STORED.items():
            code = torch.round(encode(light) * 1023) / 1023  # 10-bit video
            if transfer is not None:
                row[f"{name} input, in code values"] = psnr(code, encode(sharp_light)).mean().item()
            for how, curve_transfer in (("as stored", None), ("on the model's curve", transfer)):
                if how != "as stored" and transfer is None:
                    continue
                out = restored(code, curve_transfer)
                row[f"{name}, {how}"] = psnr(linear_to_srgb(decode(out)), shown).mean().item()
                if transfer is not None:
                    row[f"{name}, {how}, in code values"] = psnr(out, encode(sharp_light)).mean().item()
        print(f"clip {i}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
        for key, value in row.items():
            scores.setdefault(key, []).append(value)
    means = {key: float(np.mean(values)) for key, values in scores.items()}
    print(f"mean of {args.clips} clips ({args.model}, light x {args.gain:g}), PSNR dB and gain over the input:")
    for key, value in means.items():
        if "input" in key:
            print(f"  {key}: {value:.2f}")
            continue
        in_codes = key.endswith("in code values")
        reference = means[f"{key.split(',')[0]} input, in code values"] if in_codes else means["input"]
        print(f"  {key}: {value:.2f} ({value - reference:+.2f})")


if __name__ == "__main__":
    main()
