"""Whether torch.compile is tracing the code that asks: inference paths that reuse buffers (out=
arguments, results written over their inputs) take their plain form then, which the compiler can
trace and plans buffers for itself."""

from __future__ import annotations

import torch


def compiling() -> bool:
    is_compiling = getattr(torch.compiler, "is_compiling", None)  # torch >= 2.3
    return bool(is_compiling and is_compiling())
