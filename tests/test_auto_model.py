"""`--model auto`: the model picked for the device and the weights present, or for the weights given."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from deblur_cli.auto_model import AUTO, PREFERENCE, choose_model
from deblur_cli.cli import app
import deblur_cli.restorers as restorers_module
from deblur_cli.dstnet_weights import save_dstnet
from deblur_cli.errors import ModelError
from deblur_cli.model_specs import model_spec
from deblur_cli.models.dstnet import DSTNET_VARIANTS, DSTNet, DSTNetConfig
from deblur_cli.weights import cache, load_registry
from tests import media
from tests.restorers import IdentityRestorer

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")


def fake_download(name: str, cache_dir) -> None:
    """Put a file where a verified download of registry entry `name` would be (content is not read)."""
    entry = load_registry().entry(name)
    path = cache.converted_path(entry, cache_dir) if entry.needs_conversion else cache.download_path(entry, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights")
    cache.write_stamp(path, entry.checksum)


def test_a_named_model_is_kept(tmp_path):
    for name in ("dstnet", "dstnet-s", "wtsa", "wtsa-s"):
        assert choose_model(name, device=CUDA, cache_dir=tmp_path) == name


def test_an_unknown_name_lists_auto_among_the_choices(tmp_path):
    with pytest.raises(ModelError, match="unknown model 'nope'") as caught:
        choose_model("nope", device=CPU, cache_dir=tmp_path)
    assert caught.value.hint.startswith("choose one of: auto, ")
    for typo, meant in (("dstnet-ss", "dstnet-s"), ("WTSA-S", "wtsa-s"), ("atuo", "auto")):
        with pytest.raises(ModelError) as caught:
            choose_model(typo, device=CPU, cache_dir=tmp_path)
        assert caught.value.hint.startswith(f"did you mean {meant!r}? choose one of: auto, "), caught.value.hint
    with pytest.raises(ModelError) as caught:  # where auto is not a choice (deblur bench -m)
        model_spec("dstnet-ss")
    assert caught.value.hint == "did you mean 'dstnet-s'? choose one of: dstnet, dstnet-s, wtsa, wtsa-s"


def test_cpu_and_mps_run_the_small_dstnet_even_with_the_official_weights_cached(tmp_path):
    fake_download("dstnet-gopro", tmp_path)
    assert choose_model(AUTO, device=CPU, cache_dir=tmp_path) == "dstnet-s"
    assert choose_model(AUTO, device=MPS, cache_dir=tmp_path) == "dstnet-s"


def test_cuda_runs_the_official_dstnet_once_downloaded_and_never_downloads(tmp_path):
    assert choose_model(AUTO, device=CUDA, cache_dir=tmp_path) == "dstnet-s"
    assert not any(tmp_path.iterdir())  # choosing fetched nothing
    fake_download("dstnet-gopro", tmp_path)
    assert choose_model(AUTO, device=CUDA, cache_dir=tmp_path) == "dstnet"


def test_every_preference_ends_in_a_bundled_model():
    registry = load_registry()
    for models in PREFERENCE.values():
        entries = registry.candidates(models[-1])
        assert any(cache.status(entry) == "bundled" for entry in entries)


def test_weights_decide_the_model(tmp_path):
    registry = load_registry()
    wtsa_file = cache.bundled_file(registry.entry("wtsa-s"))
    dstnet_file = tmp_path / "mine.safetensors"
    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), dstnet_file)
    official = tmp_path / "GOPRO.pth"
    torch.save({"params": {}}, official)
    assert choose_model(AUTO, device=CPU, weights=wtsa_file) == "wtsa-s"  # the variant its config is
    assert choose_model(AUTO, device=CPU, weights=cache.bundled_file(registry.entry("dstnet-s"))) == "dstnet-s"
    assert choose_model(AUTO, device=CPU, weights=dstnet_file) == "dstnet"  # no named variant: the architecture
    assert choose_model(AUTO, device=CPU, weights=official) == "dstnet"  # not DSTNet weights: loading says so
    small = tmp_path / "small.pth"  # the official layout at dstnet-s's size: read from its tensors, as loading does
    torch.save({"params": DSTNet(DSTNET_VARIANTS["dstnet-s"]).state_dict()}, small)
    assert choose_model(AUTO, device=CPU, weights=small) == "dstnet-s"  # it said dstnet, the label of another size
    assert choose_model(AUTO, device=CPU, weights="wtsa-s") == "wtsa-s"
    assert choose_model(AUTO, device=CPU, weights="dstnet-dvd") == "dstnet"  # an entry no model defaults to
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    assert choose_model(AUTO, device=CPU, weights=broken) == "dstnet"  # loading it will say what is wrong


@pytest.fixture
def built(monkeypatch):
    """The model names `deblur run` builds restorers for."""
    names: list[str] = []

    def build(name, **options):
        names.append(name)
        return IdentityRestorer()

    monkeypatch.setattr(restorers_module, "build_restorer", build)
    return names


def test_run_defaults_to_auto_and_reports_the_model_it_ran(tmp_path, built):
    source = media.make_video(tmp_path / "in.mp4", frames=3, size=(32, 32))
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "a.mp4"), "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert built == ["dstnet-s"] and json.loads(result.stdout)["model"] == "dstnet-s"

    wtsa_file = cache.bundled_file(load_registry().entry("wtsa-s"))
    args = ["run", str(source), "-o", str(tmp_path / "b.mp4"), "--json", "--weights", str(wtsa_file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert built[-1] == "wtsa-s" and json.loads(result.stdout)["model"] == "wtsa-s"  # the variant it is
