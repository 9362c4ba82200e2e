"""HDR10 static metadata: what the source's decoder reports of its mastering display and light levels,
and how an encoder is told to write it back; and a Dolby Vision source's configuration, which no encoder here
writes back."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

# FFmpeg's AVMasteringDisplayMetadata: display_primaries[3][2], white_point[2], min_luminance, max_luminance
# (each an AVRational of two ints), has_primaries, has_luminance; AVContentLightMetadata: MaxCLL, MaxFALL.
_MASTERING = struct.Struct("=22i")
_LIGHT = struct.Struct("=2I")
_CHROMATICITY_UNIT = 50000  # x265 and HEVC SEI count xy chromaticity in steps of 0.00002
_LUMINANCE_UNIT = 10000  # and mastering luminance in steps of 0.0001 cd/m²


@dataclass(frozen=True)
class HdrMetadata:
    """SMPTE ST 2086 mastering display colour volume and CTA-861.3 light levels of a video."""

    primaries: tuple[tuple[float, float], ...] | None = None  # CIE 1931 xy of the red, green, blue primaries
    white_point: tuple[float, float] | None = None  # CIE 1931 xy
    luminance: tuple[float, float] | None = None  # (min, max) of the mastering display, cd/m²
    max_cll: int | None = None  # maximum content light level, cd/m²
    max_fall: int | None = None  # maximum frame-average light level, cd/m²


class DolbyVision(NamedTuple):
    """A Dolby Vision configuration record's profile and the signal its base layer carries without the Dolby Vision
    metadata (bl_signal_compatibility_id: 0 none, as profile 5's; 1 HDR10; 2 SDR; 4 HLG; 6 HDR10 of a Blu-ray)."""

    profile: int
    compatibility: int

    @classmethod
    def of_record(cls, record: bytes) -> DolbyVision | None:
        """The configuration in a DOVIDecoderConfigurationRecord (an MP4's dvcC, dvvC or dvwC atom, a Matroska
        track's block addition mapping of that type): after the version's two bytes, 7 bits of profile, 6 of level,
        3 flags, then 4 bits of compatibility. None where it is too short."""
        return cls(record[2] >> 1, record[4] >> 4) if len(record) >= 5 else None

    @property
    def name(self) -> str:
        """As players and tools name it, the profile and its compatibility: "8.4" (an iPhone's), "5"."""
        return f"{self.profile}.{self.compatibility}" if self.compatibility else str(self.profile)


# what a base layer is, by its compatibility id, where players without Dolby Vision show it as it is
_BASE_LAYERS = {1: "HDR10", 2: "SDR", 4: "HLG", 6: "HDR10"}


def dynamic_losses(vision: DolbyVision | None, hdr10_plus: bool) -> list[str]:
    """What any output of a source with Dolby Vision (`vision`) or HDR10+ (`hdr10_plus`) metadata loses of it: the
    metadata itself, which no encoder here writes (PNG frames neither)."""
    losses = [] if vision is None else [dolby_vision_loss(vision)]
    if hdr10_plus:
        losses.append(
            "the input's HDR10+ dynamic metadata (a tone curve for each scene) is not written: no encoder here writes "
            "it, so HDR10+ displays tone-map the output as HDR10"
        )
    return losses


def dolby_vision_loss(found: DolbyVision) -> str:
    """What a restored output of a Dolby Vision source keeps of it: its base layer, decoded as FFmpeg decodes it,
    without the Dolby Vision metadata (no encoder here writes it). Without a compatible base layer (profile 5) the
    colours themselves need a Dolby Vision player."""
    name = f"Dolby Vision profile {found.name}"
    if (base := _BASE_LAYERS.get(found.compatibility)) is None:
        return (
            f"the input is {name}, whose colours only a Dolby Vision player shows right: the output holds its frames "
            "as other players show them, colours off, and no Dolby Vision metadata"
        )
    return (
        f"the input is {name}: the output keeps its {base} base layer, which players show as {base}, without the "
        "Dolby Vision metadata (no encoder here writes it)"
    )


def hdr_of(side_data: Mapping[str, bytes]) -> HdrMetadata | None:
    """The HDR10 metadata in a decoded frame's side data (side_data.side_data_of), or None if it has none."""
    mastering = light = None
    if len(found := side_data.get("MASTERING_DISPLAY_METADATA", b"")) == _MASTERING.size:
        mastering = _MASTERING.unpack(found)
    if len(found := side_data.get("CONTENT_LIGHT_LEVEL", b"")) == _LIGHT.size:
        light = _LIGHT.unpack(found)
    if mastering is None and light is None:
        return None
    fields = {}
    if mastering is not None:
        values = [num / den if den else 0.0 for num, den in zip(mastering[0:20:2], mastering[1:20:2])]
        has_primaries, has_luminance = mastering[20:]
        if has_primaries:
            fields["primaries"] = (tuple(values[0:2]), tuple(values[2:4]), tuple(values[4:6]))
            fields["white_point"] = tuple(values[6:8])
        if has_luminance:
            fields["luminance"] = (values[8], values[9])
    if light is not None and any(light):
        fields["max_cll"], fields["max_fall"] = light
    return HdrMetadata(**fields) if fields else None


def x265_params(hdr: HdrMetadata) -> str:
    """The x265-params that write `hdr` into the HEVC stream's SEI, e.g.
    "hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400"."""
    display = _mastering_display(
        hdr,
        lambda x, y: f"({round(x * _CHROMATICITY_UNIT)},{round(y * _CHROMATICITY_UNIT)})",
        lambda high, low: f"({round(high * _LUMINANCE_UNIT)},{round(low * _LUMINANCE_UNIT)})",
    )
    params = ["hdr10=1"] + ([f"master-display={display}"] if display else [])
    if hdr.max_cll is not None:
        params.append(f"max-cll={hdr.max_cll},{hdr.max_fall or 0}")
    return ":".join(params)


def svtav1_params(hdr: HdrMetadata) -> str:
    """The svtav1-params that write `hdr` into the AV1 stream's metadata OBUs, e.g.
    "mastering-display=G(0.265,0.69)B(0.15,0.06)R(0.68,0.32)WP(0.3127,0.329)L(1000,0.0001):content-light=1000,400"
    (SVT-AV1 takes chromaticity and luminance as plain numbers)."""
    display = _mastering_display(hdr, lambda x, y: f"({x:.5g},{y:.5g})", lambda high, low: f"({high:.8g},{low:.8g})")
    params = [f"mastering-display={display}"] if display else []
    if hdr.max_cll is not None:
        params.append(f"content-light={hdr.max_cll},{hdr.max_fall or 0}")
    return ":".join(params)


# The encoders that write HDR10 mastering metadata: the option that tells each, and its value for an HdrMetadata.
HDR_PARAMS = {"libx265": ("x265-params", x265_params), "libsvtav1": ("svtav1-params", svtav1_params)}


def _mastering_display(hdr: HdrMetadata, point, levels) -> str | None:
    """The mastering display in the syntax both encoders share, G(..)B(..)R(..)WP(..)L(..), each chromaticity
    written by `point(x, y)` and the luminance by `levels(high, low)`; None where `hdr` lacks part of it."""
    if not (hdr.primaries and hdr.white_point and hdr.luminance):
        return None
    red, green, blue = hdr.primaries
    low, high = hdr.luminance
    return f"G{point(*green)}B{point(*blue)}R{point(*red)}WP{point(*hdr.white_point)}L{levels(high, low)}"
