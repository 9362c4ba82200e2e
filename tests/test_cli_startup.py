"""The command line answers --help, --version and mistakes in its arguments or inputs without importing
torch, which takes seconds: each case runs in a fresh interpreter that reports what it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.media import make_video

# Runs the commands in-process through Typer's runner, then prints each exit code and first output
# line, and whether torch was imported.
SCRIPT = """
import json, sys
from typer.testing import CliRunner
from deblur_cli.cli import app

results = []
for args in json.loads(sys.argv[1]):
    result = CliRunner().invoke(app, args)
    lines = result.output.strip().splitlines()
    results.append([result.exit_code, lines[0] if lines else ""])
print(json.dumps({"results": results, "torch": "torch" in sys.modules}))
"""


def _invoke(*commands: list[str], cwd) -> tuple[list[tuple[int, str]], bool]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(commands)], capture_output=True, text=True, cwd=cwd, check=True
    )
    report = json.loads(done.stdout.splitlines()[-1])
    return [tuple(r) for r in report["results"]], report["torch"]


def test_help_and_argument_errors_do_not_import_torch(tmp_path):
    (tmp_path / "notes.txt").write_text("not a video")
    make_video(tmp_path / "clip.mp4", frames=2, size=(32, 32))
    results, imported = _invoke(
        ["--help"],
        ["--version"],
        ["run", "--help"],
        ["evaluate", "--help"],
        ["train", "--help"],
        ["run", "missing.mp4", "-o", "out.mp4"],
        ["run", "notes.txt", "-o", "out.mp4"],
        ["run", "missing.mp4", "-o", "out.mp4", "--start", "soon"],
        ["evaluate", "no-such-dataset"],
        ["demo", "--size", "wide"],
        ["train"],
        ["info", "clip.mp4"],
        cwd=tmp_path,
    )
    codes = [code for code, _ in results]
    assert codes == [0, 0, 0, 0, 0, 1, 1, 2, 1, 2, 2, 0], results
    assert "missing.mp4" in results[5][1] and "notes.txt" in results[6][1]
    assert not imported


@pytest.mark.parametrize("command", [["run", "clip.mp4", "-o", "out.mp4"], ["models"]])
def test_commands_that_restore_import_torch(tmp_path, command):
    """The control: the check above would see torch had a command imported it."""
    make_video(tmp_path / "clip.mp4", frames=2, size=(32, 32))
    results, imported = _invoke(command + ["--help"], command, cwd=tmp_path)
    assert results[1][0] == 0, results
    assert imported


def _python(code: str, cwd, **env) -> subprocess.CompletedProcess:
    import os

    environ = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=environ)


def test_importing_the_package_runs_nothing_and_leaves_the_environment_alone(tmp_path):
    done = _python(
        "import os, deblur_cli.__main__, deblur_cli.cli; print(os.environ.get('THP_MEM_ALLOC_ENABLE'))", tmp_path
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "None\n", "")
    # the command sets it for itself, before torch can read it, on CPUs with AMX (huge pages cost more than
    # they saved on EPYCs, with AVX2 only in float32 and with AVX512-BF16 in bf16)
    for amx, expected in ((True, "1"), (False, "None")):
        command = f"import os, sys; import deblur_cli.launch as launch; launch.cpu_has_amx = lambda: {amx}\n"
        command += "sys.argv = ['deblur', '--version']\n"
        command += "try:\n    launch.main()\nexcept SystemExit:\n    print(os.environ.get('THP_MEM_ALLOC_ENABLE'))"
        assert _python(command, tmp_path).stdout.splitlines()[-1] == expected


def test_an_installation_without_torch_says_so_in_one_line(tmp_path):
    # sys.modules["torch"] = None makes `import torch` fail as if torch were not installed
    code = "import sys; sys.modules['torch'] = None; from deblur_cli.launch import main; sys.argv = ['deblur', 'models']; main()"
    done = _python(code, tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == ["error: deblur needs torch, which is not installed", "hint: pip install torch"]


def test_ctrl_c_while_the_command_is_built_is_interrupted_not_a_traceback(tmp_path):
    """A second Ctrl-C in the first half second landed while Typer built the command, outside every
    command's error handling: a traceback, and the process killed by SIGINT."""
    code = (
        "import deblur_cli.cli\n"
        "def building():\n    raise KeyboardInterrupt\n"
        "deblur_cli.cli.main = building\n"
        "from deblur_cli.launch import main; main()"
    )
    done = _python(code, tmp_path)
    assert (done.returncode, done.stderr) == (130, "interrupted\n")


