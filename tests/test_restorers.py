"""build_restorer: model names, weights files, the restorer contract, seeds."""

from __future__ import annotations

import hashlib

import pytest
import torch

from deblur_cli.diffusion import DiffusionConfig, sample
from deblur_cli.errors import ModelError, UsageError, WeightsError
from deblur_cli.models.dstnet import DSTNet, DSTNetConfig
from deblur_cli.models.wtsa_unet import WTSA_VARIANTS, WTSAUNet
from deblur_cli.restorer import ModelFacts
from deblur_cli.restorers import ModelOptions, build_restorer, describe_restorer
from deblur_cli.wtsa_weights import save_wtsa
from tests.restorers import TINY_WTSA, frames

def test_dstnet_restorer_keeps_the_contract_and_is_deterministic(dstnet_file):
    restorer = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu"))
    assert restorer.multiple == 16 and restorer.max_frames is None and restorer.device == torch.device("cpu")
    x = frames()
    y = restorer(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert 0 <= y.min() and y.max() <= 1
    assert torch.equal(y, restorer(x))


def test_bf16_asked_on_a_cpu_that_emulates_it_is_warned_of(dstnet_file, monkeypatch):
    from deblur_cli import devices

    monkeypatch.setattr(devices, "cpu_emulates_bf16", lambda: True)
    said: list[str] = []
    build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="bf16"), warn=said.append)
    assert len(said) == 1 and "bf16 runs emulated" in said[0]
    said.clear()
    build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="fp32"), warn=said.append)
    assert said == []


def test_residual_restorer_samples_a_correction_of_its_prior(tmp_path):
    """A residual file's restorer runs the DSTNet stored in it, then samples on that estimate."""
    torch.manual_seed(0)
    wtsa, dstnet = WTSAUNet(TINY_WTSA).eval(), DSTNet(DSTNetConfig(feat=8, blocks=1)).eval()
    torch.nn.init.normal_(wtsa.head.weight, std=0.1)  # the head starts at zero: make the correction visible
    diffusion = DiffusionConfig(condition="residual", scale=6.0)
    path = tmp_path / "residual.safetensors"
    save_wtsa(wtsa, path, diffusion=diffusion, prior=dstnet)
    restorer = build_restorer("wtsa-s", ModelOptions(weights=path, device="cpu", precision="fp32", steps=3, seed=7))
    assert restorer.multiple == 16  # the prior's multiple, and the UNet's (2) divides it
    x = frames(t=4, h=16, w=32)
    with torch.no_grad():
        estimate = dstnet(x[None]).clamp(0, 1)
        expected = sample(wtsa, estimate, steps=3, seed=7, diffusion=diffusion)
    y = restorer(x)
    torch.testing.assert_close(y, expected[0].clamp(0, 1), atol=1e-6, rtol=0)
    assert (y - estimate[0]).abs().max() > 1e-3  # the sample corrects the estimate rather than returning it


def test_a_bf16_residual_restorer_corrects_its_prior_in_float32(tmp_path):
    """In bf16 the networks run in bf16, but the estimate and the correction added to it stay float32:
    the output is what sample() gives for the float32 estimate, not rounded to bf16's 8 bits."""
    torch.manual_seed(0)
    wtsa, dstnet = WTSAUNet(TINY_WTSA).eval(), DSTNet(DSTNetConfig(feat=8, blocks=1)).eval()
    torch.nn.init.normal_(wtsa.head.weight, std=0.1)
    diffusion = DiffusionConfig(condition="residual", scale=6.0)
    path = tmp_path / "residual.safetensors"
    save_wtsa(wtsa, path, diffusion=diffusion, prior=dstnet)
    restorer = build_restorer("wtsa-s", ModelOptions(weights=path, device="cpu", precision="bf16", steps=2, seed=7))
    x = frames(t=4, h=16, w=32)
    y = restorer(x)
    assert y.dtype == torch.float32 and not torch.equal(y, y.to(torch.bfloat16).float())
    estimate = restorer.prior(x)
    assert not torch.equal(estimate, estimate.to(torch.bfloat16).float())  # the prior's output keeps its bits too
    with torch.no_grad():
        expected = sample(restorer.model, estimate[None], steps=2, seed=7,
                          diffusion=diffusion, dtype=torch.bfloat16)  # fmt: skip
    torch.testing.assert_close(y, expected[0].clamp(0, 1), atol=1e-6, rtol=0)


def test_diffusion_restorer_same_seed_same_output(wtsa_file):
    x = frames(t=4, h=16, w=16)
    a = build_restorer("wtsa-s", ModelOptions(weights=wtsa_file, device="cpu", steps=3, eta=1.0, seed=7))
    b = build_restorer("wtsa-s", ModelOptions(weights=wtsa_file, device="cpu", steps=3, eta=1.0, seed=7))
    c = build_restorer("wtsa-s", ModelOptions(weights=wtsa_file, device="cpu", steps=3, eta=1.0, seed=8))
    ya, yb, yc = a(x), b(x), c(x)
    assert ya.shape == x.shape and 0 <= ya.min() and ya.max() <= 1
    assert torch.equal(ya, yb)
    assert not torch.equal(ya, yc)
    assert a.max_frames == 4


def test_diffusion_restorer_reports_every_step(wtsa_file):
    seen = []
    options = ModelOptions(weights=wtsa_file, device="cpu", steps=4, samples=2)
    restorer = build_restorer("wtsa-s", options, on_step=lambda d, t: seen.append((d, t)))
    restorer(frames(t=2, h=16, w=16))
    assert seen == [(i, 8) for i in range(1, 9)]


