"""What Linux's /proc/cpuinfo says about the CPU, read without torch: the `deblur` command decides
its huge-page setting from it before anything imports torch (launch.py)."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.lru_cache(maxsize=1)
def cpu_runs_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has bf16 instructions: the avx512_bf16 or amx_bf16 flag in Linux's cpuinfo.
    False where that cannot be read (other systems): fp32 is never the slow choice."""
    try:
        flags = cpuinfo.read_text(errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
