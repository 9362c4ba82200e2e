"""The fused Triton kernel of the per-pixel filter, checked on the CPU by Triton's interpreter (numpy runs
each program): the filter's formula in fp32, fp16 and bf16, any input strides, the dispatch from
pixel_filter_3x3, and a DSTNet window through it. The checks run in a process of their own
(tests/fused_filter_check.py), since the interpreter must be chosen before the kernel is built. On a GPU,
benchmarks/bench_dstnet.py --fused-filter compares it with the PyTorch path and times both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deblur_cli.models.dynamic_filter import FUSED_FILTER_ENV, use_fused_filter

ROOT = Path(__file__).parent.parent


def test_the_fused_kernel_computes_the_filter_under_the_interpreter():
    pytest.importorskip("triton", minversion="3.0", reason="Triton is installed with .[dev] on Linux x86-64")
    env = os.environ | {"TRITON_INTERPRET": "1", FUSED_FILTER_ENV: "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.fused_filter_check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines() if ": ok" in line] == ["formula", "dispatch", "dstnet"]


def test_the_kernel_is_used_only_when_asked_for_on_cuda(monkeypatch):
    import torch

    cpu = torch.zeros(1)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setenv(FUSED_FILTER_ENV, "1")
    assert not use_fused_filter(cpu)  # the CPU has its own fast path
    monkeypatch.setenv(FUSED_FILTER_ENV, "0")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert not use_fused_filter(cpu)
