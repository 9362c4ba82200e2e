"""How much of the computer's memory a new allocation can use now, on Linux, Windows and macOS; and
`keep_freed_memory`, which lets glibc reuse freed memory instead of faulting fresh pages in (for the restorers
where it was measured to help: `restorers.keeps_freed_memory`); whether a synthesised clip fits
(`check_synthesis_memory`).

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

from deblur_cli.errors import UsageError

MEMINFO = Path("/proc/meminfo")
GUESS_BYTES = 4 * 2**30  # when nothing can be asked: enough for whole 1080p windows of dstnet-s
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
KEEP_BYTES = 2**31 - 1  # both thresholds as high as mallopt's int allows
OLD_GLIBC_MMAP_CAP = 32 * 2**20  # the highest mmap threshold glibc took before it lifted the cap (64-bit)
MALLOC_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")  # the user's own, which win


def available_bytes() -> int:
    """Bytes of memory available to a new allocation, by the first probe that answers."""
    for probe in (_meminfo_available, _windows_available, _sysconf_available):
        found = probe()
        if found:
            return found
    return GUESS_BYTES


# A synthesised clip (data/synth.py) is made whole in memory: 8.8 GB for 360 frames of 640x360 when this was set,
# 7.4 GB (about 90 bytes a pixel of each frame) since 2dbbfb5 bounded the scene; the estimate keeps that margin.
SYNTHESIS_BYTES_PER_PIXEL = 110


def synthesis_bytes(frames: int, width: int, height: int) -> int:
    """The estimated bytes of memory one synthesised clip of this length and size needs while it is made."""
    return SYNTHESIS_BYTES_PER_PIXEL * frames * width * height


def check_synthesis_memory(frames: int, width: int, height: int, size_option: str = "--size") -> None:
    """A UsageError, before any work, when clips of this length and size cannot be made in the memory
    available now (the system would kill the process part-way instead); the hint names `size_option`."""
    available = available_bytes()
    if synthesis_bytes(frames, width, height) > available:
        raise synthesis_memory_error(frames, width, height, available=available, size_option=size_option)


def synthesis_memory_error(
    frames: int, width: int, height: int, *, available: int | None = None, size_option: str = "--size"
) -> UsageError:
    """The UsageError of clips of this length and size too large for memory, with the estimate each needs and the
    bytes `available` before any work; None where an allocation failed part-way (the memory was taken by others
    meanwhile, and is free again once the clip is let go)."""
    need = synthesis_bytes(frames, width, height)
    free = "" if available is None else f", {available / 1e9:.1f} GB available"
    return UsageError(
        f"not enough memory to synthesise clips of {frames} frames at {width}x{height} (about {need / 1e9:.1f} GB "
        f"each{free})",
        hint=f"ask for fewer --frames or a smaller {size_option}",
    )


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse rather than hand each large block back to the kernel.

    By default glibc maps every block over an adaptive threshold (at most 32 MiB) afresh and unmaps it
    when freed, and trims the heap's free top, so each new 720p feature map faults its pages in again:
    about 96k page faults and 0.24 s of kernel time per 1280x720 frame of dstnet-s in float32 on a
    2-core AVX2 EPYC (docs/dstnet.md). The freed memory stays with the process: peak RSS of `deblur run`
    there grew 7% with huge pages off, 50% with them on. Linux with glibc only, and not where the
    environment sets glibc's malloc tunables. Returns whether both settings took (an older glibc keeps
    blocks up to 32 MiB only: False).
    """
    if not sys.platform.startswith("linux") or any(name in os.environ for name in MALLOC_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # not glibc: musl's mallopt takes these and does nothing
        return False
    trimmed = libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES) == 1
    # Older glibc refuses an mmap threshold over 32 MiB (half its heap size): blocks up to that are kept then
    if libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES) != 1:
        libc.mallopt(M_MMAP_THRESHOLD, OLD_GLIBC_MMAP_CAP)
        return False
    return trimmed


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
