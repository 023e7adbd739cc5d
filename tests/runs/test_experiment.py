import dataclasses
import json
import pickle

import numpy as np
import pytest
import torch

from vadlib.runs import experiment


class Interrupted(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Counting(experiment.Experiment):
    """A toy training loop: `steps` steps, a checkpoint after each, optional crash at `crash_at`."""

    kind = "test_counting"

    steps: int = 5
    crash_at: int | None = None
    log: str = ""  # file where executed steps are appended

    def run(self, ctx):
        state = ctx.load_checkpoint() or {"step": 0, "total": 0}
        while state["step"] < self.steps:
            if self.crash_at is not None and state["step"] == self.crash_at and not (ctx.dir / "crashed").exists():
                (ctx.dir / "crashed").touch()
                raise Interrupted
            state = {"step": state["step"] + 1, "total": state["total"] + state["step"] + 1}
            with open(self.log, "a") as stream:
                stream.write(f"{state['step']}\n")
            ctx.save_checkpoint(state)
        return {"total": state["total"]}

    def dry_run(self, ctx):
        return {"steps": 1}

    def code_units(self):
        return ()

    def gpu_hours(self):
        return 0.5


def executed_steps(log):
    return [int(line) for line in open(log).read().split()]


def test_config_hash_is_stable_and_distinguishes_configs(tmp_path):
    a, b = Counting(steps=5, log="x"), Counting(steps=6, log="x")
    assert experiment.config_hash(a) == experiment.config_hash(Counting(steps=5, log="x"))
    assert experiment.config_hash(a) != experiment.config_hash(b)
    assert len(experiment.config_hash(a)) == 16


def test_finished_runs_are_reused(tmp_path):
    config = Counting(log=str(tmp_path / "log"))
    assert experiment.execute(config) == {"total": 15}
    assert experiment.execute(config) == {"total": 15}
    assert executed_steps(config.log) == [1, 2, 3, 4, 5]
    assert not (experiment.run_dir(config) / "checkpoint.pt").exists()
    stored = json.loads((experiment.run_dir(config) / "results.json").read_text())
    assert stored["config_hash"] == experiment.config_hash(config)


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    config = Counting(crash_at=3, log=str(tmp_path / "log"))
    with pytest.raises(Interrupted):
        experiment.execute(config)
    assert experiment.cached_results(config) is None
    assert experiment.execute(config) == {"total": 15}
    assert executed_steps(config.log) == [1, 2, 3, 4, 5]  # steps 1-3 were not repeated


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],
    lambda text: text.replace('"total": 15', '"total": 16'),
    lambda text: "not json",
])
def test_corrupt_cache_entry_is_recomputed_not_trusted(tmp_path, damage):
    config = Counting(log=str(tmp_path / "log"))
    experiment.execute(config)
    results = experiment.run_dir(config) / "results.json"
    results.write_text(damage(results.read_text()))
    assert experiment.cached_results(config) is None
    assert experiment.execute(config) == {"total": 15}
    assert len(executed_steps(config.log)) == 10


def test_unreadable_checkpoint_restarts_the_run(tmp_path):
    config = Counting(log=str(tmp_path / "log"))
    directory = experiment.run_dir(config)
    directory.mkdir(parents=True)
    (directory / "checkpoint.pt").write_bytes(b"garbage")
    assert experiment.execute(config) == {"total": 15}


def test_runs_execute_in_order_and_dry_run_uses_a_scratch_directory(tmp_path):
    configs = [Counting(steps=n, log=str(tmp_path / "log")) for n in (1, 2, 3)]
    assert experiment.run_experiments(configs) == [{"total": 1}, {"total": 3}, {"total": 6}]
    report = experiment.dry_run(Counting(log=str(tmp_path / "log2")))
    assert report["steps"] == 1 and report["seconds"] >= 0
    assert not (tmp_path / "log2").exists()