def test_ctrl_c_or_a_missing_dependency_while_a_commands_module_loads_is_one_line(tmp_path):
    """Found in review: a command's module is imported when the command is looked up, inside Typer's own main, which
    took Ctrl-C there (the longest part of the start) for a silent exit 130; a missing NumPy was a traceback."""
    interrupt = (
        "import importlib, sys\n"
        "real = importlib.import_module\n"
        "def loading(name, *args, **kwargs):\n"
        "    if name == 'deblur_cli.cli.info':\n        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "importlib.import_module = loading\n"
        "sys.argv = ['deblur', 'info', 'clip.mp4']\n"
        "from deblur_cli.launch import main; main()"
    )
    done = _python(interrupt, tmp_path)
    assert (done.returncode, done.stderr) == (130, "interrupted\n")
    numpy_gone = "import sys; sys.modules['numpy'] = None; sys.argv = ['deblur', 'info', 'x']"
    done = _python(numpy_gone + "; from deblur_cli.launch import main; main()", tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == ["error: deblur needs numpy, which is not installed", "hint: pip install numpy"]


def test_a_pyav_that_is_installed_but_fails_to_import_is_told_as_such(tmp_path):
    """Found in review: a PyAV whose FFmpeg libraries do not load was told "not installed", hint `pip install av`,
    which pip answers with "already satisfied"."""
    (tmp_path / "av").mkdir()  # found first: `python -c` puts its working folder first on sys.path
    (tmp_path / "av" / "__init__.py").write_text(
        "raise ImportError('libavformat.so.61: cannot open shared object file: No such file or directory')\n"
    )
    done = _python(
        "import sys; sys.argv = ['deblur', 'info', 'clip.mp4']; from deblur_cli.launch import main; main()", tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "error: deblur info needs PyAV (the av package), which fails to import: libavformat.so.61: cannot open shared "
        "object file: No such file or directory",
        "hint: pip install --force-reinstall av",
    ]
    # and --version, the line a bug report is asked for, says so where the FFmpeg release would be
    version = "import sys; sys.argv = ['deblur', '--version']; from deblur_cli.launch import main; main()"
    done = _python(version, tmp_path)
    assert done.returncode == 0, done.stderr
    assert ", PyAV " in done.stdout and " (which fails to import: libavformat.so.61: cannot open shared" in done.stdout


@pytest.mark.skipif(sys.platform == "win32" or not os.path.exists("/dev/full"), reason="a POSIX shell and /dev/full")
def test_an_output_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path):
    import shlex

    launch = shlex.quote("import sys; sys.argv = ['deblur'] + sys.argv[1:]; from deblur_cli.launch import main; main()")
    command = f"{shlex.quote(sys.executable)} -c {launch}"
    closed = subprocess.run(f"{command} --version >&-", shell=True, capture_output=True, text=True, cwd=tmp_path)
    assert (closed.returncode, closed.stderr) == (0, "")  # stdout closed: nothing to say it to, nothing wrong
    for args in ("--version", "--help"):
        full = subprocess.run(f"{command} {args} >/dev/full", shell=True, capture_output=True, text=True, cwd=tmp_path)
        assert full.returncode == 1 and full.stderr == "error: cannot write the output: No space left on device\n"
    # a command's results to a full stdout: said to be stdout's, not taken for a file's full disk (docs52)
    make_video(tmp_path / "clip.mp4", frames=2, size=(32, 32))
    full = subprocess.run(f"{command} info clip.mp4 --json >/dev/full", shell=True, capture_output=True, text=True,
                          cwd=tmp_path)  # fmt: skip
    assert full.returncode == 1 and full.stderr.splitlines() == [
        "error: cannot write to stdout: No space left on device",
        "hint: stdout leads to a full disk or a device that takes nothing: send it elsewhere (what the command wrote"
        " to files is not affected)",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell")
def test_a_reader_that_goes_away_does_not_fail_the_command(tmp_path):
    """`deblur ... | head`: the reader leaves before deblur writes; the command carries on and exits 0,
    with no complaint about the broken pipe (a run's output file is its work, not what it prints)."""
    import shlex

    make_video(tmp_path / "clip.mp4", frames=2, size=(32, 32))
    launch = shlex.quote("import sys; sys.argv = ['deblur'] + sys.argv[1:]; from deblur_cli.launch import main; main()")
    command = f"{shlex.quote(sys.executable)} -c {launch}"
    for args in ("models", "info clip.mp4", "info clip.mp4 --json"):
        script = f"{command} {args} 2>&1 | head -c 0; echo ${{PIPESTATUS[0]}}"
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path)
        assert (done.stdout, done.stderr) == ("0\n", ""), args


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell")
def test_a_reader_going_away_under_a_progress_display_does_not_fail_the_command(tmp_path):
    """While rich draws a progress display on a terminal it puts a proxy in sys.stdout; results printed
    then must still meet a broken pipe in deblur's own stream, not fail the command in the proxy."""
    import shlex

    script = (
        "import sys, importlib; importlib.import_module('deblur_cli.cli.app').err._force_terminal = True\n"
        "sys.argv = ['deblur', 'download-weights', 'dstnet-s', 'wtsa-s']\n"
        "from deblur_cli.launch import main; main()"
    )
    shell = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} 2>err.txt | head -c 0; echo ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout == "0\n", (tmp_path / "err.txt").read_text()
    assert "wtsa-s: bundled with deblur" in (tmp_path / "err.txt").read_text()  # it went on to the second name


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_no_color_leaves_no_styling_on_a_terminal(tmp_path):
    """With NO_COLOR set, "error:" lost its colour but "hint:" stayed dim: an escape code on a terminal."""
    import pty

    def on_a_terminal(**env) -> str:
        leader, follower = pty.openpty()
        environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm", **env}
        command = "import sys; sys.argv = ['deblur', 'run', 'missing.mp4']; from deblur_cli.launch import main; main()"
        done = subprocess.run([sys.executable, "-c", command], stdout=follower, stderr=follower, cwd=tmp_path, env=environ)
        os.close(follower)
        said = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            said += chunk
        os.close(leader)
        assert done.returncode == 1
        return said.decode()

    plain = on_a_terminal(NO_COLOR="1")
    assert "hint:" in plain and "\x1b[" not in plain, repr(plain)
    assert "\x1b[" in on_a_terminal()  # the same terminal without NO_COLOR is styled: the check can fail


