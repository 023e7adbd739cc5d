import os
import sys
from pathlib import Path

import pytest

# Tests start notebook kernels and CLI subprocesses beside each other on small machines: one math
# thread each (the policy of vadlib.profiles.math_threads for parallel kernels), and the same count
# everywhere, so a run computed in one test and recomputed cold in another agree bit for bit.
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# tests mirror the package (tests/runs/, tests/papers/, ...) and are imported by path
# (--import-mode=importlib), so helper modules beside this file are put on the path here
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, monkeypatch):
    """Every test writes figures and runs under its own temporary directory, never the checkout."""
    monkeypatch.setenv("VADLIB_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("VADLIB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("VADLIB_DATA", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture(scope="session")
def smoke_cache(tmp_path_factory):
    """One run cache and data root for the tests that execute whole notebooks on the smoke profile
    (nbval, the end-to-end reproduce): a notebook's runs are computed once per session."""
    root = tmp_path_factory.mktemp("smoke-cache")
    return {"VADLIB_RUNS": str(root / "runs"), "VADLIB_DATA": str(root / "data")}


@pytest.fixture
def one_torch_thread():
    """Pin torch to one thread for a test and restore the setting after: model tests on a shared
    2-core machine run far slower when each process spreads over every core."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
