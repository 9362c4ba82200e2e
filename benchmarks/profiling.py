"""What the benchmarks add to a timing: how much arithmetic it was, and where the time went.

`count_flops` runs a forward pass on the meta device (no data, no compute: seconds for a 720p window
of the published-size models) under PyTorch's FLOP counter, with attention forced onto its math path
so that its two matrix products are counted too (the fused kernels have no counter on every device).
Against a measured time it gives the achieved TFLOP/s, i.e. how far a model is from what the
hardware could do. `count_operators` counts, on the meta device too, the PyTorch operators a call
dispatches that compute something (views excluded): on a GPU each launches at least one kernel,
and each costs the host some microseconds however small it is. `kernel_table` profiles one call and returns the operators that took the most
device time (CUDA) or CPU time, which says what to optimise next. `device_seconds` says how long the GPU
ran kernels during a profile, overlaps counted once: against the wall time, how long it waited for the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode


def count_flops(run: Callable[[torch.device], object]) -> int:
    """Floating-point operations (a multiply-add counts 2) of `run(torch.device("meta"))`, which must
    build its model and inputs on the device it is given and call the model once. (no_grad, not
    inference_mode: PyTorch 2.3's counter sees nothing in inference mode.)"""
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        run(torch.device("meta"))
    return counter.get_total_flops()


class _OperatorCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += not func.is_view
        return func(*args, **(kwargs or {}))


def count_operators(run: Callable[[], object]) -> int:
    """Operators that are not views dispatched by `run()`: build the model and its input on the
    meta device first, outside `run`, so that only the call is counted."""
    with torch.no_grad(), _OperatorCounter() as counter:
        run()
    return counter.count


def kernel_table(run: Callable[[], object], device: torch.device, rows: int = 15) -> str:
    """The `rows` operators with the most self time over one `run()`, as PyTorch's profiler prints them."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.inference_mode(), torch.profiler.profile(activities=activities) as profile:
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return profile.key_averages().table(sort_by=key, row_limit=rows)


def device_seconds(profile: torch.profiler.profile, labels: Iterable[str] = ()) -> float:
    """Seconds in which the GPU ran at least one kernel (or copy) during `profile`: 0 without CUDA events.
    A record_function range also shows on the GPU's timeline, from its first kernel to its last, gaps
    included: those are left out (is_user_annotation, torch >= 2.5; before, by their `labels`)."""
    labels = set(labels)
    spans = sorted(
        (event.time_range.start, event.time_range.end)
        for event in profile.events()
        if event.device_type == torch.autograd.DeviceType.CUDA
        and not getattr(event, "is_user_annotation", False)
        and event.name not in labels
    )
    busy, end = 0.0, float("-inf")
    for start, stop in spans:  # microseconds
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    return busy / 1e6
