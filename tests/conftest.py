import pytest
import torch

# Test tensors are tiny: one thread avoids the thread-pool overhead that dominates them.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's weights cache from a test."""
    monkeypatch.setenv("DEBLUR_CACHE", str(tmp_path_factory.mktemp("cache")))
