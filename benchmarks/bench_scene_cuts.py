"""Scene cuts: how the detector's two measures separate frames of one scene from frames across a cut, what
splitting windows at cuts is worth to a model, and which cuts it finds in synthetic user footage.

    python benchmarks/bench_scene_cuts.py stats --sources ~/.cache/deblur/sources --clips DIR [DIR ...] [--procedural N]
        [--darken GAIN] [--letterbox SHARE]
    python benchmarks/bench_scene_cuts.py quality --clips DIR [DIR ...] [--model dstnet-s] [--side 5]
    python benchmarks/bench_scene_cuts.py footage [--window 10] [--overlap 2] [--only NAME ...]
    python benchmarks/bench_scene_cuts.py shots --sources ~/.cache/deblur/sources [--side 5] [--darken GAIN]
    python benchmarks/bench_scene_cuts.py cost --sources ~/.cache/deblur/sources [--window 30] [--size 1280x720]

`stats` prints, for each real video of the source cache (frames.npy) and each clip folder (blurred.mkv, as
`deblur synth` writes), the largest histogram and pixel changes between consecutive frames, and which
consecutive frames scene_cuts.cuts_in calls a cut; then the same measures between the last frame of each
clip and the first of every other of its size (cuts made by joining clips). `--darken 0.25` scales every
frame's values (night shots), `--letterbox 0.25` blacks out that share of the rows (a 2.39:1 film in a 16:9
frame), to see whether cuts are found as well in them. `quality` joins the last SIDE frames of
clip i to the first SIDE frames of clip i+1 (blurred and sharp alike), restores the joined window whole and
split at the cut, and prints the PSNR of each against the sharp frames: all frames, and the two beside the
cut. `footage` builds the 57 synthetic 160x90 clips of cut_footage.py (pans, flashes, strobes, lights, fades,
overlays, cuts between similar, dark and panning shots, shots of 1 to 3 frames; 40 true cuts) in memory,
looks for cuts window by window as `deblur run` plans them (plan_windows, `--window` frames overlapping by
`--overlap`), and prints for each clip ok or ERR with its true and found cuts, then `true cuts found N,
missed M, false positives K` over all clips (`--only` some of them). `shots` joins the last `--side`
frames of every shot of the source cache's real videos (their segments: no cut, no fast pan) to the first
of every other, at 640x360, and looks for the cut in windows starting at each of `--side` positions.
`cost` times cuts_in on the host, in one thread, over windows of `--window` frames of each real video
(resized to `--size`): the thumbnails (_small, on a GPU the device's work) apart from the measures taken
on them (the host's, for every window `deblur run` restores). On a GPU the device waits for the measures
between two windows (stream.py reads the thumbnails back before it queues the next window's model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deblur_cli.scene_cuts import cuts_in, frame_changes  # noqa: E402
from deblur_cli.windows import plan_windows  # noqa: E402


def changes(frames: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(histogram change, pixel change) between consecutive frames, as cuts_in measures them."""
    histogram_change, pixel_change = frame_changes(frames)
    return histogram_change.numpy(), pixel_change.numpy()


def read(path: Path) -> torch.Tensor:
    with av.open(str(path)) as container:
        images = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255


def styled(frames: torch.Tensor, darken: float, letterbox: float) -> torch.Tensor:
    """Frames made darker (values times `darken`) and letterboxed (`letterbox` of the rows black)."""
    frames = frames * darken
    bar = round(letterbox / 2 * frames.shape[-2])
    if bar:
        frames[..., :bar, :] = 0
        frames[..., frames.shape[-2] - bar :, :] = 0
    return frames


