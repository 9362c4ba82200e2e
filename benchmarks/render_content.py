"""Render the clips that docs/models.md's "By content" tables score: two held-out photos and a drawn page of text,
each seen through fixed camera motions and blurred as training blurs (`deblur_cli.data.synth.render_clip`: sub-frames
averaged in linear light), written as a dataset `deblur evaluate` reads.

    python benchmarks/render_content.py OUT --sources SOURCES [--size 640x360] [--frames 8] [--seed 0] [--only PATTERN ...]
        [--crf N]

SOURCES is a source cache (`deblur synth --fetch --sources SOURCES`), where the scenes' photos are: the landscape
`aitzgorri_by_Aitzol_Berasategi` (trees, grass, mountains) and `ColorfulCups` (large smooth shapes with crisp rims).
The text page (signs, a number plate and text in the caption font, strokes 2 to 6 px wide at 360 lines, in
proportion at other sizes) is drawn here. Each clip is `OUT/<scene>_<motion>/blurred/0000.png` and
`.../sharp/0000.png`; its motion, in px the frame's centre travels during an exposure (half the frame period):

    panN      a steady, straight pan of N px, 30 degrees off level
    level08   the same pan of 8 px, level
    noise08   pan08 with sensor noise at the top of training's range
    shake14   the default training stream's camera path without its pan: its shake, scaled to 14 px in the mean
    hand09    the hand-held stream's camera path (`deblur train --handheld`), scaled to 9 px in the mean
    stab09    hand09 through electronic stabilisation (`deblur train --stabilized`)
    object32  a still camera, and an object crossing the frame at 32 px
    sharp     a still camera, its sharp frames the input too

The motions are drawn once from --seed and shared by the scenes; nothing else is degraded (no compression), unless
`--crf N` passes each clip's blurred frames through H.264 (libx264 at that CRF, preset medium, 4:2:0, by PyAV, whose
conversions take BT.601 both ways) and back, as a phone or an editor delivers footage; the sharp frames stay as
rendered. `--only`
keeps the clips whose names match one of the patterns (`cups_*`, `*_pan08`).
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from deblur_cli.captions import stamp
from deblur_cli.cli.options import SMALLEST_SYNTHESIS, parse_size
from deblur_cli.data.motion import CameraPath, LayerPath, random_camera_path
from deblur_cli.data.photos import list_photos, load_photo
from deblur_cli.data.synth import READ_NOISE, SHOT_NOISE, render_clip, sensor_noise
from deblur_cli.data.writer import write_clip
from deblur_cli.errors import DeblurError, UsageError
from deblur_cli.transfer import linear_to_srgb
from deblur_cli.wording import count

EXPOSURE = 0.5  # of the frame period: a 180-degree shutter, inside training's 0.3 to 1
PAN_ANGLE = math.radians(30)  # of the pans, from level (down and to the right)
SCENES = {  # name: the photo's name in the source cache (None: the drawn page), and its motions
    "landscape": (
        "aitzgorri_by_Aitzol_Berasategi",
        ("pan03", "pan08", "pan32", "noise08", "shake14", "hand09", "object32", "sharp"),
    ),
    "cups": ("ColorfulCups", ("pan03", "pan08", "pan16", "level08", "noise08", "shake14", "hand09", "stab09", "sharp")),
    "text": (None, ("pan03", "pan04", "pan08", "pan12", "hand09", "stab09")),
}


WORDS = {  # the motions other than pans in the model card's words (`describe`)
    "level08": "level pan 8 px",
    "noise08": "pan 8 px, sensor noise",
    "shake14": "shake of about 14 px",
    "hand09": "hand shake of about 9 px",
    "stab09": "stabilised hand shake of about 9 px",
    "object32": "object crossing at 32 px",
    "sharp": "still and sharp",
}


def describe(name: str) -> str:
    """A clip's name in words: `cups_pan08` as `cups, pan 8 px`; a name this script does not make as it is."""
    scene, _, motion = name.partition("_")
    if motion.startswith("pan") and motion[3:].isdigit():
        return f"{scene}, pan {int(motion[3:])} px"
    return f"{scene}, {WORDS[motion]}" if motion in WORDS else name


@dataclass(frozen=True)
class Motion:
    """What a clip's camera and scene do."""

    camera: CameraPath
    layers: tuple[LayerPath, ...] = ()  # objects moving over the scene
    noisy: bool = False  # sensor noise at the top of training's range on the blurred frames
    sharp_input: bool = False  # the input is the sharp frames themselves


STILL = CameraPath(
    velocity=(0.0, 0.0), accel=(0.0, 0.0), angular_velocity=0.0, zoom_rate=0.0, perspective=(0.0, 0.0),
    perspective_rate=(0.0, 0.0), shake_freq=(), shake_amp=(), shake_phase=(),
)  # fmt: skip


def pan(px: float, angle: float = PAN_ANGLE) -> CameraPath:
    """A steady pan whose blur is `px` long."""
    speed = px / EXPOSURE
    return replace(STILL, velocity=(speed * math.cos(angle), speed * math.sin(angle)))


