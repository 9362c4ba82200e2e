"""The docs name every command and option the CLI has, so they cannot silently drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from deblur_cli.cli import app

ROOT = Path(__file__).resolve().parents[1]


def commands() -> dict:
    group = typer.main.get_command(app)
    return dict(group.commands)


def test_cli_reference_names_every_command_and_option():
    text = (ROOT / "docs" / "cli.md").read_text()
    found = commands()
    assert {"run", "demo", "models", "download-weights", "bench"} <= set(found)
    for name, command in found.items():
        assert f"## deblur {name}" in text, name
        for param in command.params:
            if param.param_type_name == "option":  # Typer vendors its own Click: no isinstance
                longest = max(param.opts, key=len)
                if longest != "--help":
                    assert re.search(rf"{re.escape(longest)}(?![\w-])", text), (name, longest)


def test_readme_quick_start_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'python -m pip install torch==2.13.0 -e ".[dev]"' in readme
    assert 'python -m pip install -q torch==2.13.0 -e ".[dev]"' in ci
    assert "python -m pytest" in readme and "python -m pytest" in ci
