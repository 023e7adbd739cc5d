
import os

import pytest

from vadlib import paths, profiles


def test_smoke_is_the_default_and_profiles_differ_only_in_numbers():
    smoke = profiles.resolve()
    assert smoke.profile == "smoke" and smoke.data_source == "synthetic" and smoke.model_size == "tiny"
    full = profiles.resolve("full")
    assert full.data_source == "real" and full.epoch_fraction == 1.0 and full.max_steps is None
    assert set(smoke.knobs) == set(full.knobs) == set(profiles.KNOBS)


def test_every_knob_can_be_overridden():
    settings = profiles.resolve("quick", max_steps=5, epoch_fraction=1, seed=3, data_root="/x")
    assert (settings.max_steps, settings.epoch_fraction, settings.seed, settings.data_root) == (5, 1.0, 3, "/x")
    assert settings.overridden == ("data_root", "epoch_fraction", "max_steps", "seed")


@pytest.mark.parametrize("call, message", [
    (lambda: profiles.resolve("medium"), "valid profiles: smoke, quick, full"),
    (lambda: profiles.resolve("smoke", epochs=3), "valid knobs: data_source"),
    (lambda: profiles.resolve("smoke", model_size="huge"), "must be one of tiny, paper"),
    (lambda: profiles.resolve("smoke", seed="zero"), "expects int"),
    (lambda: profiles.resolve("smoke", seed=True), "expects int"),
])
def test_bad_input_names_the_valid_choices(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_attribute_lists_knobs():
    with pytest.raises(AttributeError, match="knobs:"):
        profiles.resolve().epochs


def test_describe_lists_every_knob():
    text = profiles.describe()
    assert all(f"`{name}`" in text for name in profiles.KNOBS)


def test_paths_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VADLIB_FIGURES", str(tmp_path / "f"))
    monkeypatch.setenv("VADLIB_RUNS", str(tmp_path / "r"))
    monkeypatch.setenv("VADLIB_DATA", str(tmp_path / "d"))
    assert paths.figures_dir() == tmp_path / "f" and paths.tables_dir() == tmp_path / "f" / "tables"
    assert paths.runs_dir() == tmp_path / "r" and paths.data_root() == tmp_path / "d"
    monkeypatch.delenv("VADLIB_FIGURES")
    monkeypatch.delenv("VADLIB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.figures_dir() == paths.REPO_ROOT / "figures"
    assert paths.data_root() == tmp_path / "cache" / "vadlib" / "data"
    assert (paths.REPO_ROOT / "vadlib" / "__init__.py").exists() and paths.STYLE_FILE.exists()


def test_math_threads_are_the_free_cores_shared_among_the_jobs():
    assert profiles.math_threads(1, cores=2, load=0.1) == 2  # a quiet 2-core machine
    assert profiles.math_threads(1, cores=2, load=1.2) == 1  # another process busy on one core
    assert profiles.math_threads(2, cores=2, load=0.0) == 1  # two kernels at once
    assert profiles.math_threads(1, cores=2, load=7.0) == 1  # overloaded: still one
    assert profiles.math_threads(3, cores=16, load=4.4) == 4  # 12 free cores for 3 kernels
    with pytest.raises(ValueError, match="jobs"):
        profiles.math_threads(0)


def test_a_user_set_thread_count_wins_and_children_inherit_the_choice(monkeypatch):
    import torch
    before = torch.get_num_threads()
    for variable in profiles.THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert profiles.apply_math_threads(jobs=1) == 1 and torch.get_num_threads() == 1
        assert os.environ["MKL_NUM_THREADS"] == "1"
        monkeypatch.delenv("OMP_NUM_THREADS")
        monkeypatch.delenv("MKL_NUM_THREADS")
        chosen = profiles.apply_math_threads(jobs=2)
        assert chosen == profiles.math_threads(2) and os.environ["OMP_NUM_THREADS"] == str(chosen)
    finally:
        torch.set_num_threads(before)