def blur_length(camera: CameraPath, frames: int) -> float:
    """Px the frame's centre travels during an exposure, the mean over `frames` frames. The centre, (0, 0) in the
    centred coordinates of `CameraPath.homographies`, lands on its translation alone: rotation, zoom and
    keystone leave it in place."""
    centres = np.arange(frames) - (frames - 1) / 2
    phases = np.linspace(-EXPOSURE / 2, EXPOSURE / 2, 65)
    poses = camera.homographies((centres[:, None] + phases).ravel(), radius=1.0)
    path = poses[:, :2, 2].reshape(frames, len(phases), 2)
    return float(np.linalg.norm(np.diff(path, axis=1), axis=-1).sum(axis=1).mean())


def scaled(camera: CameraPath, px: float, frames: int) -> CameraPath:
    """`camera` with its movement across the scene (pan, acceleration, shake) scaled so that `blur_length` is `px`.
    Its rotation, zoom and keystone stay as drawn: the default paths draw their rotation apart from their shake,
    and scaled with it they would turn by degrees."""
    k = px / blur_length(camera, frames)
    return replace(
        camera,
        velocity=(k * camera.velocity[0], k * camera.velocity[1]),
        accel=(k * camera.accel[0], k * camera.accel[1]),
        shake_amp=tuple((k * x, k * y, r) for x, y, r in camera.shake_amp),
    )


def motions(seed: int, frames: int, size: tuple[int, int]) -> dict[str, Motion]:
    """Every motion a scene may have, by name; the shaken paths drawn from `seed` as training draws them."""
    rng = np.random.default_rng(seed)
    shake = scaled(replace(random_camera_path(rng, still=False), velocity=(0.0, 0.0), accel=(0.0, 0.0)), 14, frames)
    hand = scaled(random_camera_path(rng, still=False, handheld_share=1.0), 9, frames)
    w, h = size
    crossing = LayerPath(centre=(w / 2, h / 2), velocity=(32 / EXPOSURE, 0.0), accel=(0.0, 0.0), angle=0.0,
                         angular_velocity=0.0)  # fmt: skip
    found = {f"pan{px:02d}": Motion(pan(px)) for px in (3, 4, 8, 12, 16, 32)}
    found.update(
        level08=Motion(pan(8, angle=0.0)),
        noise08=Motion(pan(8), noisy=True),
        shake14=Motion(shake),
        hand09=Motion(hand),
        stab09=Motion(replace(hand, stabilized=True)),
        object32=Motion(STILL, layers=(crossing,)),
        sharp=Motion(STILL, sharp_input=True),
    )
    return found


# The text page: a 640x360 block at 360 lines, tiled. Each item: left, top (of its box, px), stroke (px, the font
# pixel's side), text, its colour, its box's colour (None: none, on the paper), its box's border colour (or None).
PAPER, INK, WHITE = (0.93, 0.91, 0.86), (0.08, 0.08, 0.1), (0.97, 0.97, 0.97)
RED, BLUE, YELLOW, GREEN = (0.72, 0.1, 0.12), (0.1, 0.24, 0.58), (0.96, 0.78, 0.1), (0.05, 0.45, 0.25)
PARAGRAPH = ("the bus stand is ahead,", "turn right at the lights", "bags and trunks at the desk",
             "rinse the table, then wait", "the last train departs at", "21.40, sunrise 06.12")  # fmt: skip
PAGE = (
    *((16, 16 + 24 * i, 2, line, INK, None, None) for i, line in enumerate(PARAGRAPH)),
    (16, 172, 3, "wait behind the", INK, None, None),
    (16, 206, 3, "line, keep right", INK, None, None),
    (16, 252, 6, "nk 4071", INK, WHITE, INK),  # the number plate
    (372, 16, 4, "bus lane", WHITE, RED, None),
    (372, 80, 3, "wait here", WHITE, BLUE, None),
    (372, 132, 5, "danger", INK, YELLOW, None),
    (372, 208, 4, "parking", WHITE, GREEN, None),
    (372, 268, 6, "21 kg", INK, WHITE, RED),
)


def text_page(size: tuple[int, int]) -> np.ndarray:
    """(2H, 2W, 3) uint8 sRGB for frames of `size` (W, H): the block drawn at H / 360 times its size, tiled,
    twice the frame each way, so that the text clips' cameras see page and not its mirror image."""
    w, h = size
    unit = h / 360
    block = np.empty((h, max(round(640 * unit), 1), 3), np.float32)
    block[:] = PAPER
    for left, top, stroke, text, ink, fill, border in PAGE:
        s = max(round(stroke * unit), 1)
        letters = stamp(text, s).numpy()
        x, y = round(left * unit), round(top * unit)
        if fill is not None:
            edge = s * (2 if border is not None else 1)  # the box round the letters' own margin, and its border
            _paint(block, x, y, np.ones((letters.shape[0] + 2 * edge, letters.shape[1] + 2 * edge), bool),
                   fill if border is None else border)  # fmt: skip
            if border is not None:
                _paint(block, x + s, y + s, np.ones((letters.shape[0] + 2 * s, letters.shape[1] + 2 * s), bool), fill)
            x, y = x + edge, y + edge
        _paint(block, x, y, letters, ink)
    reps = (2, math.ceil(2 * w / block.shape[1]), 1)
    return np.round(np.tile(block, reps)[: 2 * h, : 2 * w] * 255).astype(np.uint8)


