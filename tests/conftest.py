import os
import shutil
import subprocess
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


def pytest_collection_modifyitems(items):
    """Tests marked ``starts_first`` go to the front, in their collection order: the SLURM executor
    tests, then the end-to-end reproduce (the longest test). Under ``--dist worksteal`` one worker
    starts them at once while the other works through the rest and then takes over the first one's
    queue, so the longest test is not left for the end."""
    items.sort(key=lambda item: item.get_closest_marker("starts_first") is None)  # stable


def shared_tmp_dir(tmp_path_factory, name: str) -> Path:
    """A temporary directory shared by every pytest-xdist worker of the session (the workers'
    base temporary directories are siblings), or the session's own without xdist."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def smoke_cache(tmp_path_factory):
    """One run cache and data root for the tests that execute whole notebooks on the smoke profile
    (nbval, the end-to-end reproduce), shared by the xdist workers: a run is computed once per
    session, whichever worker asks first (the run locks make the others wait, then read it)."""
    root = shared_tmp_dir(tmp_path_factory, "smoke-cache")
    return {"VADLIB_RUNS": str(root / "runs"), "VADLIB_DATA": str(root / "data")}


@pytest.fixture
def smoke_runs(smoke_cache, monkeypatch):
    """A test that computes the smoke profile's own runs (a notebook's) reads and writes them in
    the session's shared smoke cache, so they are computed once per session, not once per test."""
    for variable, value in smoke_cache.items():
        monkeypatch.setenv(variable, value)


class BackgroundReproduce:
    """``vadlib reproduce`` on a cold run cache, started in the background: the end-to-end test
    compares its tables with a run on the cache nbval filled. It computes its runs on an executor
    -- the SLURM cluster where one answers (``scripts/ci/slurm.sh start``), else two local worker
    processes. It runs at the lowest CPU priority (SLURM's jobs inherit it: ``PropagatePrioProcess``
    in the CI cluster), so it takes the cycles the tests leave idle instead of slowing them."""

    def __init__(self, root: Path, data: str):
        from vadlib.runs import executors
        self.figures, self.log = root / "figures", root / "reproduce.log"
        self.args = ["--jobs", "2"]
        if executors.slurm_available() is None:
            self.args += ["--executor", "slurm", "--runs-per-job", "6"]
        root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "VADLIB_FIGURES": str(self.figures), "VADLIB_RUNS": str(root / "runs"),
               "VADLIB_DATA": data}
        with open(self.log, "w") as stream:
            nice = ["nice", "-n", "19"] if shutil.which("nice") else []
            self.process = subprocess.Popen([*nice, sys.executable, "-m", "vadlib.cli", "reproduce", *self.args],
                                            stdout=stream, stderr=subprocess.STDOUT, env=env)

    def wait(self, timeout: float = 2400) -> tuple[int, str]:
        returncode = self.process.wait(timeout=timeout)
        return returncode, self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="session")
def cold_reproduce(tmp_path_factory, smoke_cache):
    """The background cold reproduce (:class:`BackgroundReproduce`), started by the first test
    that asks for it."""
    cold = BackgroundReproduce(tmp_path_factory.mktemp("cold-reproduce"), smoke_cache["VADLIB_DATA"])
    yield cold
    cold.stop()


@pytest.fixture
def one_torch_thread():
    """Pin torch to one thread for a test and restore the setting after: model tests on a shared
    2-core machine run far slower when each process spreads over every core."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