def test_results_must_be_json(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class Bad(Counting):
        def run(self, ctx):
            return {"value": object()}

    with pytest.raises(TypeError):
        experiment.execute(Bad(log=str(tmp_path / "log")))
    assert experiment.cached_results(Bad(log=str(tmp_path / "log"))) is None


def test_the_key_is_kind_fields_and_code_versions_not_the_module_path():
    config = Counting(steps=5, log="x")
    assert config.config_dict() == {"kind": "test_counting", "fields": {"steps": 5, "crash_at": None, "log": "x"},
                                    "code": {}}
    # the same class under another module and name keeps its key: only `kind` names it
    Moved = dataclasses.make_dataclass("Moved", [], bases=(Counting,), frozen=True)
    Moved.__module__ = "somewhere.else"
    assert experiment.config_hash(Moved(steps=5, log="x")) == experiment.config_hash(config)
    assert experiment.config_hash(config) == "7b485e088b6162d0"  # sha256 of the canonical JSON, computed by hand


class Payload:
    def __reduce__(self):  # what a hostile pickle would run on load
        return (exec, ("import pathlib; pathlib.Path('PWNED').touch()",))


def test_checkpoints_hold_tensors_and_plain_data_and_never_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx = experiment.RunContext(tmp_path / "run", Counting())
    state = {"model": {"w": torch.arange(3.0)}, "history": [{"loss": 1.5}], "step": 7, "name": "x"}
    ctx.save_checkpoint(state)
    loaded = ctx.load_checkpoint()
    assert torch.equal(loaded["model"]["w"], state["model"]["w"]) and loaded["history"] == [{"loss": 1.5}]
    ctx.checkpoint_path.write_bytes(pickle.dumps({"step": Payload()}))  # someone wrote a pickle there
    assert ctx.load_checkpoint() is None
    torch.save({"step": Payload()}, ctx.checkpoint_path)  # or a torch file carrying an object
    assert ctx.load_checkpoint() is None
    assert not (tmp_path / "PWNED").exists()


def test_cached_file_recomputes_a_run_whose_file_is_missing_or_corrupt(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class WithFile(Counting):
        def run(self, ctx):
            np.savez(ctx.dir / "arrays.npz", x=np.arange(4))
            return super().run(ctx)

    config = WithFile(log=str(tmp_path / "log"))
    load = lambda path: dict(np.load(path))  # noqa: E731
    assert experiment.cached_file(config, "arrays.npz", load)["x"].tolist() == [0, 1, 2, 3]
    path = experiment.run_dir(config) / "arrays.npz"
    path.write_bytes(path.read_bytes()[:40])  # truncated
    assert experiment.cached_file(config, "arrays.npz", load)["x"].tolist() == [0, 1, 2, 3]
    path.unlink()
    assert experiment.cached_file(config, "arrays.npz", load)["x"].tolist() == [0, 1, 2, 3]
    assert len(executed_steps(config.log)) == 15  # three runs: first, after truncation, after deletion
    with pytest.raises(FileNotFoundError, match="finished without writing other.npz"):
        experiment.cached_file(config, "other.npz", load)


def test_entries_list_the_cache_and_unused_ones_can_be_removed(tmp_path):
    kept, dropped = Counting(steps=1, log=str(tmp_path / "a")), Counting(steps=2, log=str(tmp_path / "b"))
    experiment.execute(kept)
    experiment.execute(dropped)
    unfinished = experiment.run_dir(Counting(steps=3, crash_at=1, log=str(tmp_path / "c")))
    with pytest.raises(Interrupted):
        experiment.execute(Counting(steps=3, crash_at=1, log=str(tmp_path / "c")))
    (experiment.run_dir(dropped) / "results.json").write_text("{}")  # damaged
    found = {entry["key"]: entry for entry in experiment.entries()}
    assert found[experiment.config_hash(kept)]["state"] == "finished"
    assert found[experiment.config_hash(dropped)]["state"] == "corrupt"
    assert found[unfinished.name]["state"] == "unfinished"
    assert all(entry["kind"] == "test_counting" and entry["bytes"] > 0 for entry in found.values())
    stale = experiment.unused({experiment.config_hash(kept)})
    assert {entry["key"] for entry in stale} == {experiment.config_hash(dropped), unfinished.name}
    assert experiment.remove(stale) > 0
    assert [entry["key"] for entry in experiment.entries()] == [experiment.config_hash(kept)]
    assert experiment.execute(kept) == {"total": 1} and executed_steps(kept.log) == [1]
