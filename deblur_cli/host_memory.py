"""How much of the computer's memory a new allocation can use now, on Linux, Windows and macOS.

Each probe answers for its own platform, or None: Linux's MemAvailable (which counts the page cache
the kernel would give back), Windows' GlobalMemoryStatusEx, then sysconf's available pages (some
Unix systems) or, where sysconf has no count of them (macOS), half the physical memory. Where no
probe answers, a guess: the out-of-memory retries of `deblur run` correct a guess that is too high.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

MEMINFO = Path("/proc/meminfo")
GUESS_BYTES = 4 * 2**30  # when nothing can be asked: enough for whole 1080p windows of dstnet-s


def available_bytes() -> int:
    """Bytes of memory available to a new allocation, by the first probe that answers."""
    for probe in (_meminfo_available, _windows_available, _sysconf_available):
        found = probe()
        if found:
            return found
    return GUESS_BYTES


def _meminfo_available() -> int | None:
    try:
        with MEMINFO.open() as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class MemoryStatusEx(ctypes.Structure):
    """Windows' MEMORYSTATUSEX (64 bytes): DWORDs are 32 bits, DWORDLONGs 64, on every platform."""

    _fields_ = [
        ("dwLength", ctypes.c_uint32),
        ("dwMemoryLoad", ctypes.c_uint32),
        ("ullTotalPhys", ctypes.c_uint64),
        ("ullAvailPhys", ctypes.c_uint64),
        ("ullTotalPageFile", ctypes.c_uint64),
        ("ullAvailPageFile", ctypes.c_uint64),
        ("ullTotalVirtual", ctypes.c_uint64),
        ("ullAvailVirtual", ctypes.c_uint64),
        ("ullAvailExtendedVirtual", ctypes.c_uint64),
    ]


def _windows_available() -> int | None:
    if sys.platform != "win32":
        return None
    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return None
    return int(status.ullAvailPhys)


def _sysconf_available() -> int | None:
    sysconf = getattr(os, "sysconf", None)  # not on Windows
    if sysconf is None:
        return None
    try:
        page = sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None
    try:
        return sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError):  # macOS counts no available pages
        pass
    try:
        return sysconf("SC_PHYS_PAGES") * page // 2
    except (ValueError, OSError):
        return None