def _paint(block: np.ndarray, x: int, y: int, mask: np.ndarray, colour: tuple[float, float, float]) -> None:
    """`colour` where `mask` is True, its corner at (x, y) of `block`; what falls outside the block is left out."""
    mask = mask[: max(block.shape[0] - y, 0), : max(block.shape[1] - x, 0)]
    block[y : y + mask.shape[0], x : x + mask.shape[1]][mask] = colour


def render(
    scene: np.ndarray, motion: Motion, *, rng: np.random.Generator, frames: int, size: tuple[int, int], drawn: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(blurred, sharp) sRGB clips (T, 3, H, W) in [0, 1] of `scene` (H, W, 3) uint8. A `drawn` scene is shown at
    its own size (its strokes as drawn); a photo at a scale drawn as training draws it, its placement too."""
    blurred, sharp = render_clip(
        rng, motion.camera, EXPOSURE, frames=frames, size=size, photo=scene, layers=motion.layers,
        scale=1.0 if drawn else None,
    )  # fmt: skip
    sharp = linear_to_srgb(sharp)
    if motion.sharp_input:
        return sharp, sharp
    if motion.noisy:
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        blurred = sensor_noise(blurred, SHOT_NOISE[1], READ_NOISE[1], generator)
    return linear_to_srgb(blurred), sharp


def find_photo(sources: Path, name: str) -> np.ndarray:
    """The cached photo called `name` (its file's stem) in the source cache `sources`."""
    for path in list_photos(sources):
        if path.stem == name:
            return load_photo(path)
    raise DeblurError(f"{sources} holds no photo {name}; fetch it with `deblur synth --fetch --sources {sources}`")


def size_arg(text: str) -> tuple[int, int]:
    try:
        return parse_size(text, minimum=SMALLEST_SYNTHESIS)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def through_h264(clip: torch.Tensor, crf: int) -> torch.Tensor:
    """clip (T, 3, H, W) float in [0, 1] encoded as H.264 at `crf` in memory and decoded again, as 8-bit RGB."""
    import io

    import av

    buffer = io.BytesIO()
    images = (clip.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": str(crf), "preset": "medium"})
        stream.width, stream.height, stream.pix_fmt = images.shape[2], images.shape[1], "yuv420p"
        for image in images:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer) as container:
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).float() / 255


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="a new or empty folder")
    parser.add_argument("--sources", type=Path, required=True, help="the source cache holding the photos")
    parser.add_argument("--size", type=size_arg, default=(640, 360), help="WxH (default 640x360)")
    parser.add_argument("--frames", type=positive, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", metavar="PATTERN", help="clips whose names match one of these")
    parser.add_argument("--crf", type=int, default=None, help="the blurred frames through H.264 at this CRF")
    args = parser.parse_args(argv)
    clips = [(scene, motion) for scene, (_, names) in SCENES.items() for motion in names]
    if args.only:
        clips = [c for c in clips if any(fnmatch.fnmatchcase("_".join(c), p) for p in args.only)]
    try:
        if not clips:
            raise DeblurError(f"no clip's name matches {' '.join(args.only)}")
        if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
            raise DeblurError(f"{args.out} is not empty: render into a new or empty folder")
        if not args.sources.is_dir():
            raise DeblurError(f"the source cache {args.sources} is not a folder")
        scenes = {}
        for scene in dict.fromkeys(scene for scene, _ in clips):
            photo = SCENES[scene][0]
            scenes[scene] = text_page(args.size) if photo is None else find_photo(args.sources, photo)
        found = motions(args.seed, args.frames, args.size)
        args.out.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        for scene, motion in clips:
            start = time.perf_counter()
            rng = np.random.default_rng([args.seed, list(SCENES).index(scene)])  # a scene's draws, whatever its motion
            blurred, sharp = render(scenes[scene], found[motion], rng=rng, frames=args.frames, size=args.size,
                                    drawn=SCENES[scene][0] is None)  # fmt: skip
            if args.crf is not None:
                blurred = through_h264(blurred, args.crf)
            write_clip(blurred, sharp, args.out / f"{scene}_{motion}", "png")
            print(f"{scene}_{motion}: {time.perf_counter() - start:.1f} s", flush=True)
    except (DeblurError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    w, h = args.size
    seconds = time.perf_counter() - began
    print(f"{count(len(clips), 'clip')} of {count(args.frames, 'frame')} at {w}x{h} in {seconds:.0f} s: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