def stats(args) -> None:
    videos = sorted((args.sources / "videos").glob("*/frames.npy")) if args.sources else []
    named = [(p.parent.name, torch.from_numpy(np.load(p)).permute(0, 3, 1, 2).float() / 255) for p in videos]
    clips = [(d.name, read(d / "blurred.mkv")) for d in args.clips]
    if args.procedural:
        from deblur_cli.data.synth import synthesize_clip

        clips += [(f"procedural {seed}", synthesize_clip(seed, frames=8, size=(96, 64))[0]) for seed in range(args.procedural)]
    named = [(name, styled(frames, args.darken, args.letterbox)) for name, frames in named]
    clips = [(name, styled(frames, args.darken, args.letterbox)) for name, frames in clips]
    for name, frames in named + clips:
        hist, pixel = changes(frames)
        print(f"{name}: {len(frames)} frames, histogram change max {hist.max():.3f}, pixel change max "
              f"{pixel.max() * 255:.1f}/255, cuts at {cuts_in(frames)}")
        for t in cuts_in(frames):
            print(f"  cut before frame {t}: histogram {hist[t - 1]:.3f}, pixel {pixel[t - 1] * 255:.1f}/255")
        inside = np.ones(len(hist), bool)
        inside[[t - 1 for t in cuts_in(frames)]] = False
        if inside.any():
            print(f"  within scenes: histogram max {hist[inside].max():.3f}, pixel max {pixel[inside].max() * 255:.1f}/255")
    joined = []
    for i, (_, a) in enumerate(clips):
        for j, (_, b) in enumerate(clips):
            if i != j and a.shape[1:] == b.shape[1:]:  # joins of clips of one size
                hist, pixel = changes(torch.stack([a[-1], b[0]]))
                joined.append((hist[0], pixel[0], bool(cuts_in(torch.stack([a[-1], b[0]])))))
    if joined:
        found = sum(cut for _, _, cut in joined)
        print(f"joined clips: {found} of {len(joined)} joins found as cuts; histogram change min "
              f"{min(h for h, _, _ in joined):.3f}, pixel change min {min(p for _, p, _ in joined) * 255:.1f}/255")


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return -10 * torch.log10(((a - b) ** 2).mean(dim=(1, 2, 3)))


def quality(args) -> None:
    from deblur_cli.restorers import ModelOptions, build_restorer
    from deblur_cli.tiles import crop_to, pad_to_multiple

    restorer = build_restorer(args.model, ModelOptions(device="cpu"))
    pairs = [(read(d / "blurred.mkv"), read(d / "sharp.mkv")) for d in args.clips]

    def restore(frames: torch.Tensor) -> torch.Tensor:
        padded, size = pad_to_multiple(frames, restorer.multiple)
        with torch.inference_mode():
            return crop_to(restorer(padded), size).float().clamp(0, 1)

    side = args.side
    for i in range(0, len(pairs) - 1, 2):
        (blur_a, sharp_a), (blur_b, sharp_b) = pairs[i], pairs[i + 1]
        blurred = torch.cat([blur_a[-side:], blur_b[:side]])
        sharp = torch.cat([sharp_a[-side:], sharp_b[:side]])
        assert cuts_in(blurred) == [side], f"the join of clips {i} and {i + 1} is not found as a cut"
        whole = psnr(restore(blurred), sharp)
        split = psnr(torch.cat([restore(blurred[:side]), restore(blurred[side:])]), sharp)
        beside = slice(side - 1, side + 1)
        print(f"{args.clips[i].name} | {args.clips[i + 1].name}: input {psnr(blurred, sharp).mean():.2f} dB; "
              f"whole window {whole.mean():.3f}, split at the cut {split.mean():.3f} dB; the two frames beside "
              f"the cut {whole[beside].mean():.3f} against {split[beside].mean():.3f} dB")


def cuts_by_window(frames: torch.Tensor, window: int, overlap: int) -> list[int]:
    """The cuts that cuts_in finds in the windows of `frames` that plan_windows plans, in frames' indices."""
    windows = plan_windows(len(frames), window, overlap)
    return sorted({start + t for start, stop in windows for t in cuts_in(frames[start:stop])})


def footage(args) -> None:
    from cut_footage import SCENARIOS, clip

    unknown = set(args.only or ()) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"no footage clip named {', '.join(sorted(unknown))}; the clips: {', '.join(SCENARIOS)}")
    found_total = missed_total = false_total = 0
    for name in args.only or SCENARIOS:
        scenario = SCENARIOS[name]
        found = set(cuts_by_window(clip(name), args.window, args.overlap))
        true = set(scenario.cuts)
        found_total += len(found & true)
        missed_total += len(true - found)
        false_total += len(found - true)
        status = "ok " if found == true else "ERR"
        print(f"{status} {name:20s} true {sorted(true)} found {sorted(found)}  ({scenario.note})")
    print(f"true cuts found {found_total}, missed {missed_total}, false positives {false_total}")


