import pytest


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, monkeypatch):
    """Every test writes figures and runs under its own temporary directory, never the checkout."""
    monkeypatch.setenv("VADLIB_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("VADLIB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("VADLIB_DATA", str(tmp_path / "data"))
    return tmp_path
