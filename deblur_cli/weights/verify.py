"""Checksums of weight files: sha256, or a git blob id for files published in a git repository.

A git blob id is sha1(b"blob <size>\\0" + content): the id git gives a file, so the id a repository
shows for a checkpoint verifies the downloaded bytes (and their length) without trusting the server.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20
_HEX = {"sha256": 64, "git-blob-sha1": 40}


@dataclass(frozen=True)
class Checksum:
    """An expected digest, written `<algorithm>:<hex>` in weights.toml."""

    algorithm: str  # "sha256" or "git-blob-sha1"
    digest: str  # lowercase hex

    @classmethod
    def parse(cls, text: str) -> Checksum:
        """`sha256:<64 hex>` or `git-blob-sha1:<40 hex>`; ValueError otherwise."""
        algorithm, sep, digest = text.partition(":")
        if not sep or algorithm not in _HEX:
            raise ValueError(f"checksum must start with one of {', '.join(f'{a}:' for a in _HEX)}")
        if not re.fullmatch(f"[0-9a-f]{{{_HEX[algorithm]}}}", digest):
            raise ValueError(f"{algorithm} digest must be {_HEX[algorithm]} lowercase hex digits")
        return cls(algorithm, digest)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.digest}"


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file's bytes under `algorithm` ("sha256" or "git-blob-sha1"), read in chunks."""
    if algorithm == "sha256":
        h = hashlib.sha256()
    elif algorithm == "git-blob-sha1":
        h = hashlib.sha1()
        h.update(b"blob %d\0" % path.stat().st_size)
    else:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def mismatch(path: Path, checksum: Checksum, size: int | None = None) -> str | None:
    """Why a file does not match its size (when known) and checksum, or None when it matches."""
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        return f"has {actual_size} bytes, expected {size}"
    actual = file_digest(path, checksum.algorithm)
    if actual != checksum.digest:
        return f"has {checksum.algorithm} {actual}, expected {checksum.digest}"
    return None
