import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

# What a command prints to a pipe is LOG_WIDTH wide (cli/app.py) unless COLUMNS says otherwise, as read when
# its consoles are made (at import). pytest-xdist's workers set COLUMNS=80 and LINES=24, which would fold
# the long paths the tests look for: the tests see what a pipe gets wherever they run.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
# Nor may the user's shell decide what the tests see: colour forced on (FORCE_COLOR), a terminal that draws no
# progress bar (TERM=dumb), the Hugging Face hub's offline switch (HF_HUB_OFFLINE; tests that want it set it).
for name in ("FORCE_COLOR", "TERM", "HF_HUB_OFFLINE"):
    os.environ.pop(name, None)

# Test tensors are tiny: one thread avoids the thread-pool overhead that dominates them. The variable does the
# same for the commands and benchmark scripts tests start as processes of their own (measured: the benchmark
# tests took 180 s of a loaded 2-core machine with torch's two threads waiting on each other, 58 s with one).
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's weights cache from a test."""
    monkeypatch.setenv("DEBLUR_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def dstnet_file(tmp_path):
    """A tiny DSTNet (8 features, 1 block), seeded, saved as our safetensors."""
    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    torch.manual_seed(0)
    path = tmp_path / "tiny-dstnet.safetensors"
    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), path)
    return path


@pytest.fixture
def wtsa_file(tmp_path):
    """A tiny WTSA network (tests/restorers.py's TINY_WTSA), seeded, saved as our safetensors."""
    from deblur_cli.diffusion import DiffusionConfig
    from deblur_cli.models.wtsa_unet import WTSAUNet
    from deblur_cli.wtsa_weights import save_wtsa
    from tests.restorers import TINY_WTSA

    torch.manual_seed(0)
    path = tmp_path / "tiny-wtsa.safetensors"
    save_wtsa(WTSAUNet(TINY_WTSA), path, diffusion=DiffusionConfig())
    return path


@pytest.fixture
def identity(monkeypatch):
    """`deblur run` builds this restorer (tests/restorers.py) whatever --model says."""
    import deblur_cli.restorers as restorers_module
    from tests.restorers import IdentityRestorer

    restorer = IdentityRestorer()
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: restorer)
    return restorer


@pytest.fixture
def protect():
    """Makes a folder no one may write to: write-protected (chattr +i, which binds root too), else read-only by
    its permissions; skips the test where neither holds this user back. Undone at the end."""
    chattr = shutil.which("chattr")
    done: list[tuple[Path, bool]] = []

    def protect(folder: Path) -> Path:
        protected = bool(chattr) and subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode == 0
        if not protected:
            folder.chmod(0o555)
        done.append((folder, protected))
        if os.access(folder, os.W_OK):
            pytest.skip("this user writes through a folder's protection")
        return folder

    yield protect
    for folder, protected in done:
        if protected:
            subprocess.run([chattr, "-i", str(folder)], check=True)
        folder.chmod(0o755)
