"""Resolving --device, --precision and --seed into what torch needs; a device's free memory and its
allocation failures."""

from __future__ import annotations

import re

import torch

from deblur_cli.cpuinfo import cpu_emulates_bf16, cpu_runs_bf16
from deblur_cli.errors import UsageError
from deblur_cli.host_memory import available_bytes

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DTYPE_NAMES = {dtype: name for name, dtype in PRECISIONS.items()}  # torch.bfloat16 -> "bf16"
# Newer torch raises a device-generic torch.OutOfMemoryError (torch.cuda's name is an alias of it).
_OOM_ERRORS = tuple({torch.cuda.OutOfMemoryError, getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)})
# Older torch reports the MPS and CPU allocators' failures as plain RuntimeErrors with these messages.
_OOM_MESSAGES = ("MPS backend out of memory", "DefaultCPUAllocator: can't allocate memory")


def resolve_device(spec: str) -> torch.device:
    """"auto" (CUDA, else MPS, else CPU), "cpu", "cuda", "cuda:N" or "mps" -> a usable torch.device.

    A device that is missing or an index out of range is a UsageError saying why, not a crash later.
    """
    match = re.fullmatch(r"(auto|cpu|mps|cuda)(?::(\d+))?", spec.strip().lower())
    if match is None or (match[2] is not None and match[1] != "cuda"):
        raise UsageError(f"unknown device {spec!r}", hint="use one of " + ", ".join(DEVICES))
    kind, index = match[1], int(match[2] or 0)
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        return torch.device("mps") if torch.backends.mps.is_available() else torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(
                "CUDA was requested but is not available",
                hint="install a CUDA build of PyTorch (https://pytorch.org/get-started), or use --device cpu"
                if not torch.backends.cuda.is_built()
                else "no CUDA GPU is visible: check the driver (nvidia-smi) and CUDA_VISIBLE_DEVICES, or use --device cpu",
            )
        count = torch.cuda.device_count()
        if index >= count:
            raise UsageError(
                f"there is no CUDA device {index}: {count} visible",
                hint=f"use --device cuda:0{f' to cuda:{count - 1}' if count > 1 else ''}",
            )
        return torch.device("cuda", index)
    if kind == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError(
                "MPS (Apple GPU) was requested but is not available",
                hint="MPS needs macOS 12.3+ on Apple silicon and a PyTorch build with MPS; use --device cpu",
            )
        return torch.device("mps")
    return torch.device("cpu")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so a timer sees it finished."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an allocation failure on any device (CUDA, MPS, CPU)."""
    return isinstance(error, _OOM_ERRORS) or any(m in str(error) for m in _OOM_MESSAGES)


def free_memory(device: torch.device) -> int:
    """Bytes a new allocation on `device` can use now.

    CUDA: free device memory plus what PyTorch's cache holds unused. CPU and MPS (whose memory
    is the system's): what host_memory.available_bytes finds.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return available_bytes()


def release_cached_memory(device: torch.device) -> None:
    """Hand the allocator's cached blocks back to the device after an out-of-memory error."""
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    if device.type == "mps":
        torch.mps.empty_cache()


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """"auto", "fp32", "fp16" or "bf16" -> the dtype to run the model in on `device`.

    auto: bf16 on CUDA GPUs with native bf16 (fp32's range, so no overflow), else fp16; bf16 on
    CPUs with bf16 instructions (AVX512-BF16 or AMX, see cpu_runs_bf16), where it measured about
    twice as fast as fp32 for dstnet-s with the same PSNR; fp32 on other CPUs, which emulate bf16
    slowly, and on MPS, where half precision brings little speed and some kernels are missing.
    fp16 on the CPU is refused: many CPU kernels lack it or run slower than fp32.
    bf16 is refused where the device cannot run it natively (CUDA before Ampere, MPS before macOS 14).
    """
    name = precision.strip().lower()
    device = torch.device(device)
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if _cuda_native_bf16(device) else torch.float16
        return torch.bfloat16 if device.type == "cpu" and cpu_runs_bf16() else torch.float32
    if name not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}", hint="use one of auto, " + ", ".join(PRECISIONS))
    dtype = PRECISIONS[name]
    if dtype == torch.float16 and device.type == "cpu":
        raise UsageError(
            "fp16 is not supported on the CPU: many kernels lack it and the rest run slower than fp32",
            hint="use --precision fp32 (or bf16 on CPUs with AVX-512 BF16 or AMX)",
        )
    if dtype == torch.bfloat16 and device.type == "cuda" and not _cuda_native_bf16(device):
        raise UsageError(
            "this GPU has no native bf16 (it needs compute capability 8.0, Ampere, or newer)",
            hint="use --precision fp16 (or auto)",
        )
    if dtype == torch.bfloat16 and device.type == "mps" and not _mps_runs_bf16():
        raise UsageError("bf16 on MPS needs macOS 14 or later", hint="use --precision fp16 (or auto)")
    return dtype


def _cuda_native_bf16(device: torch.device) -> bool:
    # torch.cuda.is_bf16_supported() asks about the current device and counts slow emulation.
    return bool(torch.version.hip) or torch.cuda.get_device_properties(device).major >= 8


def _mps_runs_bf16() -> bool:
    # PyTorch exposes no capability flag for this; a tiny op is the reliable test.
    try:
        (torch.ones(1, dtype=torch.bfloat16, device="mps") * 2).cpu()
    except (RuntimeError, TypeError):
        return False
    return True


def precision_warning(dtype: torch.dtype, device: torch.device) -> str | None:
    """What to tell a user who chose bf16 on a CPU without bf16 instructions, which PyTorch then emulates:
    dstnet-s took 140.5 s for 3 frames of 640x360 in bf16 against 7.7 s in fp32 on an AVX2 EPYC."""
    if dtype == torch.bfloat16 and device.type == "cpu" and cpu_emulates_bf16():
        return (
            "this CPU has no bf16 instructions (AVX-512 BF16 or AMX), so bf16 runs emulated, many times slower "
            "than fp32: --precision auto picks fp32 here"
        )
    return None
