"""--compile: the restorers' networks through torch.compile, the same output, uncompiled where compiling fails.

Inductor's code generation takes minutes on this CPU, so these tests hand torch.compile a backend that
records the graphs it is given and runs them as they are: what is tested is that the networks are traced
and what runs is the traced code. The speed is measured on GPUs (docs/dstnet.md, docs/wtsa.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.devices import is_out_of_memory
from deblur_cli.models import compiling
from deblur_cli.restorers import ModelOptions, build_restorer
from deblur_cli.tiles import restore_tiled, restore_tiled_with_retry
from tests import media
from tests.restorers import frames



@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def traced(monkeypatch) -> list[torch.fx.GraphModule]:
    """The graphs torch.compile traces from now on; each runs as traced, its calls counted in .calls."""
    graphs: list[torch.fx.GraphModule] = []

    def recording(graph: torch.fx.GraphModule, example_inputs):
        graph.calls = 0
        graphs.append(graph)

        def run(*args):
            graph.calls += 1
            return graph.forward(*args)

        return run

    monkeypatch.setattr(compiling, "BACKEND", recording)
    return graphs


def test_compiled_dstnet_runs_its_traced_propagation_steps_and_restores_as_uncompiled(dstnet_file, traced):
    plain = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="fp32"))
    compiled = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="fp32", compile=True))
    assert traced == []  # compiling waits for the first call
    x = frames()
    torch.testing.assert_close(compiled(x), plain(x), rtol=0, atol=1e-6)
    assert traced and all(graph.calls for graph in traced)
    # three frames in each direction: the first step of each (no state yet) and the other two
    assert sum(graph.calls for graph in traced) == 6
    assert compiled.identity == {**plain.identity, "compiled": True}


def test_compiling_bf16_dstnet_on_the_cpu_says_nothing_of_its_cached_interpolation_matrices(dstnet_file, traced):
    """The bf16 CPU path's upsampling by matrix products (cached with lru_cache) made Dynamo print two
    five-line warnings of 'silent incorrectness' on every --compile run."""
    import warnings

    compiled = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="bf16", compile=True))
    with warnings.catch_warnings(record=True) as caught:  # the filters as they are, each warning recorded
        compiled(frames(2))
    assert traced and not [w for w in caught if "lru_cache" in str(w.message)]


def test_compiled_diffusion_restorer_samples_as_uncompiled(wtsa_file, traced):
    options = ModelOptions(weights=wtsa_file, device="cpu", precision="fp32", steps=3, seed=5)
    plain, compiled = build_restorer("wtsa-s", options), build_restorer("wtsa-s", replace(options, compile=True))
    x = frames(t=2, h=16, w=16)
    torch.testing.assert_close(compiled(x), plain(x), rtol=0, atol=1e-5)
    assert sum(graph.calls for graph in traced) == 3  # the network, once per DDIM step


def test_a_failing_compiler_is_said_once_and_the_run_goes_on_uncompiled(dstnet_file, monkeypatch):
    def broken(graph, example_inputs):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(compiling, "BACKEND", broken)
    said: list[str] = []
    plain = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="fp32"))
    compiled = build_restorer(
        "dstnet", ModelOptions(weights=dstnet_file, device="cpu", precision="fp32", compile=True), warn=said.append
    )
    x = frames()
    torch.testing.assert_close(compiled(x), plain(x), rtol=0, atol=0)
    torch.testing.assert_close(compiled(x), plain(x), rtol=0, atol=0)
    assert said == ["--compile: torch.compile failed (no C++ compiler found); running uncompiled"]


def test_a_python_torch_compile_refuses_runs_uncompiled(dstnet_file, monkeypatch):
    def refuses(*args, **kwargs):
        raise RuntimeError("torch.compile is not supported on Python 3.99+")

    monkeypatch.setattr(torch, "compile", refuses)
    said: list[str] = []
    restorer = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", compile=True), warn=said.append)
    assert restorer(frames()).shape == (3, 3, 32, 48)
    assert said == [
        "--compile: torch.compile failed (torch.compile is not supported on Python 3.99+); running uncompiled"
    ]
    assert "compiled" not in restorer.identity  # it restores as uncompiled, and an interrupted run continues


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),  # torch.OutOfMemoryError: 2.5+
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to"),
    ],
)
def test_running_out_of_memory_while_compiling_is_not_taken_for_a_compiler_failure(dstnet_file, monkeypatch, error):
    """The windows' out-of-memory retries (tiles.py, stream.py) must still see it: the allocator's error
    itself, not torch.compile's BackendCompilerFailed around it, which is_out_of_memory does not know."""

    def exhausted(graph, example_inputs):
        raise error

    monkeypatch.setattr(compiling, "BACKEND", exhausted)
    said: list[str] = []
    restorer = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", compile=True), warn=said.append)
    with pytest.raises(RuntimeError) as raised:
        restorer(frames())
    assert raised.value is error and is_out_of_memory(raised.value)
    assert said == []


