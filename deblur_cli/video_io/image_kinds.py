"""The kind of each image of a sequence (depth, alpha), against the first image's, which decides the kind
every frame is read at (images.ImageSequenceSource): what a later image of another kind loses.

`SequenceKinds` counts it as the images are decoded, for `deblur run`'s warning.
"""

from __future__ import annotations

import av

from deblur_cli.video_io.grey import is_grey_format
from deblur_cli.video_io.info import VideoInfo, bit_depth_of, carries_alpha

def kind_words(bits: int, alpha: bool, pix_fmt: str | None = None) -> str:
    """An image kind as people say it: "8-bit RGB", "16-bit RGBA", "8-bit grey"."""
    if is_grey_format(pix_fmt):
        return f"{bits}-bit grey" + (" with alpha" if alpha else "")
    return f"{bits}-bit RGB" + ("A" if alpha else "")


class SequenceKinds:
    """What the images after the first lose, read at the first's kind: counted as each is decoded.

    `lost(frame, codec)` says it of each later image's decoded picture (in the decoding threads), `count`
    adds that up in order; `warning(first_name, images)` is then one line naming how many images lost
    transparency or depth, or None where none did. A later image of
    a shallower depth, or opaque where the first has alpha, loses nothing (it is converted exactly), nor
    does a grey or palette image read as RGB."""

    def __init__(self, info: VideoInfo):
        self.info = info
        self.images = 0  # images that lost transparency or depth
        self.transparent = 0  # images whose transparency was left out
        self.deeper: dict[int, int] = {}  # bits -> images of that depth rounded to 8 bits

    def lost(self, frame: av.VideoFrame, codec: str | None) -> tuple[bool, int | None]:
        """(transparency left out, its bits where rounded to 8) for one decoded image; thread-safe."""
        bits = bit_depth_of(frame.format)
        deeper = bits if bits > 8 and self.info.bit_depth <= 8 else None
        return (not self.info.alpha and carries_alpha(frame, codec)), deeper

    def count(self, lost: tuple[bool, int | None]) -> None:
        """Count what `lost` returned for one image (in the thread that reads the frames, in order)."""
        transparent, deeper = lost
        self.images += transparent or deeper is not None
        self.transparent += transparent
        if deeper is not None:
            self.deeper[deeper] = self.deeper.get(deeper, 0) + 1

    def warning(self, first: str, images: int) -> str | None:
        """The line for `images` images read, the first named `first`; None where nothing was lost."""
        if not self.images:
            return None
        parts = [f"{self.transparent} with transparency, read opaque"] if self.transparent else []
        parts += [f"{count} of {bits} bits, rounded to 8" for bits, count in sorted(self.deeper.items())]
        kind = kind_words(self.info.bit_depth, self.info.alpha, self.info.pix_fmt)
        return f"{self.images} of {images} images were read at the first's kind ({first}, {kind}): " + "; ".join(parts)
