import pytest
import torch

from deblur_cli import devices
from deblur_cli.devices import resolve_device, resolve_dtype
from deblur_cli.errors import UsageError


@pytest.fixture
def no_gpu(monkeypatch):
    """Pretend there is neither CUDA nor MPS, whatever this machine has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_cpu_and_auto_without_a_gpu(no_gpu):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch, no_gpu):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda", 0)


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "mps"])
def test_unavailable_gpu_is_a_usage_error_with_a_hint(no_gpu, spec):
    with pytest.raises(UsageError, match="not available") as info:
        resolve_device(spec)
    assert "--device cpu" in info.value.hint and info.value.exit_code == 2


def test_cuda_index(two_gpus):
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(UsageError, match="no CUDA device 2: 2 visible") as info:
        resolve_device("cuda:2")
    assert "cuda:0 to cuda:1" in info.value.hint


@pytest.mark.parametrize("spec", ["gpu", "", "cpu:0", "mps:1", "cuda:x", "cuda:-1", "cuda0"])
def test_malformed_devices(spec):
    with pytest.raises(UsageError, match="unknown device") as info:
        resolve_device(spec)
    assert "auto" in info.value.hint


def test_dtypes_on_cpu(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "cpu_runs_bf16", lambda: False)
    assert resolve_dtype("auto", cpu) == torch.float32
    monkeypatch.setattr(devices, "cpu_runs_bf16", lambda: True)
    assert resolve_dtype("auto", cpu) == torch.bfloat16  # a CPU with bf16 instructions
    assert resolve_dtype("fp32", cpu) == torch.float32
    assert resolve_dtype("BF16", cpu) == torch.bfloat16
    with pytest.raises(UsageError, match="fp16") as info:
        resolve_dtype("fp16", cpu)
    assert "--precision fp32" in info.value.hint


def test_bf16_instructions_are_read_from_the_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert devices.cpu_runs_bf16.__wrapped__(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    assert not devices.cpu_runs_bf16.__wrapped__(info)
    info.write_text("flags\t\t: fpu amx_bf16 amx_tile\n")
    assert devices.cpu_runs_bf16.__wrapped__(info)
    assert not devices.cpu_runs_bf16.__wrapped__(tmp_path / "missing")


@pytest.mark.parametrize("precision", ["fp8", "half", "", "float32"])
def test_unknown_precision(precision):
    with pytest.raises(UsageError, match="unknown precision"):
        resolve_dtype(precision, torch.device("cpu"))


@pytest.mark.parametrize("native_bf16,expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_on_cuda_prefers_native_bf16(monkeypatch, native_bf16, expected):
    monkeypatch.setattr(devices, "_cuda_native_bf16", lambda device: native_bf16)
    cuda = torch.device("cuda", 0)
    assert resolve_dtype("auto", cuda) == expected
    assert resolve_dtype("fp16", cuda) == torch.float16
    if native_bf16:
        assert resolve_dtype("bf16", cuda) == torch.bfloat16
    else:
        with pytest.raises(UsageError, match="bf16"):
            resolve_dtype("bf16", cuda)


def test_mps_precisions(monkeypatch):
    mps = torch.device("mps")
    assert resolve_dtype("auto", mps) == torch.float32
    assert resolve_dtype("fp16", mps) == torch.float16
    monkeypatch.setattr(devices, "_mps_runs_bf16", lambda: False)
    with pytest.raises(UsageError, match="macOS 14"):
        resolve_dtype("bf16", mps)


def test_a_cpu_without_bf16_instructions_is_told_apart_from_one_that_cannot_be_read(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")  # x86 without bf16: emulated
    assert devices.cpu_emulates_bf16.__wrapped__(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert not devices.cpu_emulates_bf16.__wrapped__(info)
    info.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")  # Arm names its features otherwise
    assert not devices.cpu_emulates_bf16.__wrapped__(info)
    assert not devices.cpu_emulates_bf16.__wrapped__(tmp_path / "missing")


@pytest.mark.parametrize("emulates", [True, False])
def test_bf16_on_a_cpu_that_emulates_it_is_warned_of(monkeypatch, emulates):
    """dstnet-s took 140.5 s for 3 frames of 640x360 in bf16 on an AVX2 EPYC, 7.7 s in fp32, and said nothing."""
    monkeypatch.setattr(devices, "cpu_emulates_bf16", lambda: emulates)
    cpu = torch.device("cpu")
    message = devices.precision_warning(torch.bfloat16, cpu)
    assert (message is not None and "emulated" in message and "fp32" in message) == emulates
    assert devices.precision_warning(torch.float32, cpu) is None
    assert devices.precision_warning(torch.bfloat16, torch.device("cuda")) is None
