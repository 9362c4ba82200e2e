"""host_memory: the memory probes behind `--tile auto` on the CPU, and what is left where one is missing."""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys

import pytest

import deblur_cli.host_memory as host_memory


def _total_bytes() -> int:
    with open("/proc/meminfo") as f:
        return int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) * 1024


def _sysconf(values: dict):
    def sysconf(name):
        if name not in values:
            raise ValueError("unrecognized configuration name")
        return values[name]

    return sysconf


def test_this_machine_answers_plausibly():
    assert 0 < host_memory.available_bytes() <= _total_bytes()


def test_linux_reads_mem_available(monkeypatch, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n")
    monkeypatch.setattr(host_memory, "MEMINFO", meminfo)
    assert host_memory.available_bytes() == 20000000 * 1024


def test_without_proc_meminfo_sysconf_answers(monkeypatch, tmp_path):
    monkeypatch.setattr(host_memory, "MEMINFO", tmp_path / "missing")
    monkeypatch.setattr(os, "sysconf", _sysconf({"SC_PAGE_SIZE": 4096, "SC_AVPHYS_PAGES": 1000, "SC_PHYS_PAGES": 5000}))
    assert host_memory.available_bytes() == 4096 * 1000


def test_without_available_pages_half_the_memory_is_assumed(monkeypatch, tmp_path):
    """macOS's sysconf counts the physical pages but not the available ones."""
    monkeypatch.setattr(host_memory, "MEMINFO", tmp_path / "missing")
    monkeypatch.setattr(os, "sysconf", _sysconf({"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 5000}))
    assert host_memory.available_bytes() == 4096 * 5000 // 2


def test_where_nothing_answers_a_guess_not_a_crash(monkeypatch, tmp_path):
    """As on Windows were GlobalMemoryStatusEx to fail: no /proc, no sysconf (the old code raised AttributeError)."""
    monkeypatch.setattr(host_memory, "MEMINFO", tmp_path / "missing")
    monkeypatch.delattr(os, "sysconf")
    assert host_memory.available_bytes() == host_memory.GUESS_BYTES


def test_a_garbled_meminfo_is_passed_over(monkeypatch, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable: lots\n")
    monkeypatch.setattr(host_memory, "MEMINFO", meminfo)
    assert host_memory._meminfo_available() is None
    assert host_memory.available_bytes() > 0


def test_windows_structure_has_the_documented_layout():
    """MEMORYSTATUSEX is 64 bytes, ullAvailPhys at offset 16 (Microsoft's documentation)."""
    assert ctypes.sizeof(host_memory.MemoryStatusEx) == 64
    assert host_memory.MemoryStatusEx.ullAvailPhys.offset == 16
    assert host_memory._windows_available() is None  # not Windows: the probe declines


_FAULTS_OF_REUSE = """
import resource, sys
from deblur_cli.host_memory import keep_freed_memory
kept = keep_freed_memory()
block = bytearray(64 * 2**20)  # past glibc's largest adaptive mmap threshold (32 MiB)
del block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    block = bytearray(64 * 2**20)  # filled with zeros: every page is touched
    del block
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_freed_memory_is_reused_without_page_faults(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in host_memory.MALLOC_SETTINGS}
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=tmp_path, check=True)
    kept, faults = run([sys.executable, "-c", _FAULTS_OF_REUSE], env=environ).stdout.split()
    if kept == "False":
        pytest.skip("this glibc caps the mmap threshold at 32 MiB (or is not glibc): only smaller blocks are kept")
    assert int(faults) < 16, faults
    # glibc's default: each 64 MiB block is mapped afresh and faulted in every time: 16384 pages of 4 KiB,
    # or 32 huge pages of 2 MiB where the kernel gives them to any mapping
    default = _FAULTS_OF_REUSE.replace("kept = keep_freed_memory()", "kept = False")
    assert int(run([sys.executable, "-c", default], env=environ).stdout.split()[1]) >= 4 * 32
    # the user's own glibc setting wins
    users = run([sys.executable, "-c", _FAULTS_OF_REUSE], env=environ | {"MALLOC_TRIM_THRESHOLD_": "0"}).stdout
    assert users.split()[0] == "False"


@pytest.mark.parametrize(
    "precision, huge_pages, kept",
    [("fp32", None, True), ("bf16", None, True), ("bf16", "1", False), ("fp32", "1", True)],
)
def test_dstnet_on_the_cpu_keeps_freed_memory_except_bf16_on_huge_pages(monkeypatch, precision, huge_pages, kept):
    """Measured: float32 on an AVX2 EPYC, bf16 without huge pages on an AVX512-BF16 EPYC (docs/dstnet.md);
    bf16 with huge pages, the command's choice on AMX CPUs, was not, and keeps glibc's default."""
    import deblur_cli.cli.weights as weights_command
    import deblur_cli.host_memory as host_memory
    from deblur_cli.restorers import ModelOptions

    calls = []
    monkeypatch.setattr(host_memory, "keep_freed_memory", lambda: calls.append(1))
    if huge_pages is None:
        monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    else:
        monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", huge_pages)
    options = ModelOptions(device="cpu", precision=precision)
    weights_command.build_shown("dstnet-s", options, quiet=True, warn=lambda message: None)
    assert bool(calls) == kept


def test_host_memory_imports_no_module_above_it():
    """Found in review (structure54 F8): host_memory imported restorers (inside a function) to ask whether a
    restorer was a DSTNet, which put 19 modules, models/ among them, in one import cycle. It is a stdlib-level
    module (docs/architecture.md): the restorer's side answers that question (`restorers.keeps_freed_memory`)."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(host_memory.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert {name for name in imported if name and name.startswith("deblur_cli")} == {"deblur_cli.errors"}


def test_synthesis_check_refuses_past_the_estimate_with_its_words(monkeypatch):
    """110 bytes a pixel of every frame: 360 frames of 640x360 need 9,123,840,000 bytes; the check passes at exactly
    that much free and refuses a byte less, with the estimate and what was free in its words."""
    from deblur_cli.errors import UsageError

    need = 110 * 360 * 640 * 360
    monkeypatch.setattr(host_memory, "available_bytes", lambda: need)
    host_memory.check_synthesis_memory(360, 640, 360)
    monkeypatch.setattr(host_memory, "available_bytes", lambda: need - 1)
    with pytest.raises(UsageError) as raised:
        host_memory.check_synthesis_memory(360, 640, 360, size_option="--crop")
    assert str(raised.value) == (
        "not enough memory to synthesise clips of 360 frames at 640x360 (about 9.1 GB each, 9.1 GB available)"
    )
    assert raised.value.hint == "ask for fewer --frames or a smaller --crop"
    assert str(host_memory.synthesis_memory_error(360, 640, 360)) == (
        "not enough memory to synthesise clips of 360 frames at 640x360 (about 9.1 GB each)"
    )
