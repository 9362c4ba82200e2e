"""A photo's EXIF carried to the restored JPEG or PNG, upright and without the blurred photo's thumbnail."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image

from deblur_cli.video_io import open_sink, open_source
from deblur_cli.video_io.exif import _upright, read_exif, with_exif

CAMERA = {0x010F: "Canon", 0x0110: "EOS R5", 0x0132: "2026:11:30 10:00:00"}  # make, model, date


def photo(path, orientation: int = 6):
    image = Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8))
    exif = Image.Exif()
    exif.update(CAMERA)
    exif[0x0112] = orientation
    image.save(path, exif=exif)
    return path


def restored(source, target):
    """The source written to target unchanged, as `deblur run` writes one image."""
    with open_source(source) as frames, open_sink(target, frames.info, source=source) as sink:
        for frame in frames:
            sink.write(frame)
    return target


@pytest.mark.parametrize("source_suffix", [".jpg", ".png"])
@pytest.mark.parametrize("target_suffix", [".jpg", ".png"])
def test_the_camera_date_and_place_are_kept_and_the_orientation_is_as_shown(tmp_path, source_suffix, target_suffix):
    """FFmpeg's encoders write no EXIF: a restored photo lost its camera, date and GPS position."""
    source = photo(tmp_path / f"in{source_suffix}")
    out = Image.open(restored(source, tmp_path / f"out{target_suffix}"))
    exif = out.getexif()
    assert {tag: exif.get(tag) for tag in CAMERA} == CAMERA
    assert exif.get(0x0112) == 1 and out.size == (24, 32)  # written turned for display: shown as it is


def test_the_thumbnail_of_the_blurred_photo_is_unlinked():
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 8)
    tiff += struct.pack("<I", 26) + b"\x00" * 6  # IFD0's link to IFD1
    upright = _upright(tiff)
    assert struct.unpack("<H", upright[18:20])[0] == 1  # the orientation's value
    assert upright[22:26] == b"\x00\x00\x00\x00"


def test_no_exif_or_damaged_exif_is_left_out(tmp_path):
    plain = tmp_path / "plain.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(plain)
    assert read_exif(plain) is None
    assert _upright(b"XX*\x00") is None and _upright(b"II*\x00" + struct.pack("<I", 9999)) is None
    assert with_exif(b"not an image", ".jpg", b"II*\x00") == b"not an image"
    assert read_exif(tmp_path / "gone.jpg") is None
