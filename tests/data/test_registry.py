"""Every dataset has a manifest and a synthetic twin, and the twin holds the manifest's layout."""

from __future__ import annotations

import pytest

from vadlib import cli, profiles
from vadlib.data import DatasetError, dataset_root, status as status_module, synthetic
from vadlib.data.integrity import RECORD_NAME
from vadlib.data.manifests import load_manifest, manifest_names
from vadlib.notebook import setup

GENERATORS = sorted(synthetic.generators())


def test_every_manifest_has_a_twin_and_every_twin_a_manifest():
    with_twin = {name for name in manifest_names() if load_manifest(name).synthetic}
    assert with_twin == set(GENERATORS)


@pytest.mark.parametrize("name", GENERATORS)
def test_tiny_twin_matches_its_manifest_layout(name, tmp_path):
    path = synthetic.generate(name, size="tiny", seed=0, data_root=tmp_path)
    assert path == tmp_path / "synthetic" / "tiny-seed0" / load_manifest(name).directory
    found = status_module.status(name, directory=path, deep=True)
    assert found.state == "synthetic twin", found.describe()


def test_generation_is_cached_and_forced_regeneration_rewrites(tmp_path):
    name = GENERATORS[0]
    path = synthetic.generate(name, size="tiny", seed=0, data_root=tmp_path)
    stamp = (path / RECORD_NAME).stat().st_mtime_ns
    assert synthetic.generate(name, size="tiny", seed=0, data_root=tmp_path) == path
    assert (path / RECORD_NAME).stat().st_mtime_ns == stamp
    synthetic.generate(name, size="tiny", seed=0, data_root=tmp_path, force=True)
    assert (path / RECORD_NAME).stat().st_mtime_ns != stamp
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no scratch left


def test_bad_generator_arguments():
    with pytest.raises(ValueError, match="no synthetic twin for 'nope'"):
        synthetic.generate("nope")
    with pytest.raises(ValueError, match="size must be one of"):
        synthetic.generate(GENERATORS[0], size="huge")


def test_dataset_root_follows_the_profile(tmp_path):
    name = GENERATORS[0]
    smoke = profiles.resolve("smoke", data_root=str(tmp_path))
    twin = dataset_root(name, smoke, size="tiny")
    assert twin.parent == tmp_path / "synthetic" / "tiny-seed0"
    quick = profiles.resolve("quick", data_root=str(tmp_path / "real"))
    with pytest.raises(DatasetError, match=rf"(?s){name}: dataset directory is missing.*vadlib data status"):
        dataset_root(name, quick)


def test_session_dataset_updates_the_data_fingerprint(tmp_path):
    nb = setup("00_thesis_at_a_glance", data_root=str(tmp_path))
    before = nb.data_fingerprint
    nb.dataset(GENERATORS[0], size="tiny")
    assert nb.data_fingerprint != before and set(nb.datasets) == {GENERATORS[0]}


def test_cli_synth_prints_the_twin_directory(tmp_path, capsys):
    name = GENERATORS[0]
    assert cli.main(["data", "synth", name, "--size", "tiny", "--root", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(tmp_path / "synthetic" / "tiny-seed0" / load_manifest(name).directory)
    assert cli.main(["data", "status", name, "--root", str(tmp_path / "synthetic" / "tiny-seed0")]) == 0
    assert "synthetic twin" in capsys.readouterr().out


def test_the_notebook_fingerprints_the_twin_its_runs_train_on_whatever_the_seed(tmp_path):
    from vadlib.data import DataSource
    from vadlib.runs.image_ad import run_config
    nb = setup("03_C_sspcab", data_root=str(tmp_path), seed=1)
    config = run_config(nb.settings, "draem", None, "mvtec_ad", "carpet")
    assert config.seed == 1 and config.data == DataSource("synthetic", str(tmp_path), twin_seed=0)
    previewed = nb.dataset("mvtec_ad", size="tiny")
    assert previewed == config.data.locate("mvtec_ad", size="tiny")
    assert previewed.parent == tmp_path / "synthetic" / "tiny-seed0"
