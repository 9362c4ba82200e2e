"""Smooth random motions: a hand-held camera path and rigid foreground layers moving on their own.

Time `t` is measured in frame periods (frame i of a clip is exposed around t = i - (T - 1) / 2), so one
path spans a whole clip and consecutive frames share one continuous motion. Distances are in pixels of
the virtual full frame the training crop is cut from.

A stabilised hand-held path (`stabilized_share` of moving paths when asked for) is a hand-held path seen
through a phone's electronic stabilisation (EIS): each frame is warped so that at its exposure centre it shows
the path without its shake (the slow drift, kept). Frames then hardly move from one to the next, yet the motion
within each exposure, and so the blur, is the hand-held path's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

STILL_SHARE = 0.25  # camera paths that are almost still: sharp frames must come out unchanged
# Frame periods either side of a clip's middle over which the drawn accelerations, rotation, zoom and keystone
# change at their rates; beyond, they ease to a stop within half as long again (`drift_time`). Pans and shake
# go on. Clips of up to 2 * DRIFT_HORIZON frames move exactly as drawn; in longer ones the zoom and
# keystone would otherwise grow without bound (an inverted frame within 200 frames of some paths).
DRIFT_HORIZON = 32.0
# A hand-held path (`handheld_share` of moving paths when asked for): shake dominates, so the blur changes
# direction and length from frame to frame, with nearly sharp moments between, as in footage shot on a phone
# without a deliberate pan. The sum of its components' top speeds, px per frame period, is drawn log-uniformly
# in this range; they seldom peak together, so at exposures of 0.3 to 1 period a frame's blur path is 1.5 to
# 15 px long (10th to 90th percentile; median 4.6 px, as long as the panning paths' 5.8), and its direction
# turns by 69 degrees from one frame to the next in the median.
HANDHELD_SPEED = (8.0, 60.0)
HANDHELD_FREQ = (0.08, 0.5)  # cycles per frame period of its shake components (2.4 to 15 Hz at 30 fps)


def drift_time(t: np.ndarray) -> np.ndarray:
    """The time the drifting terms of a path see: `t` itself within ±DRIFT_HORIZON, then easing (with the
    same slope where it joins) to at most ±1.5 DRIFT_HORIZON."""
    t = np.asarray(t, dtype=np.float64)
    half = DRIFT_HORIZON / 2
    beyond = np.tanh(np.maximum(np.abs(t) - DRIFT_HORIZON, 0.0) / half) * half
    return np.clip(t, -DRIFT_HORIZON, DRIFT_HORIZON) + np.sign(t) * beyond


@dataclass(frozen=True)
class CameraPath:
    """Pose of a hand-held camera as a function of time: drift, rotation, zoom, perspective, shake."""

    velocity: tuple[float, float]  # px per frame period: the deliberate pan
    accel: tuple[float, float]  # px per frame period squared: pans speed up and slow down
    angular_velocity: float  # rad per frame period, about the frame centre
    zoom_rate: float  # log-scale change per frame period (push-in > 0)
    perspective: tuple[float, float]  # keystone terms on radius-normalised coordinates
    perspective_rate: tuple[float, float]  # their change per frame period (the camera yaws/pitches)
    shake_freq: tuple[float, ...]  # cycles per frame period of each hand-shake component
    shake_amp: tuple[tuple[float, float, float], ...]  # (x px, y px, rotation rad) amplitude per component
    shake_phase: tuple[tuple[float, float, float], ...]  # radians, per component and axis
    stabilized: bool = False  # each frame re-aligned at its exposure centre onto the path without shake (EIS)

    def homographies(self, times: np.ndarray, radius: float, centres: np.ndarray | None = None) -> np.ndarray:
        """(N, 3, 3) float64 maps from centred frame pixels (x, y, 1) to centred world pixels at `times`.

        `radius` is the half-diagonal of the virtual frame: perspective terms are given per unit radius
        so that their strength does not depend on the frame size. `centres`: the exposure centre of the
        frame each time belongs to (None: each time is its own, as for sharp views), which only a
        `stabilized` path uses: its frame is warped by H(centre)^-1 H_steady(centre), so that at the centre
        it sees the steady path (no shake) and within the exposure it moves as the camera did.
        """
        t = np.asarray(times, dtype=np.float64)
        h = self._poses(t, radius, shaken=True)
        if not self.stabilized:
            return h
        c = t if centres is None else np.asarray(centres, dtype=np.float64)
        return h @ np.linalg.inv(self._poses(c, radius, shaken=True)) @ self._poses(c, radius, shaken=False)

    def _poses(self, t: np.ndarray, radius: float, shaken: bool) -> np.ndarray:
        """(N, 3, 3) camera poses at times `t`, with or without the hand shake."""
        shake = np.zeros((t.size, 3))
        for f, amp, phase in zip(self.shake_freq, self.shake_amp, self.shake_phase) if shaken else ():
            shake += np.asarray(amp) * np.sin(2 * math.pi * f * t[:, None] + np.asarray(phase))
        drift = drift_time(t)
        cx = self.velocity[0] * t + 0.5 * self.accel[0] * drift**2 + shake[:, 0]
        cy = self.velocity[1] * t + 0.5 * self.accel[1] * drift**2 + shake[:, 1]
        theta = self.angular_velocity * drift + shake[:, 2]
        scale = np.exp(self.zoom_rate * drift)
        px = (self.perspective[0] + self.perspective_rate[0] * drift) / radius
        py = (self.perspective[1] + self.perspective_rate[1] * drift) / radius
        cos, sin = np.cos(theta) * scale, np.sin(theta) * scale
        h = np.zeros((t.size, 3, 3))
        # world = translate(c) . rotate-scale . keystone, applied to (x, y, 1)
        h[:, 0, 0], h[:, 0, 1], h[:, 0, 2] = cos, -sin, cx
        h[:, 1, 0], h[:, 1, 1], h[:, 1, 2] = sin, cos, cy
        h[:, 2, 0], h[:, 2, 1], h[:, 2, 2] = px, py, 1.0
        return h


@dataclass(frozen=True)
class LayerPath:
    """A rigid foreground object crossing the frame: position and angle as functions of time."""

    centre: tuple[float, float]  # crop pixels, position at t = 0
    velocity: tuple[float, float]  # crop px per frame period
    accel: tuple[float, float]  # crop px per frame period squared
    angle: float  # rad at t = 0
    angular_velocity: float  # rad per frame period

    def inverse_affines(self, times: np.ndarray) -> np.ndarray:
        """(N, 2, 3) float64 maps from crop pixels (x, y, 1) to layer pixels relative to its centre."""
        t = np.asarray(times, dtype=np.float64)
        drift = drift_time(t)
        cx = self.centre[0] + self.velocity[0] * t + 0.5 * self.accel[0] * drift**2
        cy = self.centre[1] + self.velocity[1] * t + 0.5 * self.accel[1] * drift**2
        a = self.angle + self.angular_velocity * t
        cos, sin = np.cos(a), np.sin(a)
        m = np.zeros((t.size, 2, 3))
        # rotate by -a about the moving centre
        m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = cos, sin, -(cos * cx + sin * cy)
        m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = -sin, cos, sin * cx - cos * cy
        return m


def random_camera_path(
    rng: np.random.Generator, still: bool | None = None, handheld_share: float = 0.0, stabilized_share: float = 0.0
) -> CameraPath:
    """A hand-held camera: usually a pan between 2 and 30 px per frame, in STILL_SHARE of paths almost still,
    with shake whose amplitude falls as 1/f over 0.05 to 0.5 cycles per frame (1.5 to 15 Hz at 30 fps).

    handheld_share: the share of moving paths that are shake-dominated instead (`handheld_path`); 1 makes
    every moving path one. stabilized_share: the share of moving paths that are hand-held paths seen through
    electronic stabilisation (`handheld_path` with `stabilized`); the two shares add up to at most 1. At 0 both
    (the default) nothing more is drawn, so a seed gives the path it always gave; one draw decides between the
    kinds, so a seed's hand-held paths stay the same whatever `stabilized_share`.
    """
    if handheld_share + stabilized_share > 1:
        raise ValueError(f"handheld_share {handheld_share} and stabilized_share {stabilized_share} add up to over 1")
    drawn = rng.random() < STILL_SHARE  # drawn even when forced, so the rest of the path stays the same
    still = drawn if still is None else still
    speed = rng.uniform(0.0, 1.0) if still else math.exp(rng.uniform(math.log(2.0), math.log(30.0)))
    direction = rng.uniform(0, 2 * math.pi)
    accel = rng.normal(0.0, 0.15 * speed + 0.2, size=2)
    components = int(rng.integers(3, 7))
    freq = np.exp(rng.uniform(math.log(0.05), math.log(0.5), size=components))
    shake_px = 0.0 if still else math.exp(rng.uniform(math.log(0.3), math.log(6.0)))
    shake_rad = 0.0 if still else math.exp(rng.uniform(math.log(2e-4), math.log(4e-3)))
    # 1/f amplitudes, normalised so the strongest component has the drawn amplitude
    weight = freq.min() / freq
    amp = [(shake_px * w * rng.uniform(0.3, 1), shake_px * w * rng.uniform(0.3, 1), shake_rad * w) for w in weight]
    phase = [tuple(rng.uniform(0, 2 * math.pi, size=3)) for _ in range(components)]
    path = CameraPath(
        velocity=(speed * math.cos(direction), speed * math.sin(direction)),
        accel=(float(accel[0]), float(accel[1])),
        angular_velocity=float(rng.normal(0.0, 0.004)),
        zoom_rate=float(rng.normal(0.0, 0.008)),
        perspective=tuple(rng.uniform(-0.04, 0.04, size=2)),
        perspective_rate=tuple(rng.normal(0.0, 0.004, size=2)),
        shake_freq=tuple(float(f) for f in freq),
        shake_amp=tuple(amp),
        shake_phase=phase,
    )
    if handheld_share + stabilized_share > 0 and not still:
        kind = rng.random()
        if kind < handheld_share:
            return handheld_path(rng, path)
        if kind < handheld_share + stabilized_share:
            return replace(handheld_path(rng, path), stabilized=True)
    return path


def handheld_path(rng: np.random.Generator, path: CameraPath) -> CameraPath:
    """`path` made shake-dominated: a slow drift (at most 2 px per frame) and 2 to 4 shake components of
    0.08 to 0.5 cycles per frame whose speeds add up to a peak drawn in HANDHELD_SPEED, each axis with its own
    amplitude and phase, so the direction of motion turns within a few frames."""
    drift = rng.uniform(0.0, 2.0)
    direction = rng.uniform(0, 2 * math.pi)
    components = int(rng.integers(2, 5))
    freq = np.exp(rng.uniform(math.log(HANDHELD_FREQ[0]), math.log(HANDHELD_FREQ[1]), size=components))
    peak = math.exp(rng.uniform(math.log(HANDHELD_SPEED[0]), math.log(HANDHELD_SPEED[1])))
    share = rng.uniform(0.2, 1.0, size=components)
    speeds = peak * share / share.sum()  # px per frame period of each component at its fastest
    amp = []
    for f, v in zip(freq, speeds):
        reach = v / (2 * math.pi * f)  # the amplitude that moves at speed v
        rotation = reach / 400.0 * rng.uniform(0.0, 0.5)  # rad: at most half the speed at a 400 px radius
        amp.append((reach * rng.uniform(0.3, 1.0), reach * rng.uniform(0.3, 1.0), rotation))
    phase = [tuple(rng.uniform(0, 2 * math.pi, size=3)) for _ in range(components)]
    return replace(
        path,
        velocity=(drift * math.cos(direction), drift * math.sin(direction)),
        accel=(0.0, 0.0),
        shake_freq=tuple(float(f) for f in freq),
        shake_amp=tuple(amp),
        shake_phase=phase,
    )


def random_layer_path(rng: np.random.Generator, size: tuple[int, int]) -> LayerPath:
    """An object that starts somewhere in the crop of `size` (W, H) and moves up to 25 px per frame."""
    w, h = size
    speed = math.exp(rng.uniform(math.log(1.0), math.log(25.0)))
    direction = rng.uniform(0, 2 * math.pi)
    return LayerPath(
        centre=(float(rng.uniform(0.1, 0.9) * w), float(rng.uniform(0.1, 0.9) * h)),
        velocity=(speed * math.cos(direction), speed * math.sin(direction)),
        accel=tuple(float(a) for a in rng.normal(0.0, 0.1 * speed, size=2)),
        angle=float(rng.uniform(0, 2 * math.pi)),
        angular_velocity=float(rng.normal(0.0, 0.03)),
    )
