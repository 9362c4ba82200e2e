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


def test_constants_the_docs_name_are_in_the_modules_named():
    """training.md and wtsa.md sent readers to `train.RESIDUAL_SCALE`, which is in train_tasks.py."""
    package = ROOT / "deblur_cli"
    modules = {path.relative_to(package).with_suffix("").as_posix() for path in package.rglob("*.py")}
    named = [
        (doc.name, module, constant)
        for doc in sorted((ROOT / "docs").glob("*.md"))
        for module, constant in re.findall(r"`(?:deblur_cli\.)?([a-z_][a-z_.]*)\.([A-Z][A-Z0-9_]*)`", doc.read_text())
    ]
    assert named  # the pattern finds what the docs write, `motion.DRIFT_HORIZON`
    for doc, module, constant in named:
        # `motion` is deblur_cli/data/motion.py: a module named by the end of its path
        files = [name for name in modules if f"/{name}".endswith("/" + module.replace(".", "/"))]
        assert files, (doc, module)
        defined = rf"^{constant}\b[^=\n]*="  # an assignment at the top level, annotated or not
        assert any(re.search(defined, (package / f"{f}.py").read_text(), re.M) for f in files), (doc, module, constant)


def test_functions_the_docs_name_are_in_the_modules_named():
    """wtsa.md measured with `train._load_prior(...)`, which is in train_tasks.py."""
    package = ROOT / "deblur_cli"
    modules = {path.relative_to(package).with_suffix("").as_posix() for path in package.rglob("*.py")}
    named = [
        (doc.name, module, name)
        for doc in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
        for module, name in re.findall(r"`(?:deblur_cli\.)?([a-z_][a-z_./]*)\.([a-z_][a-z0-9_]*)\b", doc.read_text())
        if name not in ("py", "toml", "json", "txt")  # a file, `video_io/yuv.py`
    ]
    checked = 0
    for doc, module, name in named:
        files = [f for f in modules if f"/{f}".endswith("/" + module.replace(".", "/"))]
        if files:  # `model.restore_iter`, `torch.lerp`: not one of deblur's modules
            defined = rf"^\s*(?:def|class) {name}\b|^{name}\b[^=\n]*="
            assert any(re.search(defined, (package / f"{f}.py").read_text(), re.M) for f in files), (doc, module, name)
            checked += 1
    assert checked > 5  # the pattern finds what the docs write, `stream.restore_stream`


def test_readme_quick_start_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'python -m pip install torch==2.13.0 -e ".[dev]"' in readme
    assert 'python -m pip install -q torch==2.13.0 -e ".[dev]"' in ci
    assert "python -m pytest" in readme and "python -m pytest" in ci


def _run_table() -> dict[str, tuple[str, str]]:
    """cli.md's table of `deblur run`'s options: each option name -> (its value's name, the default column)."""
    section = (ROOT / "docs" / "cli.md").read_text().split("## deblur run", 1)[1]
    lines = section[section.index("| option | default | meaning |") :].splitlines()[2:]
    table = {}
    for line in lines:
        if not line.startswith("|"):
            break
        names, default = (cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:3])
        for name in re.findall(r"`([^`]+)`", names):
            words = name.replace("\\|", "|").replace(",", "").split()
            value = words[-1] if not words[-1].startswith("-") else ""
            table.update({word: (value, default.strip("`")) for word in words if word.startswith("-")})
    return table


def test_cli_reference_run_table_has_each_option_with_its_value_name_and_default():
    """The table drifted from --help once (value names); a default changed in code must change the table too."""
    table = _run_table()
    for param in commands()["run"].params:
        if param.param_type_name != "option":
            continue
        for name in [*param.opts, *param.secondary_opts]:
            assert name in table, name
        value, default = table[param.opts[0]]
        if param.metavar and "|" not in value:
            assert value == param.metavar, (param.opts[0], value)
        if param.is_flag:
            assert default == ("on" if param.default else "off"), (param.opts[0], default)
        elif param.default is not None:
            expected = f"{param.default:g}" if isinstance(param.default, float) else str(param.default)
            assert default == expected, (param.opts[0], default, expected)


def _anchors(path: Path) -> set[str]:
    """The #anchors GitHub gives a Markdown file's headings: lowercase, punctuation dropped, spaces as hyphens."""
    found, seen = set(), {}
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_relative_links_and_anchors_in_the_docs_resolve():
    """Moving a section (models.md's stage history, cli.md's Common tasks) must not leave a link behind."""
    checked = 0
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = re.sub(r"`[^`\n]*`", "", re.sub(r"^```.*?^```", "", doc.read_text(), flags=re.S | re.M))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            assert dest.exists(), (doc.name, target)
            if anchor and dest.suffix == ".md":
                assert anchor in _anchors(dest), (doc.name, target)
            checked += 1
    assert checked > 100  # the pattern finds what the docs write, [models.md](models.md#at-a-glance)
