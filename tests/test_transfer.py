"""HDR frames restored on the model's curve: the transfer functions, the curve, and `deblur run` using it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblur_cli.pipeline import deblur_video
from deblur_cli.stream import restore_stream
from deblur_cli.transfer import (
    HLG,
    KNEE,
    PQ,
    TOP,
    WHITE,
    ModelCurve,
    hlg_to_light,
    light_to_hlg,
    light_to_pq,
    model_curve,
    pq_to_light,
)
from deblur_cli.video_io import EncodeOptions, open_source
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import IdentityRestorer

CODES = torch.linspace(0, 1, 4097).view(1, 1, 1, -1).expand(1, 3, 1, -1).contiguous()


def test_reference_points_of_pq_and_hlg():
    """ST 2084: 10 000 cd/m² at 1, 100 cd/m² at 0.5081, 203 (diffuse white, BT.2408) at 0.5807. HLG:
    diffuse white at 75% signal, 0.5 at a twelfth of the peak's scene light."""
    white = torch.tensor(1.0)
    assert light_to_pq(white).item() == pytest.approx(0.5807, abs=1e-4)
    assert light_to_pq(torch.tensor(100 / 203)).item() == pytest.approx(0.5081, abs=1e-4)
    assert pq_to_light(torch.tensor(1.0)).item() == pytest.approx(10_000 / 203, rel=1e-5)
    assert light_to_hlg(white).item() == pytest.approx(0.75, abs=1e-6)
    assert hlg_to_light(torch.tensor(0.5)).item() * 0.26496 == pytest.approx(1 / 12, rel=1e-3)
    for to_light, from_light in ((pq_to_light, light_to_pq), (hlg_to_light, light_to_hlg)):
        torch.testing.assert_close(from_light(to_light(CODES)), CODES, rtol=0, atol=2e-5)


@pytest.mark.parametrize("transfer", [PQ, HLG])
def test_the_curve_keeps_every_code_value_and_puts_diffuse_white_at_white(transfer):
    curve = model_curve(transfer)
    seen = curve.to_model(CODES)
    assert seen.dtype == torch.float32 and seen.min() == 0 and seen.max() == pytest.approx(1, abs=1e-6)
    assert (seen[..., 1:] > seen[..., :-1]).all()  # strictly increasing: nothing clipped, nothing merged
    torch.testing.assert_close(curve.from_model(seen), CODES, rtol=0, atol=2e-5)  # under 0.03 of a 10-bit level
    to_light = pq_to_light if transfer == PQ else hlg_to_light
    white_code = light_to_pq(torch.tensor(1.0)) if transfer == PQ else light_to_hlg(torch.tensor(1.0))
    assert curve.to_model(white_code.view(1, 1, 1, 1).expand(1, 3, 1, 1)).max().item() == pytest.approx(WHITE, abs=1e-5)
    # below diffuse white the curve is sRGB's, scaled: a fifth of white's light at WHITE x sRGB(0.2)
    fifth = (light_to_pq if transfer == PQ else light_to_hlg)(torch.tensor(0.2)).view(1, 1, 1, 1).expand(1, 3, 1, 1)
    assert curve.to_model(fifth).max().item() == pytest.approx(WHITE * 0.4845, abs=1e-3)
    assert to_light(white_code).item() == pytest.approx(1, abs=1e-4)
    if transfer == PQ:  # highlights up to 1000 cd/m² reach TOP; the rest, to 10 000, share what is left
        knee = light_to_pq(torch.tensor(KNEE)).view(1, 1, 1, 1).expand(1, 3, 1, 1)
        assert curve.to_model(knee).max().item() == pytest.approx(TOP, abs=1e-4)


def test_deblur_info_names_the_transfers_restored_on_the_curve():
    from deblur_cli.input_report import HDR_TRANSFERS

    assert HDR_TRANSFERS == (PQ, HLG)


def test_sdr_transfers_have_no_curve():
    assert model_curve(None) is None
    for transfer in (1, 2, 6, 13, 14):  # BT.709, unknown, BT.601, sRGB, BT.2020 10-bit: SDR
        assert model_curve(transfer) is None
    assert model_curve(16) == ModelCurve(PQ) and model_curve(18) == ModelCurve(HLG)


class Recording(IdentityRestorer):
    """The identity, remembering the largest value it was given."""

    seen = 0.0

    def __call__(self, frames):
        self.seen = max(self.seen, frames.max().item())
        return super().__call__(frames)


def test_a_stream_on_the_curve_goes_in_and_comes_out_as_stored():
    frames = torch.full((5, 3, 32, 32), 0.5807)  # PQ diffuse white
    frames[:, :, :8] = 0.75  # about 1000 cd/m²
    restorer = Recording()
    windows = WindowOptions(window=3, overlap=1, tile=None)
    out = torch.stack(list(restore_stream(iter(frames), restorer, windows, (32, 32), curve=model_curve(PQ))))
    torch.testing.assert_close(out, frames, rtol=0, atol=2e-5)
    assert WHITE < restorer.seen < 1  # the highlights, above WHITE on the model's curve
    plain = Recording()
    list(restore_stream(iter(frames), plain, windows, (32, 32)))
    assert plain.seen == pytest.approx(0.75)


@pytest.mark.parametrize(("transfer", "seen_white"), [(PQ, WHITE), (HLG, WHITE), (1, 0.5807)])
def test_deblur_run_restores_hdr_video_on_the_curve(tmp_path, transfer, seen_white):
    """A 10-bit video tagged PQ or HLG: the model sees its frames on the curve, and an identity model
    writes them back as they were (to a 10-bit level). An SDR-tagged one is restored as stored."""
    color = {"primaries": 9, "transfer": transfer, "matrix": 9, "range": 1}
    source = media.make_video(tmp_path / "in.mkv", frames=4, size=(64, 64), codec="ffv1", bit_depth=10, color=color)
    with open_source(source) as decoded:  # as deblur reads it (exactly; PyAV's default reads 10-bit 0.4% dark)
        frames = torch.from_numpy(np.stack([frame.image for frame in decoded]).astype(np.float32) / 65535)
    white = 0.5807 if transfer != HLG else 0.75  # diffuse white in the source's code values

    class Seen(IdentityRestorer):
        values: list[torch.Tensor] = []

        def __call__(self, window):
            Seen.values.append(window.clone())
            return super().__call__(window)

    output = deblur_video(source, tmp_path / "out.mkv", Seen(), windows=WindowOptions(window=4, overlap=0, tile=None),
                          encode=EncodeOptions(codec="ffv1"))  # fmt: skip
    restored = np.stack(media.read_frames(output.output, format="rgb48le")).astype(np.float32) / 65535
    assert np.abs(restored - frames.numpy()).max() <= 1.5 / 1023
    seen = torch.cat(Seen.values)
    curve = model_curve(transfer)
    expected = curve.to_model(frames.permute(0, 3, 1, 2)) if curve else frames.permute(0, 3, 1, 2)
    torch.testing.assert_close(seen, expected, rtol=0, atol=1e-4)
    white_code = torch.full((1, 3, 1, 1), white)
    assert (curve.to_model(white_code) if curve else white_code).max().item() == pytest.approx(seen_white, abs=1e-4)
