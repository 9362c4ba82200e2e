"""A PNG of the speed / quality trade-off from a bench report, drawn without a plotting library.

Two panels share a logarithmic x axis, seconds per frame: PSNR (higher is better) on the left,
NIQE (lower is better) on the right. Each diffusion model x samples is a line through its step
counts, each point labelled with its steps; other models are single labelled points; the blurry
input is a dashed horizontal line. Drawn at twice the size and averaged down, which smooths edges.
"""

from __future__ import annotations

import math
import os
import struct
import textwrap
import zlib
from pathlib import Path

import numpy as np

from deblur_cli.bench import BenchReport, BenchRow
from deblur_cli.files import write_bytes
from deblur_cli.wording import count

WIDTH, HEIGHT = 1200, 600  # output size in pixels
_SS = 2  # supersampling factor
_TEXT = 2  # text scale in output pixels per font pixel
_LINE = 22  # output pixels from one line of text to the next
_BLACK, _GREY, _LIGHT, _WHITE = (30, 30, 30), (120, 120, 120), (225, 225, 225), (255, 255, 255)
# Colour-blind-safe series colours (Okabe and Ito).
_PALETTE = ((0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233), (0, 0, 0))
_PANELS = (("psnr", "PSNR (dB), higher is better"), ("niqe", "NIQE, lower is better"))  # (metric, title)

# 5x9 bitmap font for ASCII "!" to "~": per glyph 9 rows of 5 bits (MSB left), two hex digits a row.
_FONT = (
    "0404040404000400000a0a000000000000000a0a1f0a1f0a0a0000040f140e051e0400001819020408130300000c12140815120d0000"
    "0404000000000000000204080808040200000804020202040800000004150e15040000000004041f040400000000000000000c040800"
    "0000001f000000000000000000000c0c00000001020408100000000e11131519110e0000040c040404040e00000e11010204081f0000"
    "1f02040201110e000002060a121f020200001f101e0101110e00000608101e11110e00001f01020408080800000e11110e11110e0000"
    "0e11110f01020c0000000c0c000c0c000000000c0c000c0408000002040810080402000000001f001f00000000080402010204080000"
    "0e11010204000400000e11010d15150e00000e11111f11111100001e11111e11111e00000e11101010110e00001c12111111121c0000"
    "1f10101e10101f00001f10101e10101000000e11101711110f00001111111f11111100000e04040404040e00000702020202120c0000"
    "1112141814121100001010101010101f0000111b151511111100001111191513111100000e11111111110e00001e11111e1010100000"
    "0e11111115120d00001e11111e14121100000f10100e01011e00001f04040404040400001111111111110e000011111111110a040000"
    "1111111515150a000011110a040a111100001111110a04040400001f01020408101f00000e08080808080e0000001008040201000000"
    "0e02020202020e0000040a11000000000000000000000000001f0008040000000000000000000e010f110f00001010161911111e0000"
    "00000e1010110e000001010d1311110f000000000e111f100e00000609081c080808000000000f11110f010e00101016191111110000"
    "04000c0404040e0000020006020202120c001010121418141200000c04040404040e000000001a151511110000000016191111110000"
    "00000e1111110e000000001e11111e10100000000f11110f01010000001619101010000000000f100e011e000008081c080809060000"
    "0000111111130d000000001111110a0400000000111115150a00000000110a040a11000000001111110f010e0000001f0204081f0000"
    "020404080404020000040404040404040000080404020404080000000008150200000000"
)
_GLYPH_ROWS, _GLYPH_COLS = 9, 5
_ADVANCE = (_GLYPH_COLS + 1) * _TEXT  # output pixels from one character to the next
_FONT_HEX = "".join(_FONT)


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an RGB image (H, W, 3) uint8: 8-bit truecolour, no filtering, deflated."""
    height, width, _ = pixels.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, width * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def write_plot(report: BenchReport, path: str | os.PathLike) -> None:
    """Draw the trade-off plot of `report` and write it as a PNG, atomically."""
    write_bytes(Path(path), encode_png(render(report)))


def render(report: BenchReport) -> np.ndarray:
    """The plot as an RGB image (HEIGHT, WIDTH, 3) uint8."""
    canvas = _Canvas(WIDTH * _SS, HEIGHT * _SS)
    clip = f"{report.width}x{report.height}, {report.frames} frames, {report.device}"
    title = f"deblur bench: quality against speed ({clip})"
    canvas.text(WIDTH // 2, 14, title, _BLACK, anchor="center")
    series = _series(report.rows)
    timed = [r.sec_per_frame for r in report.rows if r.sec_per_frame]
    reference = next((r for r in report.rows if r.model == "input"), None)
    baseline = any(_baseline(reference, metric, timed) is not None for metric, _ in _PANELS)
    top = _legend(canvas, series, y=40, baseline=baseline) + 50  # many or long labels take more lines
    for i, (metric, label) in enumerate(_PANELS):
        box = (80 + i * 590, top, 80 + i * 590 + 500, HEIGHT - 60)
        _panel(canvas, box, metric, label, series, timed, reference)
    return canvas.result()


def shows_figures(report: BenchReport) -> bool:
    """Whether the plot of `report` draws anything: a point or the blurry input's line in either panel
    (a panel without a finite figure, or without a timed row to place it against, is left empty)."""
    series = _series(report.rows)
    timed = [r.sec_per_frame for r in report.rows if r.sec_per_frame]
    reference = next((r for r in report.rows if r.model == "input"), None)
    return any(_values(series, reference, metric, timed) for metric, _ in _PANELS)


def _values(series, reference: BenchRow | None, metric: str, timed: list[float]) -> list[float]:
    """The figures a panel draws: the finite ones of the series and of the input's line; none without
    a timed row, as the x axis is the time."""
    if not timed:
        return []
    values = [_plotted(r, metric) for _, rows in series for r in rows if _plotted(r, metric) is not None]
    base = _baseline(reference, metric, timed)
    return values + ([base] if base is not None else [])


def _baseline(reference: BenchRow | None, metric: str, timed: list[float]) -> float | None:
    """The height of the blurry input's line in a panel, None where it is not drawn."""
    return _plotted(reference, metric) if reference is not None and timed else None


