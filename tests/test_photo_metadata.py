"""A photo's EXIF (upright, without the blurred photo's thumbnail) and colour profile carried to the
restored JPEG or PNG."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image

from deblur_cli.video_io import open_sink, open_source
from deblur_cli.video_io.photo_metadata import PhotoMetadata, _upright, read_metadata, with_metadata

CAMERA = {0x010F: "Canon", 0x0110: "EOS R5", 0x0132: "2026:11:30 10:00:00"}  # make, model, date


def photo(path, orientation: int = 6):
    image = Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8))
    exif = Image.Exif()
    exif.update(CAMERA)
    exif[0x0112] = orientation
    image.save(path, exif=exif, **({"lossless": True} if str(path).endswith(".webp") else {}))
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


@pytest.mark.parametrize(
    "suffix, orientation",
    [(".jpg", o) for o in range(1, 9)] + [(s, o) for s in (".png", ".webp", ".tiff") for o in (2, 5)],
)
def test_a_photo_is_restored_as_a_viewer_shows_it_mirrored_orientations_too(tmp_path, suffix, orientation):
    """PyAV's frame.rotation reads a mirrored EXIF orientation as a turn (2, a mirror, as 180 degrees): a
    mirrored photo came back upside down. The written image is compared with Pillow's exif_transpose."""
    from PIL import ImageOps

    source = photo(tmp_path / f"in{suffix}", orientation)
    out = np.asarray(Image.open(restored(source, tmp_path / "out.png")).convert("RGB")).astype(int)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(source)).convert("RGB")).astype(int)
    assert out.shape == shown.shape and np.abs(out - shown).mean() < 4  # JPEG's chroma, decoded twice


def test_a_png_s_exif_after_its_image_data_and_an_orientation_stored_as_long_are_read(tmp_path):
    """Found in review: an eXIf chunk after IDAT (allowed, and read by FFmpeg and Pillow) was passed over,
    and a mirrored photo came back turned; an Orientation written as a LONG (Pillow reads it) too."""
    from PIL import ImageOps

    from deblur_cli.video_io.photo_metadata import photo_orientation

    data = photo(tmp_path / "before.png", 2).read_bytes()
    at = data.index(b"eXIf") - 4
    chunk = data[at : at + 12 + struct.unpack(">I", data[at : at + 4])[0]]
    rest = data[:at] + data[at + len(chunk) :]
    end = rest.index(b"IEND") - 4
    (tmp_path / "after.png").write_bytes(rest[:end] + chunk + rest[end:])
    assert photo_orientation(tmp_path / "after.png") == (0, True)
    out = np.asarray(Image.open(restored(tmp_path / "after.png", tmp_path / "out.png")).convert("RGB")).astype(int)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "after.png")).convert("RGB")).astype(int)
    assert np.abs(out - shown).max() == 0

    jpeg = photo(tmp_path / "fill.jpg", 2).read_bytes()  # a fill byte before the EXIF's marker (T.81 B.1.1.2)
    (tmp_path / "fill.jpg").write_bytes(jpeg[:2] + b"\xff" + jpeg[2:])
    assert photo_orientation(tmp_path / "fill.jpg") == (0, True)

    tiff = bytearray(b"II*\x00\x08\x00\x00\x00\x01\x00") + struct.pack("<HHII", 0x0112, 4, 1, 6) + bytes(4)
    (tmp_path / "long.tif").write_bytes(bytes(tiff))  # IFD0 alone, its Orientation a LONG of 6
    assert photo_orientation(tmp_path / "long.tif") == (270, False)


def test_the_thumbnail_of_the_blurred_photo_is_unlinked():
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 8)
    tiff += struct.pack("<I", 26) + b"\x00" * 6  # IFD0's link to IFD1
    upright = _upright(tiff)
    assert struct.unpack("<H", upright[18:20])[0] == 1  # the orientation's value
    assert upright[22:26] == b"\x00\x00\x00\x00"


def test_no_exif_or_damaged_exif_is_left_out(tmp_path):
    plain = tmp_path / "plain.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(plain)
    assert read_metadata(plain) is None
    assert _upright(b"XX*\x00") is None and _upright(b"II*\x00" + struct.pack("<I", 9999)) is None
    assert with_metadata(b"not an image", ".jpg", PhotoMetadata(b"II*\x00", None)) == b"not an image"
    assert read_metadata(tmp_path / "gone.jpg") is None


@pytest.mark.parametrize("source_suffix", [".jpg", ".png"])
@pytest.mark.parametrize("target_suffix", [".jpg", ".png"])
@pytest.mark.parametrize("size", [3000, 150_000])  # a profile in one JPEG segment, and in three
def test_the_colour_profile_is_kept(tmp_path, source_suffix, target_suffix, size):
    """Without its profile a Display P3 photo is shown as sRGB, duller."""
    profile = bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8))
    source = tmp_path / f"in{source_suffix}"
    Image.fromarray(np.full((16, 24, 3), 90, np.uint8)).save(source, icc_profile=profile)
    out = Image.open(restored(source, tmp_path / f"out{target_suffix}"))
    assert out.info.get("icc_profile") == profile
