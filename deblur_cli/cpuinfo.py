"""What Linux's /proc/cpuinfo says about the CPU, read without torch: the `deblur` command decides
its huge-page setting from it before anything imports torch (launch.py)."""

from __future__ import annotations

import functools
from pathlib import Path


_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _words(cpuinfo: Path) -> set[str] | None:
    """The words of Linux's cpuinfo (its flags among them); None where it cannot be read."""
    try:
        return set(cpuinfo.read_text(errors="replace").split())
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def cpu_runs_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has bf16 instructions: the avx512_bf16 or amx_bf16 flag in Linux's cpuinfo.
    False where that cannot be read (other systems): fp32 is never the slow choice."""
    words = _words(cpuinfo)
    return words is not None and any(flag in words for flag in _BF16_FLAGS)


@functools.lru_cache(maxsize=1)
def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has AMX's bf16 tiles (the amx_bf16 flag: Intel Xeon since Sapphire Rapids)."""
    words = _words(cpuinfo)
    return words is not None and "amx_bf16" in words


@functools.lru_cache(maxsize=1)
def cpu_emulates_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU is known to lack bf16 instructions: an x86 CPU (sse2 among its flags) with neither
    flag. False where that cannot be told: other systems, and Arm, whose cpuinfo names features otherwise."""
    words = _words(cpuinfo)
    return words is not None and "sse2" in words and not any(flag in words for flag in _BF16_FLAGS)