# Runs the console script's entry point, then prints its exit code and which command modules (and whether
# PyAV and NumPy) it imported.
LAUNCH = """
import json, sys
sys.argv = ['deblur', *json.loads(sys.argv[1])]
from deblur_cli.launch import main
try:
    main()
    code = 0
except SystemExit as e:
    code = e.code or 0
named = [m for m in sys.modules if m.startswith('deblur_cli.cli.') or m in ('av', 'numpy')]
print(json.dumps([code, named]))
"""
COMMAND_MODULES = {f"deblur_cli.cli.{name}" for name in "run info demo weights bench evaluate synth train".split()}


def _launched(*args: str, cwd) -> tuple[int, set[str], str]:
    done = subprocess.run([sys.executable, "-c", LAUNCH, json.dumps(args)], capture_output=True, text=True, cwd=cwd)
    code, named = json.loads(done.stdout.splitlines()[-1])
    return code, set(named), done.stderr


def test_help_and_version_import_no_command_and_a_command_only_its_own(tmp_path):
    """The command modules import PyAV, NumPy and the weights code, and Typer reads each command's signature:
    half of what `deblur --help` took to start. Each is imported when its command is looked up."""
    make_video(tmp_path / "clip.mp4", frames=2, size=(32, 32))
    code, imported, _ = _launched("--help", cwd=tmp_path)
    assert code == 0 and not imported & (COMMAND_MODULES | {"av", "numpy"}), imported
    code, imported, _ = _launched("--version", cwd=tmp_path)
    assert code == 0 and not imported & (COMMAND_MODULES | {"numpy"}), imported  # PyAV names FFmpeg's release
    code, imported, said = _launched("rn", cwd=tmp_path)
    assert code == 2 and "did you mean 'run'?" in said.lower() and not imported & COMMAND_MODULES, (said, imported)
    others = COMMAND_MODULES - {"deblur_cli.cli.run", "deblur_cli.cli.weights"}  # run shows the weights it builds
    code, imported, _ = _launched("run", "--help", cwd=tmp_path)
    assert code == 0 and "deblur_cli.cli.run" in imported and not imported & others, imported
    others = COMMAND_MODULES - {"deblur_cli.cli.info", "deblur_cli.cli.weights"}
    code, imported, _ = _launched("info", "clip.mp4", cwd=tmp_path)
    assert code == 0 and "deblur_cli.cli.info" in imported and not imported & others, imported