def _series(rows: list[BenchRow]) -> list[tuple[str, list[BenchRow]]]:
    """(legend label, rows sorted by steps) per model x samples; the input row left out."""
    groups: dict[tuple[str, int | None], list[BenchRow]] = {}
    for row in rows:
        if row.model != "input" and row.sec_per_frame:
            groups.setdefault((row.model, row.samples), []).append(row)
    series = []
    for (model, samples), members in groups.items():
        label = model if samples is None else f"{model}, {count(samples, 'sample')} (points: steps)"
        series.append((label, sorted(members, key=lambda r: r.steps or 0)))
    return series


def _legend(canvas: _Canvas, series: list[tuple[str, list[BenchRow]]], y: int, *, baseline: bool) -> int:
    """Draw the legend from `y` down: entries side by side while they fit the width, then on further
    lines, a label too long for a line over several; the blurry input's entry last, when its line is
    drawn (`baseline`). Returns the y below it."""
    left, right = 80, WIDTH - 20
    x = left
    for i, (label, _) in enumerate(series):
        lines = textwrap.wrap(label, (right - left - 18) // _ADVANCE, break_on_hyphens=False)
        width = 18 + max(len(line) for line in lines) * _ADVANCE
        if x > left and x + width > right:
            x, y = left, y + _LINE
        colour = _PALETTE[i % len(_PALETTE)]
        canvas.disc(x + 6, y + 9, 5, colour)
        for j, line in enumerate(lines):
            canvas.text(x + 18, y + 2 + j * _LINE, line, _BLACK)
        y += (len(lines) - 1) * _LINE
        x = x + width + 30 if len(lines) == 1 else right  # after a wrapped label, a new line
    y += _LINE if series else 0
    if baseline:
        canvas.line(left, y + 9, left + 20, y + 9, _GREY, dash=4)
        canvas.text(left + 26, y + 2, "blurry input (no speed)", _GREY)
        y += _LINE
    return y


def _panel(canvas, box, metric, label, series, timed, reference) -> None:
    left, top, right, bottom = box
    canvas.text((left + right) // 2, top - 24, label, _BLACK, anchor="center")
    canvas.text((left + right) // 2, bottom + 30, "seconds per frame (log scale)", _BLACK, anchor="center")
    values = _values(series, reference, metric, timed)
    base = _baseline(reference, metric, timed)
    if not values:
        canvas.rect_outline(left, top, right, bottom, _GREY)
        canvas.text((left + right) // 2, (top + bottom) // 2, f"no {metric.upper()} measured", _GREY, anchor="center")
        return

    x_lo, x_hi = _log_range(min(timed), max(timed))
    y_lo, y_hi, y_ticks = _linear_ticks(min(values), max(values))

    def to_px(sec: float, value: float) -> tuple[float, float]:
        fx = (math.log10(sec) - x_lo) / (x_hi - x_lo)
        fy = (value - y_lo) / (y_hi - y_lo)
        return left + fx * (right - left), bottom - fy * (bottom - top)

    for tick, text in zip(y_ticks, tick_labels(y_ticks)):
        _, py = to_px(10**x_lo, tick)
        canvas.line(left, py, right, py, _LIGHT)
        canvas.text(left - 6, py - 7, text, _BLACK, anchor="right")
    for tick in _log_ticks(x_lo, x_hi):
        px, _ = to_px(tick, y_lo)
        canvas.line(px, top, px, bottom, _LIGHT)
        canvas.text(px, bottom + 8, _fmt(tick), _BLACK, anchor="center")
    canvas.rect_outline(left, top, right, bottom, _BLACK)

    taken: list[tuple[float, float, float, float]] = []  # the boxes of the labels placed so far
    if base is not None:
        _, py = to_px(10**x_lo, base)
        canvas.line(left, py, right, py, _GREY, dash=6)
        _label(canvas, "input", right - 4 - 5 * _ADVANCE, py, box, taken, _GREY)
    placed = []
    for i, (_, rows) in enumerate(series):
        colour = _PALETTE[i % len(_PALETTE)]
        points = [(to_px(r.sec_per_frame, _plotted(r, metric)), r) for r in rows if _plotted(r, metric) is not None]
        for (a, _), (b, _) in zip(points, points[1:]):
            canvas.line(a[0], a[1], b[0], b[1], colour)
        for (px, py), row in points:
            canvas.disc(px, py, 5, colour)
            # a model's name without its weights file, which the legend gives
            placed.append((row.model.split(" (")[0] if row.steps is None else str(row.steps), px, py, colour))
    for tag, px, py, colour in placed:  # after every point, so that no label is drawn over by a line
        _label(canvas, tag, px + 8, py, box, taken, colour)


def _label(canvas, text: str, x: float, py: float, box, taken: list, colour) -> None:
    """Draw `text` beside a point at height `py`, starting at `x` (to its right), inside `box`, where it
    overlaps none of the boxes in `taken`: above the point, else below it, else to its left, else further
    away; the first place inside the box when every one overlaps. Adds the box it took to `taken`."""
    left, top, right, bottom = box
    width, height = len(text) * _ADVANCE, _GLYPH_ROWS * _TEXT
    ahead, behind = x, x - 16 - width
    places = [(ahead, py - 20), (ahead, py + 4), (behind, py - 20), (behind, py + 4)]
    places += [(ahead, py - 20 - k * height) for k in (1, 2)] + [(ahead, py + 4 + k * height) for k in (1, 2)]
    inside = [
        (min(max(px, left + 3), right - 3 - width), min(max(py_, top + 3), bottom - 3 - height)) for px, py_ in places
    ]
    free = [(px, py_) for px, py_ in inside if not any(_overlap((px, py_, px + width, py_ + height), t) for t in taken)]
    px, py_ = (free or inside)[0]
    taken.append((px, py_, px + width, py_ + height))
    canvas.text(px, py_, text, colour)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _plotted(row: BenchRow, metric: str) -> float | None:
    """The row's figure for `metric` if it can be drawn: not an infinite PSNR (an exact frame), not NaN."""
    value = getattr(row, metric)
    return value if value is not None and math.isfinite(value) else None


def _log_range(lo: float, hi: float) -> tuple[float, float]:
    """log10 bounds around [lo, hi] with a margin, at least half a decade wide."""
    a, b = math.log10(lo), math.log10(hi)
    margin = max((b - a) * 0.1, 0.25)
    return a - margin, b + margin


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks between 10**lo and 10**hi; a tick per decade when those are many."""
    ticks = []
    for decade in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5):
            t = m * 10.0**decade
            if lo <= math.log10(t) <= hi:
                ticks.append(t)
    return ticks if len(ticks) <= 8 else [t for t in ticks if str(t).lstrip("0.").startswith("1")]


def _linear_ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """A range around [lo, hi] with a 5 % margin (not below 0 for non-negative data) and about five
    ticks at a 1-2-5 spacing."""
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.1
    step = 10 ** math.floor(math.log10(span / 5))
    step = next(s * step for s in (1, 2, 5, 10) if span / (s * step) <= 6)
    low = lo - 0.05 * span
    low = max(low, 0.0) if lo >= 0 else low
    lo_tick, hi_tick = math.floor(low / step) * step, math.ceil((hi + 0.05 * span) / step) * step
    ticks = [lo_tick + i * step for i in range(round((hi_tick - lo_tick) / step) + 1)]
    return lo_tick, hi_tick, ticks


def tick_labels(ticks: list[float]) -> list[str]:
    """Labels for evenly spaced ticks, with as few decimals as give each tick's value exactly: a sweep
    whose PSNR spans tenths of a dB has ticks 20.65, 20.70, ... (three significant digits made them
    20.7, 20.7, ...)."""
    for decimals in range(7):
        labels = [f"{tick + 0.0:.{decimals}f}" for tick in ticks]  # + 0.0: no "-0"
        if all(math.isclose(float(text), tick, rel_tol=1e-9, abs_tol=1e-9) for text, tick in zip(labels, ticks)):
            return labels
    return [_fmt(tick) for tick in ticks]


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


class _Canvas:
    """An RGB raster drawn at _SS times the output size; coordinates are in output pixels."""

    def __init__(self, width: int, height: int):
        self.pixels = np.full((height, width, 3), 255, np.uint8)

    def result(self) -> np.ndarray:
        """The output image: each _SS x _SS block averaged, rounding to nearest."""
        h, w, _ = self.pixels.shape
        sums = self.pixels.reshape(h // _SS, _SS, w // _SS, _SS, 3).sum(axis=(1, 3), dtype=np.uint16)
        return ((sums + _SS * _SS // 2) // (_SS * _SS)).astype(np.uint8)

    def _fill(self, x0: float, y0: float, x1: float, y1: float, colour) -> None:
        h, w, _ = self.pixels.shape
        xa, ya = max(int(round(x0 * _SS)), 0), max(int(round(y0 * _SS)), 0)
        xb, yb = min(int(round(x1 * _SS)), w), min(int(round(y1 * _SS)), h)
        if xa < xb and ya < yb:
            self.pixels[ya:yb, xa:xb] = colour

    def line(self, x0, y0, x1, y1, colour, width: float = 2, dash: float | None = None) -> None:
        """A line `width` pixels thick; `dash`: length of dashes and gaps."""
        length = math.hypot(x1 - x0, y1 - y0)
        count = max(int(length * _SS), 1)
        half = width / 2
        for i in range(count + 1):
            t = i / count
            if dash and int(t * length / dash) % 2:
                continue
            x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            self._fill(x - half, y - half, x + half, y + half, colour)

    def rect_outline(self, x0, y0, x1, y1, colour) -> None:
        for a, b, c, d in ((x0, y0, x1, y0), (x1, y0, x1, y1), (x1, y1, x0, y1), (x0, y1, x0, y0)):
            self.line(a, b, c, d, colour, width=1.5)

    def disc(self, x, y, radius, colour) -> None:
        h, w, _ = self.pixels.shape
        cx, cy, r = x * _SS, y * _SS, radius * _SS
        x0, y0 = max(int(cx - r), 0), max(int(cy - r), 0)
        x1, y1 = min(int(cx + r) + 1, w), min(int(cy + r) + 1, h)
        ys, xs = np.ogrid[y0:y1, x0:x1]
        self.pixels[y0:y1, x0:x1][(xs - cx) ** 2 + (ys - cy) ** 2 <= r * r] = colour

    def text(self, x, y, text: str, colour, anchor: str = "left") -> None:
        """Draw `text` with its top at y; anchor says whether x is its left end, centre or right end."""
        advance = _ADVANCE
        x -= {"left": 0, "center": len(text) * advance / 2, "right": len(text) * advance}[anchor]
        for i, ch in enumerate(text):
            code = ord(ch) - 33
            if not 0 <= code < len(_FONT_HEX) // (2 * _GLYPH_ROWS):
                continue  # space, and anything the font lacks
            glyph = _FONT_HEX[code * 2 * _GLYPH_ROWS : (code + 1) * 2 * _GLYPH_ROWS]
            for row in range(_GLYPH_ROWS):
                bits = int(glyph[2 * row : 2 * row + 2], 16)
                for col in range(_GLYPH_COLS):
                    if bits >> (_GLYPH_COLS - 1 - col) & 1:
                        gx, gy = x + i * advance + col * _TEXT, y + row * _TEXT
                        self._fill(gx, gy, gx + _TEXT, gy + _TEXT, colour)
