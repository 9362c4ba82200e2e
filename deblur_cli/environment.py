"""What a figure was measured with, for the JSON of `evaluate` and `bench` and for `deblur --version`: the
releases of Python and the libraries that make the numbers, and the processors that ran them. Reads the
installed packages' metadata (no torch import); PyAV is imported for its FFmpeg's version, torch only
where a GPU is to be named."""

from __future__ import annotations

import functools
import platform
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from deblur_cli import __version__


def software(*, loaded: bool = True) -> dict[str, str | None]:
    """deblur's, Python's, torch's, PyAV's (and its FFmpeg's) and NumPy's releases; None where not installed.
    `loaded`: a torch already imported names its own version (build included), else the installed package's."""

    def release(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    ffmpeg, _ = ffmpeg_release()
    # a loaded torch names its build too (2.3.1+cu121), where the package's metadata may not (2.3.1)
    torch = sys.modules.get("torch") if loaded else None
    return {
        "deblur": __version__,
        "deblur_commit": checkout_commit(),
        "python": platform.python_version(),
        "torch": getattr(torch, "__version__", None) or release("torch"),
        "av": release("av"),
        "ffmpeg": ffmpeg,
        "numpy": release("numpy"),
    }


@functools.cache
def checkout_commit() -> str | None:
    """The commit (12 hex digits) of the git checkout deblur runs from, as an editable install does: the version
    stays 0.1.0 from commit to commit, the commit tells them apart. None for an installed release."""
    return commit_of(Path(__file__).parent)


def commit_of(package: Path) -> str | None:
    """The commit of the checkout that holds the folder `package`, read from its .git without running git (which
    may not be installed); None without one, or with a .git that cannot be read."""
    git = package.parent / ".git"
    try:
        if git.is_file():  # a worktree's: "gitdir: PATH", and its refs in the common folder
            git = (package.parent / git.read_text().partition("gitdir:")[2].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):  # a detached head names its commit
            return head[:12] or None
        ref = head[4:].strip()
        common = (git / (git / "commondir").read_text().strip()).resolve() if (git / "commondir").is_file() else git
        if (common / ref).is_file():
            return (common / ref).read_text().strip()[:12] or None
        for line in (common / "packed-refs").read_text().splitlines():  # refs git gc packed into one file
            commit, _, name = line.partition(" ")
            if name.strip() == ref:
                return commit[:12]
    except OSError:
        return None
    return None


@functools.cache
def ffmpeg_release() -> tuple[str | None, str | None]:
    """PyAV's FFmpeg release, and None; or None and why PyAV fails to import where it is installed (a wheel whose
    FFmpeg libraries do not load), which a bug report needs more than the release its metadata names; or two
    Nones where it is not installed."""
    try:
        import av
    except ImportError as e:
        try:
            metadata.version("av")
        except metadata.PackageNotFoundError:
            return None, None
        return None, str(e) or type(e).__name__
    return str(av.ffmpeg_version_info), None


def environment(devices: Iterable[str] = ()) -> dict:
    """software(), the system, the CPU's model and each CUDA device of `devices` ("cuda:0") by name."""
    gpus = {}
    for device in sorted(set(devices)):
        if device.startswith("cuda") and "torch" in sys.modules:  # a CUDA device named: torch is loaded
            import torch

            gpus[device] = torch.cuda.get_device_name(torch.device(device))
    return {
        **software(),
        "system": f"{platform.system()} {platform.machine()}",
        "cpu": _cpu_model() or platform.processor() or None,
        **({"gpus": gpus} if gpus else {}),
    }


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name as Linux's cpuinfo gives it; None elsewhere."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("model name", "Model") and value.strip():
            return value.strip()
    return None
