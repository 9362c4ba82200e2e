"""Maintainer helper: the weights.toml fields that pin a bundled safetensors file.

    python -m deblur_cli.weights.pin deblur_cli/weights/bundled/dstnet-s.safetensors

prints `source`, `path`, `checksum`, `size`, `architecture` and `config` (the last two from the file's
metadata; `config` only when it is flat, as weights.toml's tables are: a WTSA file's nested config stays
in its metadata alone) to paste into the entry's table; description, licence, training data and quality are
for the person who trained the weights to write.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deblur_cli.errors import DeblurError
from deblur_cli.weights.cache import package_root
from deblur_cli.weights.registry import BUNDLED_DIR
from deblur_cli.weights.verify import Checksum, file_digest


def pin_fields(path: str | Path) -> dict:
    """The pinning fields of a safetensors file, as a dict in weights.toml order."""
    from deblur_cli.checkpoint import ARCH_KEY, CONFIG_KEY, read_metadata

    path = Path(path)
    metadata = read_metadata(path)
    if ARCH_KEY not in metadata or CONFIG_KEY not in metadata:
        raise DeblurError(f"{path} has no architecture/config metadata", hint="save it with checkpoint.save_checkpoint")
    fields = {
        "source": "bundled",
        "path": f"{BUNDLED_DIR}/{path.name}",
        "checksum": str(Checksum("sha256", file_digest(path, "sha256"))),
        "size": path.stat().st_size,
        "architecture": metadata[ARCH_KEY],
    }
    config = json.loads(metadata[CONFIG_KEY])
    if isinstance(config, dict) and all(isinstance(v, (str, int, float, bool)) for v in config.values()):
        fields["config"] = config
    return fields


def to_toml(fields: dict) -> str:
    """TOML lines for flat fields whose values are strings, numbers, booleans or flat tables of them."""
    return "".join(f"{key} = {_value(value)}\n" for key, value in fields.items())


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as a weights.toml value")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deblur_cli.weights.pin", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="a .safetensors file written by deblur")
    args = parser.parse_args(argv)
    expected = package_root() / BUNDLED_DIR / args.file.name
    try:
        text = to_toml(pin_fields(args.file))
    except DeblurError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(text, end="")
    if args.file.resolve() != expected.resolve():
        print(f"note: the package expects the file at {expected}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
