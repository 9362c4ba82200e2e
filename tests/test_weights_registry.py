"""weights.toml: the shipped registry, schema validation, path safety, checksums and the pin helper."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from deblur_cli.errors import WeightsError
from deblur_cli.weights import load_registry
from deblur_cli.weights.registry import parse_registry
from deblur_cli.weights.verify import Checksum, file_digest, mismatch

REPO = Path(__file__).resolve().parents[1]
DSTNET_COMMIT = "d42c1e377619750d228e769e987479562f7000a9"
# git blob ids of the official checkpoints at that commit (../shared/dstnet/README.md)
OFFICIAL = {
    "dstnet-gopro": ("GOPRO.pth", "11e52c76f3b5a190e45e0e638008100d876535fe"),
    "dstnet-dvd": ("DVD.pth", "f2e15877fb78c13ca8a8fddc46bd13ca4309deaf"),
    "dstnet-bsd": ("BSD.pth", "1dd35d47707671e20b2db6e9d0db72503b621a32"),
}
SHA = "0" * 64
COMMIT = "a" * 40

def entry_toml(**fields: str) -> str:
    """A one-entry weights.toml; `fields` replace or add TOML lines (value text as written in TOML)."""
    base = {
        "description": '"test"',
        "architecture": '"dstnet"',
        "source": '"url"',
        "url": f'"https://example.org/{COMMIT}/x.safetensors"',
        "checksum": f'"sha256:{SHA}"',
        "licence": '"MIT"',
        "training_data": '"none"',
    }
    base.update(fields)
    return "[x]\n" + "".join(f"{k} = {v}\n" for k, v in base.items() if v is not None)


def test_packaged_registry_is_the_repository_file():
    packaged = resources.files("deblur_cli").joinpath("weights.toml")
    assert packaged.read_bytes() == (REPO / "weights.toml").read_bytes()
    assert load_registry().entries.keys() == load_registry(REPO / "weights.toml").entries.keys()


def test_official_dstnet_entries_are_pinned_to_the_commit_and_blob_ids():
    registry = load_registry()
    for name, (filename, blob) in OFFICIAL.items():
        entry = registry.entry(name)
        assert entry.source.url == (
            f"https://raw.githubusercontent.com/xuboming8/DSTNet/{DSTNET_COMMIT}/experiments/{filename}"
        )
        assert entry.checksum == Checksum("git-blob-sha1", blob)
        assert entry.architecture == "dstnet" and dict(entry.config) == {"feat": 64, "blocks": 15}
        assert entry.licence == "MIT" and entry.needs_conversion
    gopro = registry.entry("dstnet-gopro").quality
    assert (gopro.psnr, gopro.ssim) == (34.16, 0.9679)


def test_every_model_name_has_default_weights_of_its_architecture():
    from deblur_cli.model_specs import MODELS

    registry = load_registry()
    for model, spec in MODELS.items():
        assert {e.architecture for e in registry.candidates(model)} == {spec.architecture}, model


def test_unknown_names_list_the_known_ones():
    with pytest.raises(WeightsError, match="unknown weights 'nope'") as info:
        load_registry().entry("nope")
    assert "dstnet-gopro" in info.value.hint and "did you mean" not in info.value.hint
    with pytest.raises(WeightsError, match="unknown weights 'dstnet-gopr'") as info:
        load_registry().entry("dstnet-gopr")
    assert info.value.hint.startswith("did you mean 'dstnet-gopro'? known weights: dstnet-gopro, ")
    with pytest.raises(WeightsError, match="no weights are registered for model 'nope'"):
        load_registry().candidates("nope")
    with pytest.raises(WeightsError, match="unknown weights 'dstnet'") as info:
        load_registry().entry("dstnet")  # a model's name, not its weights'
    assert info.value.hint.startswith("dstnet is a model: its weights are dstnet-gopro (")


def test_download_weights_of_an_entry_not_published_yet_says_so(monkeypatch):
    """`deblur download-weights wtsa`: weights.toml lists it, with no file yet (no checksum, nothing bundled)."""
    from typer.testing import CliRunner

    import deblur_cli.cli.weights  # noqa: F401 - registers the command
    from deblur_cli.cli import app

    result = CliRunner().invoke(app, ["download-weights", "wtsa"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: wtsa: no weights are published yet, so there is nothing to download"
    hint = result.stderr.splitlines()[1]  # download-weights itself takes no --weights
    assert "deblur models" in hint and "run, evaluate and bench take weights of your own with --weights" in hint


def test_a_valid_entry_of_each_source_parses():
    text = (
        entry_toml()
        + entry_toml(
            source='"hf"', url=None, repo_id='"me/models"', filename='"sub/w.safetensors"', revision=f'"{COMMIT}"'
        ).replace("[x]", "[y]")
        + entry_toml(
            source='"bundled"', url=None, checksum=None, path='"weights/bundled/z.safetensors"'
        ).replace("[x]", "[z]")
        + '[defaults]\ndstnet = ["y", "x"]\ndstnet-s = "z"\n'
    )
    registry = parse_registry(text)
    assert registry.entry("x").source.filename == "x.safetensors"
    assert registry.entry("y").source.filename == "sub/w.safetensors"
    assert registry.entry("z").checksum is None
    assert [e.name for e in registry.candidates("dstnet")] == ["y", "x"]
    assert registry.models_using("z") == ("dstnet-s",)


@pytest.mark.parametrize(
    "fields, message",
    [
        # nothing from the file may point outside the cache or the package
        ({"filename": '"../evil.pth"'}, "not a plain relative file name"),
        ({"filename": '"a/b.pth"'}, "not a plain relative file name"),
        ({"filename": '"/etc/passwd"'}, "not a plain relative file name"),
        ({"filename": '"..\\\\evil.pth"'}, "not a plain relative file name"),
        ({"url": '"https://example.org/%2e%2e%2fevil.pth"'}, "not a plain relative file name"),
        ({"url": '"https://example.org/.hidden"'}, "not a plain relative file name"),
        ({"source": '"hf"', "url": None, "repo_id": '"a/b"', "filename": '"x/../../y"', "revision": f'"{COMMIT}"'},
         "not a plain relative file name"),
        ({"source": '"hf"', "url": None, "repo_id": '"a/b"', "filename": '"/abs"', "revision": f'"{COMMIT}"'},
         "not a plain relative file name"),
        ({"source": '"bundled"', "url": None, "path": '"weights/bundled/../../../x.safetensors"'},
         "not a plain relative file name"),
        ({"source": '"bundled"', "url": None, "path": '"cli/app.safetensors"'}, "under weights/bundled/"),
        ({"source": '"bundled"', "url": None, "path": '"weights/bundled/x.pth"'}, "under weights/bundled/"),
        # pinning
        ({"source": '"hf"', "url": None, "repo_id": '"a/b"', "filename": '"x"', "revision": '"main"'}, "40-hex"),
        ({"source": '"hf"', "url": None, "repo_id": '"../b"', "filename": '"x"', "revision": f'"{COMMIT}"'},
         "owner/name"),
        ({"checksum": None}, "checksum: missing"),
        ({"checksum": '"md5:abc"'}, "checksum must start with"),
        ({"checksum": '"sha256:ABC"'}, "64 lowercase hex"),
        ({"url": '"ftp://example.org/x.pth"'}, "http"),
        # schema
        ({"size": "-1"}, "positive"),
        ({"size": "true"}, "expected an integer"),
        ({"size": '"12"'}, "expected an integer"),
        ({"licence": None}, "licence: missing"),
        ({"licence": '"  "'}, "licence: empty"),
        ({"colour": '"blue"'}, "unknown field"),
        ({"source": '"ftp"'}, "must be 'url', 'hf' or 'bundled'"),
        ({"config": "{ feat = [1] }"}, "config.feat"),
        # a typo was taken, skipped by the conversion's check and silenced run's warning of another size
        ({"config": "{ feat = 8, block = 15 }"}, r"config.block: unknown \(dstnet configs take feat, blocks\)"),
        ({"architecture": '"wtsa"', "config": "{ channels = 8 }"}, r"config.channels: unknown \(wtsa entries state none\)"),
        ({"quality": '{ dataset = "d", psnr = "high", reference = "r" }'}, "psnr: expected a number"),
    ],
)
def test_invalid_entries_are_refused_naming_the_field(fields, message):
    with pytest.raises(WeightsError, match=message) as info:
        parse_registry(entry_toml(**fields), origin="t.toml")
    assert str(info.value).startswith("t.toml: [x]")


def test_the_config_fields_an_entry_may_state_are_the_models():
    from dataclasses import fields

    from deblur_cli.models.dstnet import DSTNetConfig
    from deblur_cli.weights.registry import CONFIG_FIELDS

    assert CONFIG_FIELDS["dstnet"] == tuple(field.name for field in fields(DSTNetConfig))


@pytest.mark.parametrize(
    "text, message",
    [
        ('[Bad-Name]\nx = 1\n', "names are lowercase"),
        ('["../up"]\nx = 1\n', "names are lowercase"),  # an entry name is a cache folder name
        ('x = 1\n', "expected a table"),
        ("[defaults]\ndstnet = \"nope\"\n", "no entry named 'nope'"),
        ("[defaults]\ndstnet = []\n", "non-empty list"),
        ("[x\n", "not valid TOML"),
    ],
)
def test_invalid_files_are_refused(text, message):
    with pytest.raises(WeightsError, match=message):
        parse_registry(text)


def test_defaults_cannot_mix_architectures():
    text = entry_toml() + entry_toml(architecture='"wtsa"').replace("[x]", "[y]") + '[defaults]\nm = ["x", "y"]\n'
    with pytest.raises(WeightsError, match="different architectures"):
        parse_registry(text)


def test_git_blob_id_matches_git(tmp_path):
    content = bytes(range(256)) * 41 + b"tail"
    path = tmp_path / "w.pth"
    path.write_bytes(content)
    expected = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
    assert file_digest(path, "git-blob-sha1") == expected
    if shutil.which("git"):  # an independent implementation of the same id
        git = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True)
        assert git.stdout.strip() == expected
    assert mismatch(path, Checksum("git-blob-sha1", expected)) is None
    path.write_bytes(content[:-1] + b"!")
    assert "expected " + expected in mismatch(path, Checksum("git-blob-sha1", expected))


def test_mismatch_checks_size_before_digest(tmp_path):
    path = tmp_path / "w"
    path.write_bytes(b"abc")
    good = Checksum("sha256", hashlib.sha256(b"abc").hexdigest())
    assert mismatch(path, good, 3) is None
    assert mismatch(path, good, 4) == "has 3 bytes, expected 4"
    assert mismatch(path, Checksum("sha256", SHA)).startswith("has sha256 ba7816bf")


def test_pin_prints_fields_that_verify_the_file(tmp_path):
    torch = pytest.importorskip("torch")
    from deblur_cli.checkpoint import save_checkpoint
    from deblur_cli.weights.pin import main, pin_fields, to_toml

    path = tmp_path / "tiny.safetensors"
    save_checkpoint({"w": torch.arange(6.0)}, path, architecture="dstnet", config={"feat": 8, "blocks": 1})
    fields = pin_fields(path)
    text = '[tiny]\ndescription = "d"\nlicence = "MIT"\ntraining_data = "t"\n' + to_toml(fields)
    entry = parse_registry(text).entry("tiny")
    assert entry.source.path == "weights/bundled/tiny.safetensors"
    assert (entry.architecture, dict(entry.config)) == ("dstnet", {"feat": 8, "blocks": 1})
    assert entry.size == path.stat().st_size
    assert mismatch(path, entry.checksum, entry.size) is None
    assert main([str(path)]) == 0
    # a nested config (a WTSA file's) stays in the file's metadata: weights.toml tables are flat
    nested = tmp_path / "nested.safetensors"
    save_checkpoint({"w": torch.arange(6.0)}, nested, architecture="wtsa", config={"model": {"channels": [8, 16]}})
    entry = parse_registry('[n]\ndescription = "d"\nlicence = "MIT"\ntraining_data = "t"\n' + to_toml(pin_fields(nested))).entry("n")
    assert entry.architecture == "wtsa" and dict(entry.config) == {}


def test_weights_that_cannot_be_used_say_what_to_do(tmp_path):
    """Found in review: these errors had no hint line."""
    from deblur_cli.checkpoint import read_checkpoint
    from deblur_cli.weights import resolve_weights

    (tmp_path / "bad.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}")  # a header length past the file
    calls = [
        (lambda: read_checkpoint(tmp_path / "bad.safetensors"), "cannot read weights file", "damaged or not a"),
        (lambda: resolve_weights("dstnet", weights=str(tmp_path)), "not a file", "`deblur models`"),
        (lambda: resolve_weights("dstnet", weights="wtsa-s"), "wtsa weights cannot load into model dstnet", "--model wtsa"),
    ]
    for call, message, hint in calls:
        with pytest.raises(WeightsError, match=message) as info:
            call()
        assert hint in (info.value.hint or ""), (message, info.value.hint)