def shots(args) -> None:
    """Every ordered pair of the real videos' shots joined: `--side` frames of each, at a 640x360 size,
    darkened by `--darken`, searched in windows of 2 * side frames that start at each of `--side`
    positions (from the whole join to the last side + 1 frames)."""
    import json

    import torch.nn.functional as F

    if args.sources is None:
        raise SystemExit("shots needs --sources (a source cache with real videos)")
    side, found, missed, false = args.side, 0, 0, 0
    pieces = []
    for meta in sorted((args.sources / "videos").glob("*/meta.json")):
        frames = np.load(meta.parent / "frames.npy", mmap_mode="r")
        for start, stop in json.loads(meta.read_text())["segments"]:
            if stop - start >= 2 * side:  # a shot long enough to give its first and its last frames
                shot = torch.from_numpy(np.stack([frames[start:start + side], frames[stop - side:stop]]))
                shot = shot.flatten(0, 1).permute(0, 3, 1, 2).float() / 255
                shot = F.interpolate(shot, size=(360, 640), mode="area" if shot.shape[-1] > 640 else "bilinear")
                pieces.append((f"{meta.parent.name} {start}-{stop}", shot[:side] * args.darken, shot[side:] * args.darken))
    for (name_a, _, tail), (name_b, head, _) in ((a, b) for a in pieces for b in pieces if a is not b):
        joined = torch.cat([tail, head])
        results = [[start + t for t in cuts_in(joined[start:])] for start in range(side)]
        ok = all(side in r for r in results)
        found, missed = found + ok, missed + (not ok)
        wrong = sorted({t for r in results for t in r if t != side})
        false += bool(wrong)
        if not ok or wrong:
            print(f"{name_a} | {name_b}: {'missed in some windows' if not ok else 'found'}; false cuts at {wrong}")
    print(f"{len(pieces)} shots, {found + missed} joins: found in every window {found}, missed in some {missed}, "
          f"joins with a false cut {false}")


def cost(args) -> None:
    """Milliseconds cuts_in spends per window on the host: the thumbnails, then the measures on them."""
    import statistics
    import time

    import torch.nn.functional as F

    from deblur_cli import scene_cuts

    if args.sources is None:
        raise SystemExit("cost needs --sources (a source cache with real videos)")
    torch.set_num_threads(1)
    width, height = (int(v) for v in args.size.lower().split("x"))
    small_ms, measures_ms = [], []
    for path in sorted((args.sources / "videos").glob("*/frames.npy")):
        frames = np.load(path, mmap_mode="r")
        for start in range(0, len(frames) - args.window + 1, args.window):
            window = torch.from_numpy(np.array(frames[start : start + args.window]))  # a copy: the file is mapped read-only
            window = F.interpolate(window.permute(0, 3, 1, 2).float() / 255, size=(height, width), mode="bilinear")
            began = time.perf_counter()
            small = scene_cuts._small(window)
            thumbnails = time.perf_counter()
            with_thumbnails = scene_cuts._small
            scene_cuts._small = lambda _: small  # noqa: B023 - the measures alone, on these thumbnails
            try:
                cuts = scene_cuts.cuts_in(window)
            finally:
                scene_cuts._small = with_thumbnails
            small_ms.append(1000 * (thumbnails - began))
            measures_ms.append(1000 * (time.perf_counter() - thumbnails))
            print(f"{path.parent.name} {start}-{start + args.window}: thumbnails {small_ms[-1]:.1f} ms, "
                  f"measures {measures_ms[-1]:.1f} ms, cuts at {cuts}")
    print(f"{len(small_ms)} windows of {args.window} frames at {width}x{height}, one thread, torch {torch.__version__}: "
          f"median thumbnails {statistics.median(small_ms):.1f} ms, median measures {statistics.median(measures_ms):.1f} "
          f"ms ({statistics.median(measures_ms) / (args.window - args.overlap):.2f} ms per new frame)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("mode", choices=["stats", "quality", "footage", "shots", "cost"])
    parser.add_argument("--sources", type=Path, help="the source cache (for its real videos)")
    parser.add_argument("--clips", type=Path, nargs="*", default=[], help="clip folders with blurred.mkv (and sharp.mkv)")
    parser.add_argument("--procedural", type=int, default=0, help="also this many procedural 96x64 clips of deblur synth")
    parser.add_argument("--darken", type=float, default=1.0, help="stats: multiply every frame by this (night shots)")
    parser.add_argument("--letterbox", type=float, default=0.0, help="stats: black out this share of the rows")
    parser.add_argument("--model", default="dstnet-s")
    parser.add_argument("--side", type=int, default=5, help="frames taken from each clip on either side of the cut")
    parser.add_argument("--window", type=int, default=10, help="footage, cost: frames a window holds (deblur run's --window)")
    parser.add_argument("--size", default="1280x720", help="cost: WIDTHxHEIGHT the windows are resized to")
    parser.add_argument("--overlap", type=int, default=2, help="footage: frames shared by consecutive windows")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="footage: these clips only (cut_footage's names)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    {"stats": stats, "quality": quality, "footage": footage, "shots": shots, "cost": cost}[args.mode](args)


if __name__ == "__main__":
    main()
