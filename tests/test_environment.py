"""What evaluate's and bench's JSON record of the machine and the software (environment.py)."""

from __future__ import annotations

from importlib import metadata

from deblur_cli.environment import _cpu_model, environment


def test_the_releases_and_the_processor_are_named(tmp_path):
    import torch

    found = environment(["cpu"])
    assert found["torch"] == torch.__version__ and found["av"] == metadata.version("av")
    assert "gpus" not in found  # no CUDA device ran anything
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\nflags\t: sse2\n")
    assert _cpu_model(cpuinfo) == "AMD EPYC 9B14"
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 48.00\n")  # Arm names no model there
    assert _cpu_model(cpuinfo) is None and _cpu_model(tmp_path / "missing") is None
