"""A source cache's `manifest.json`: what each photo and video is and where it came from (package,
original file, licence, checksum). `deblur synth --fetch` writes the packages' entries; `--add` those of
one's own material, under a source named OWN_PREFIX + the added folder's name, which a later fetch keeps."""

from __future__ import annotations

import json
from pathlib import Path

from deblur_cli.errors import InputError
from deblur_cli.files import write_bytes

MANIFEST = "manifest.json"
OWN_PREFIX = "own-"


def read_manifest(cache: str | Path) -> list[dict]:
    """The cache's entries; none where it has no manifest yet."""
    path = Path(cache) / MANIFEST
    try:
        entries = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}", hint="fetch the sources again (deblur synth --fetch)") from None
    if not isinstance(entries, list):
        raise InputError(
            f"{path} is not a source cache's manifest", hint="fetch the sources again (deblur synth --fetch)"
        )
    return entries


def own_entries(cache: str | Path) -> list[dict]:
    """The entries of material added with `deblur synth --add`."""
    return [e for e in read_manifest(cache) if str(e.get("source", "")).startswith(OWN_PREFIX)]


def write_manifest(cache: str | Path, entries: list[dict]) -> None:
    """Replace the manifest with `entries`, atomically."""
    path = Path(cache) / MANIFEST
    write_bytes(path, json.dumps(entries, indent=1).encode())