def test_weights_of_the_wrong_architecture_are_refused(dstnet_file, wtsa_file):
    with pytest.raises(WeightsError, match="holds dstnet weights, not a WTSA diffusion model's"):
        build_restorer("wtsa-s", ModelOptions(weights=dstnet_file, device="cpu"))
    with pytest.raises(WeightsError, match="holds wtsa weights, not DSTNet's"):
        build_restorer("dstnet-s", ModelOptions(weights=wtsa_file, device="cpu"))


def test_a_plain_wtsa_state_dict_loads_as_the_model_asked_for(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save({"params": WTSAUNet(WTSA_VARIANTS["wtsa-s"]).state_dict()}, path)
    restorer = build_restorer("wtsa-s", ModelOptions(weights=path, device="cpu", steps=1))
    assert restorer.identity["model"] == "wtsa-s"
    with pytest.raises(WeightsError, match="does not fit the WTSA model"):
        build_restorer("wtsa", ModelOptions(weights=path, device="cpu"))


BAD_SAMPLING = [
    ({"steps": 0}, "--steps 0 must be from 1 to 1000"),
    ({"steps": 1001}, "--steps 1001 must be from 1 to 1000"),
    ({"samples": 0}, "--samples 0 must be from 1 to 64"),
    ({"samples": 100}, "--samples 100 must be from 1 to 64"),
    ({"eta": -1.0}, r"--eta -1 must be from 0 \(deterministic\) to 1"),
    ({"eta": 5.0}, r"--eta 5 must be from 0 \(deterministic\) to 1"),
    ({"eta": float("nan")}, "--eta nan must be from 0"),
    ({"seed": 2**64}, r"--seed 18446744073709551616 must be from 0 to 2\^64 - 1"),
]


@pytest.mark.parametrize("kwargs, message", BAD_SAMPLING)
def test_bad_sampling_options(dstnet_file, kwargs, message):
    with pytest.raises(UsageError, match=message):
        build_restorer("wtsa-s", ModelOptions(weights=dstnet_file, device="cpu", **kwargs))


@pytest.mark.parametrize("kwargs, message", BAD_SAMPLING)
def test_describing_a_model_refuses_what_building_it_refuses(kwargs, message):
    """Found in review (structure54 F11): describe_restorer took samples=100 and eta=5, which the command line,
    load and build_restorer refuse, each by its own copy of the limits."""
    with pytest.raises(UsageError, match=message):
        describe_restorer("wtsa-s", ModelOptions(device="cpu", **kwargs))


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ModelError) as e:
        build_restorer("dstnet-xl")
    assert "dstnet-s" in e.value.hint and "wtsa" in e.value.hint


def test_a_description_says_what_the_built_restorer_says(dstnet_file, wtsa_file, tmp_path):
    """What `deblur evaluate` checks every model's options against before the first pass, without building it."""
    plain = tmp_path / "plain.pth"  # no metadata: the variant's config
    model = WTSAUNet(WTSA_VARIANTS["wtsa-s"])
    with torch.no_grad():
        for name, table in model.named_parameters():
            if name.endswith("frame_pos"):
                table[:3] = 1.0  # as if trained on windows of 3 frames
    torch.save({"params": model.state_dict()}, plain)
    for name, weights in [("dstnet-s", None), ("wtsa-s", None), ("dstnet", dstnet_file), ("wtsa", wtsa_file),
                          ("wtsa-s", plain)]:  # fmt: skip
        options = ModelOptions(weights=weights, device="cpu", offline=True)
        described = describe_restorer(name, options)
        assert described == ModelFacts.of(build_restorer(name, options)), name
    assert describe_restorer("wtsa-s", ModelOptions(device="cpu")).learned_frames == 6  # the bundled weights'
    assert describe_restorer("wtsa-s", ModelOptions(weights=plain, device="cpu")).learned_frames == 3
    with pytest.raises(WeightsError, match="are not downloaded \\(offline\\)"):
        describe_restorer("dstnet", ModelOptions(device="cpu", offline=True))
    torch.save(DSTNet(DSTNetConfig(feat=8, blocks=1)).state_dict(), tmp_path / "dstnet.pth")
    with pytest.raises(WeightsError, match="holds DSTNet weights, not a WTSA diffusion model's"):
        describe_restorer("wtsa-s", ModelOptions(weights=tmp_path / "dstnet.pth", device="cpu"))


def test_bundled_wtsa_s_corrects_the_dstnet_inside_it():
    restorer = build_restorer("wtsa-s", ModelOptions(device="cpu", steps=1, offline=True))
    assert restorer.diffusion.condition == "residual" and restorer.prior is not None
    x = frames(t=2, h=32, w=32)
    y = restorer(x)
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1


def test_identity_names_what_fixes_the_output_so_runs_can_be_continued(dstnet_file, wtsa_file):
    """An interrupted `deblur run` continues only under the same identity (pipeline.resume_key)."""
    dstnet = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="fp32"))
    assert dstnet.identity["model"] == "dstnet" and dstnet.identity["dtype"] == "torch.float32"
    assert dstnet.identity["weights"] == [str(dstnet_file.absolute())]  # not its time: rewritten alike, the same
    assert dstnet.identity["weights_sha256"] == hashlib.sha256(dstnet_file.read_bytes()).hexdigest()
    bf16 = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="bf16"))
    assert bf16.identity != dstnet.identity
    a = build_restorer("wtsa-s", ModelOptions(weights=wtsa_file, device="cpu", steps=3, seed=7)).identity
    assert a == build_restorer("wtsa-s", ModelOptions(weights=wtsa_file, device="cpu", steps=3, seed=7)).identity
    assert a != build_restorer("wtsa-s", ModelOptions(weights=wtsa_file, device="cpu", steps=4, seed=7)).identity
    assert a != build_restorer("wtsa-s", ModelOptions(weights=wtsa_file, device="cpu", steps=3, seed=8)).identity
