"""Cache identity: code units, their versions, and the keys they give the planned runs."""

import hashlib
import pkgutil
import shutil
from dataclasses import replace

import pytest

import vadlib
from vadlib import catalog, profiles
from vadlib.data.manifests import manifest_names
from vadlib.models.registry import host_names
from vadlib.runs import code, experiment

#: modules that decide no number of any run: the companion's face, data management, plots
NOT_RESULTS = {
    "vadlib", "vadlib.artifacts", "vadlib.catalog", "vadlib.cli", "vadlib.notebook", "vadlib.paths",
    "vadlib.plots", "vadlib.profiles", "vadlib.report", "vadlib.reproduce", "vadlib.reported",
    "vadlib.runs", "vadlib.runs.code", "vadlib.runs.experiment", "vadlib.data", "vadlib.data.data_commands",
    "vadlib.data.download", "vadlib.data.errors", "vadlib.data.integrity", "vadlib.data.manifests",
    "vadlib.data.preview", "vadlib.data.status", "vadlib.data.synthetic", "vadlib.metrics", "vadlib.models",
    "vadlib.synthesis", "vadlib.thermal", "vadlib.thermal.__main__", "vadlib.tracking",
    # where and under which lock a run executes, not what it computes
    "vadlib.runs.executors", "vadlib.runs.locking", "vadlib.runs.slurm_options",
}
PAPER_PACKAGES = ("vadlib.papers", "vadlib.plots")
#: computed when a table is made, from cached runs, never cached itself (Paper E's score fusion)
AT_TABLE_TIME = {"vadlib.models.late_fusion"}


def smoke_plan():
    settings = profiles.resolve("smoke", device="cpu")
    return [config for entry in catalog.NOTEBOOKS for config in catalog.planned_runs(entry, settings)]


def test_every_unit_matches_its_locked_source():
    changed = [row["unit"] for row in code.status() if row["changed"]]
    assert not changed, (
        f"the code of {', '.join(changed)} changed since its version was recorded. If results change, "
        f"`vadlib runs code --bump {' '.join(changed)}` (their runs are recomputed); if not (a refactor), "
        f"`vadlib runs code --accept {' '.join(changed)}`.")


def test_every_module_that_computes_results_belongs_to_a_unit():
    covered = {module for modules in code.UNITS.values() for module in modules}
    modules = {info.name for info in pkgutil.walk_packages(vadlib.__path__, "vadlib.")} | {"vadlib"}
    result_modules = {m for m in modules if m not in NOT_RESULTS | AT_TABLE_TIME and not m.startswith(PAPER_PACKAGES)}
    assert sorted(result_modules - covered) == []
    assert sorted(covered - modules) == []  # no unit names a module that is gone


def test_every_host_and_dataset_has_a_unit():
    for host in host_names():
        assert f"host:{host}" in code.UNITS
    assert sorted(set(manifest_names()) - set(code.DATASET_UNITS)) == []


def test_digests_ignore_docstrings_comments_and_layout_but_not_code(tmp_path):
    original = tmp_path / "a.py"
    original.write_text('"""Module."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n')
    cosmetic = tmp_path / "b.py"
    cosmetic.write_text('"""Other words."""\n# a comment\n\n\ndef f(x):\n    return (x + 1)\n')
    behaviour = tmp_path / "c.py"
    behaviour.write_text('def f(x):\n    return x + 2\n')
    assert code.normalised_source(original) == code.normalised_source(cosmetic)
    assert code.normalised_source(original) != code.normalised_source(behaviour)


def test_a_version_bump_changes_the_keys_of_the_runs_using_the_unit_and_no_other(tmp_path, monkeypatch):
    plan = smoke_plan()
    before = {id(c): experiment.config_hash(c) for c in plan}
    lock = tmp_path / "code_versions.json"
    shutil.copy(code.LOCK_FILE, lock)
    monkeypatch.setattr(code, "LOCK_FILE", lock)
    code.update(bump=["host:nsa"])
    try:
        after = {id(c): experiment.config_hash(c) for c in plan}
    finally:
        monkeypatch.undo()
        code.reload()
    changed = {id(c) for c in plan if before[id(c)] != after[id(c)]}
    uses_nsa = {id(c) for c in plan if getattr(c, "host", None) == "nsa"}
    assert uses_nsa and changed == uses_nsa


def test_unknown_units_are_refused():
    with pytest.raises(KeyError, match="unknown code unit 'host:nope'"):
        code.update(bump=["host:nope"])
    with pytest.raises(KeyError, match="no code unit"):
        code.data_units(["nope"], synthetic=True)


# Pinned keys. They change only when a field, a kind or a code version changes: a refactor that
# moves code leaves them alone, so every cached run stays valid. When a change is meant (a bump,
# a new field), update the pins in the same commit and say so.
PINNED_IMAGE_RUN = "2e57cf582fcb5301"
PINNED_SMOKE_PLAN = "74bea509b9d9133b"


def test_one_config_hash_is_pinned():
    from vadlib.runs.image_ad import run_config
    config = run_config(profiles.resolve("smoke", device="cpu"), "draem", "sspcab", "mvtec_ad", "carpet")
    assert experiment.config_hash(config) == PINNED_IMAGE_RUN
    assert experiment.config_hash(replace(config, seed=1)) != PINNED_IMAGE_RUN


def test_the_keys_of_the_whole_smoke_plan_are_pinned():
    keys = sorted({experiment.config_hash(c) for c in smoke_plan()})
    assert hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16] == PINNED_SMOKE_PLAN
