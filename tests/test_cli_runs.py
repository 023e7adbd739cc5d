"""`vadlib runs list|gc|code`: the run cache from the command line."""

import dataclasses
import shutil

import pytest

from vadlib import catalog, cli, profiles
from vadlib.runs import code, experiment


@dataclasses.dataclass(frozen=True)
class Toy(experiment.Experiment):
    kind = "test_toy"
    value: int = 0

    def run(self, ctx):
        return {"value": self.value}

    def dry_run(self, ctx):
        return {}

    def code_units(self):
        return ()


def test_list_and_gc_keep_what_a_plan_uses_and_remove_the_rest(monkeypatch, capsys):
    planned, orphan = Toy(1), Toy(2)
    experiment.execute(planned)
    experiment.execute(orphan)
    monkeypatch.setattr(catalog, "planned_runs", lambda entry, settings: [planned] if entry.number == "01" else [])
    assert cli.main(["runs", "list", "--profile", "smoke"]) == 0
    listed = capsys.readouterr().out
    assert f"{experiment.config_hash(planned)}  test_toy" in listed and "planned smoke:01" in listed
    assert f"{experiment.config_hash(orphan)}  test_toy" in listed and "unplanned" in listed
    assert cli.main(["runs", "gc", "--profile", "smoke"]) == 0  # a preview: nothing removed
    assert f"would remove {experiment.config_hash(orphan)}" in capsys.readouterr().out
    assert experiment.run_dir(orphan).exists()
    assert cli.main(["runs", "gc", "--profile", "smoke", "--yes"]) == 0
    assert "removed 1 runs" in capsys.readouterr().out
    assert experiment.run_dir(planned).exists() and not experiment.run_dir(orphan).exists()


def test_code_reports_changed_units_and_records_a_bump_or_a_refactor(tmp_path, monkeypatch, capsys):
    lock = tmp_path / "code_versions.json"
    shutil.copy(code.LOCK_FILE, lock)
    monkeypatch.setattr(code, "LOCK_FILE", lock)
    entries = code.load_lock()
    entries["blocks"]["digest"] = "sha256:stale"
    entries["host:nsa"]["digest"] = "sha256:stale"
    code.save_lock(entries)
    code.reload()
    try:
        assert cli.main(["runs", "code"]) == 1
        out = capsys.readouterr().out
        assert "blocks" in out and "changed" in out
        assert cli.main(["runs", "code", "--bump", "host:nsa", "--accept", "blocks"]) == 0
        after = code.load_lock()
        assert after["host:nsa"]["version"] == entries["host:nsa"]["version"] + 1
        assert after["blocks"]["version"] == entries["blocks"]["version"]
        assert not any(row["changed"] for row in code.status())
        with pytest.raises(SystemExit) as refused:
            cli.main(["runs", "code", "--bump", "host:nope"])
        assert refused.value.code == 2 and "unknown code unit 'host:nope'" in capsys.readouterr().err
    finally:
        monkeypatch.undo()
        code.reload()


def test_planned_runs_come_from_the_papers_module_each_notebook_names():
    settings = profiles.resolve("smoke", device="cpu")
    for entry in catalog.NOTEBOOKS:
        runs = catalog.planned_runs(entry, settings)
        assert (entry.papers is None) == (runs == [])
