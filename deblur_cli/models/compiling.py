"""torch.compile for inference (`deblur run --compile`), and whether it is tracing the code that asks:
inference paths that reuse buffers (out= arguments, results written over their inputs) take their
plain form then, which the compiler can trace and plans buffers for itself."""

from __future__ import annotations

import warnings
from typing import Callable

import torch

from deblur_cli.devices import is_out_of_memory

# What torch.compile hands the traced graphs to: Inductor generates fused kernels (Triton on a GPU, C++
# on a CPU). Tests set "eager", which traces and runs the same operators without generating code.
BACKEND = "inductor"


def compiling() -> bool:
    is_compiling = getattr(torch.compiler, "is_compiling", None)  # torch >= 2.3
    return bool(is_compiling and is_compiling())


class Compiled:
    """`fn` through torch.compile, or `fn` itself from the first call on which compiling fails: no
    compiler, a Python or platform the compiler does not support, an operator it cannot trace.
    Then `warn(line)` hears why, once, and the run goes on uncompiled. Errors of running the code
    (out of memory, bad input) pass through as they would uncompiled."""

    def __init__(self, fn: Callable, warn: Callable[[str], None] | None = None):
        self.fn, self.warn = fn, warn
        self.compiled: Callable | None = None
        # Dynamo traces through functools.lru_cache and says so, five lines a cached function: the cached
        # ones here (dynamic_filter.interpolation_matrix) depend on their arguments alone. Said once, for
        # the process (a catch_warnings around each call reset every other warning's once-only record).
        warnings.filterwarnings("ignore", message=".*lru_cache", category=UserWarning)
        try:
            self.compiled = torch.compile(fn, backend=BACKEND)
        except RuntimeError as e:  # torch.compile refuses at once on Pythons it does not support
            self._give_up(_reason(e))

    def __call__(self, *args, **kwargs):
        if self.compiled is None:
            return self.fn(*args, **kwargs)
        try:
            return self.compiled(*args, **kwargs)
        except torch._dynamo.exc.TorchDynamoException as e:
            failure = e
        # The compiler wraps what failed under it: the out-of-memory retries (tiles.py, stream.py) know
        # the allocator's own error, not the wrapper.
        cause = getattr(failure, "inner_exception", None) or failure.__cause__ or failure
        if is_out_of_memory(cause) or "out of memory" in str(cause).lower():
            raise cause
        # An error of the code itself (bad input, a bug), met while tracing, raises here as it would
        # uncompiled, and compiling stays on; the compiler failed only where the code runs without it.
        reason = _reason(failure)
        del failure, cause  # their tracebacks would hold the failed call's tensors through the rerun
        result = self.fn(*args, **kwargs)
        self._give_up(reason)
        return result

    def _give_up(self, reason: str) -> None:
        self.compiled = None
        if self.warn is not None:
            self.warn(f"--compile: torch.compile failed ({reason[:200]}); running uncompiled")


def _reason(error: Exception) -> str:
    """The first line of what the backend raised (torch.compile wraps it), or its type."""
    cause = getattr(error, "inner_exception", None) or error
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
