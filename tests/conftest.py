import os

import pytest
import torch

# Two cores are shared by the whole test run; more threads only add contention.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's weights cache from a test."""
    monkeypatch.setenv("DEBLUR_CACHE", str(tmp_path_factory.mktemp("cache")))