def test_running_out_of_memory_while_compiling_retries_in_smaller_tiles(dstnet_file, monkeypatch):
    compiles: list[int] = []

    def exhausted_once(graph, example_inputs):
        compiles.append(1)
        if len(compiles) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return graph.forward

    monkeypatch.setattr(compiling, "BACKEND", exhausted_once)
    said: list[str] = []
    restorer = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu", compile=True), warn=said.append)
    plain = build_restorer("dstnet", ModelOptions(weights=dstnet_file, device="cpu"))
    retried: list[int] = []
    x = frames(h=128, w=128)
    out = restore_tiled_with_retry(x, restorer, multiple=16, tile=None, overlap=None, on_retry=retried.append)
    expected = restore_tiled(x, plain, multiple=16, tile=64, overlap=None)
    assert retried == [64] and said == [] and len(compiles) > 1
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_an_error_of_the_code_itself_is_not_taken_for_a_compiler_failure(traced):
    """Bad input met while tracing raises as it would uncompiled: no "torch.compile failed" warning, and
    compiling stays on for the calls after it."""
    said: list[str] = []
    multiply = compiling.Compiled(lambda x, w: (x @ w).relu(), said.append)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        multiply(torch.ones(2, 3), torch.ones(5, 4))
    assert said == [] and multiply.compiled is not None
    torch.testing.assert_close(multiply(torch.ones(2, 3), torch.ones(3, 4)), torch.full((2, 4), 3.0))
    assert said == [] and sum(graph.calls for graph in traced) == 1


def deblur_run_compile(folder, weights, frames: int):
    """`deblur run --compile` of a clip of `frames` frames made in `folder`, to folder/out.mp4."""
    source = media.make_video(folder / "in.mp4", frames=frames, size=(48, 32))
    return CliRunner().invoke(
        app, ["run", str(source), "-o", str(folder / "out.mp4"), "-m", "dstnet", "--weights", str(weights),
              "--window", "3", "--overlap", "1", "--compile"],
    )  # fmt: skip


def test_deblur_run_compile(tmp_path, dstnet_file, traced):
    result = deblur_run_compile(tmp_path, dstnet_file, frames=6)
    assert result.exit_code == 0, result.output
    assert "note: --compile: the first windows wait while torch.compile builds" in result.output
    assert (
        "warning: --compile on a CPU: measured no faster than without, after minutes of compiling (docs/cli.md)"
        in result.output
    )
    assert len(media.read_frames(tmp_path / "out.mp4")) == 6
    assert traced and sum(graph.calls for graph in traced) > 0


def test_deblur_run_compile_where_torch_compile_refuses_says_so_and_no_more(tmp_path, dstnet_file, monkeypatch):
    def refuses(*args, **kwargs):
        raise RuntimeError("torch.compile is not supported on Python 3.99+")

    monkeypatch.setattr(torch, "compile", refuses)
    result = deblur_run_compile(tmp_path, dstnet_file, frames=4)
    assert result.exit_code == 0, result.output
    assert "torch.compile failed (torch.compile is not supported on Python 3.99+)" in result.output
    assert "first windows wait" not in result.output
