import dataclasses
import json

import pytest

from vadlib import experiments


class Interrupted(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Counting(experiments.Experiment):
    """A toy training loop: `steps` steps, a checkpoint after each, optional crash at `crash_at`."""

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

    def gpu_hours(self):
        return 0.5


def executed_steps(log):
    return [int(line) for line in open(log).read().split()]


def test_config_hash_is_stable_and_distinguishes_configs(tmp_path):
    a, b = Counting(steps=5, log="x"), Counting(steps=6, log="x")
    assert experiments.config_hash(a) == experiments.config_hash(Counting(steps=5, log="x"))
    assert experiments.config_hash(a) != experiments.config_hash(b)
    assert len(experiments.config_hash(a)) == 16


def test_finished_runs_are_reused(tmp_path):
    config = Counting(log=str(tmp_path / "log"))
    assert experiments.execute(config) == {"total": 15}
    assert experiments.execute(config) == {"total": 15}
    assert executed_steps(config.log) == [1, 2, 3, 4, 5]
    assert not (experiments.run_dir(config) / "checkpoint.pkl").exists()
    stored = json.loads((experiments.run_dir(config) / "results.json").read_text())
    assert stored["config_hash"] == experiments.config_hash(config)


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    config = Counting(crash_at=3, log=str(tmp_path / "log"))
    with pytest.raises(Interrupted):
        experiments.execute(config)
    assert experiments.cached_results(config) is None
    assert experiments.execute(config) == {"total": 15}
    assert executed_steps(config.log) == [1, 2, 3, 4, 5]  # steps 1-3 were not repeated


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],
    lambda text: text.replace('"total": 15', '"total": 16'),
    lambda text: "not json",
])
def test_corrupt_cache_entry_is_recomputed_not_trusted(tmp_path, damage):
    config = Counting(log=str(tmp_path / "log"))
    experiments.execute(config)
    results = experiments.run_dir(config) / "results.json"
    results.write_text(damage(results.read_text()))
    assert experiments.cached_results(config) is None
    assert experiments.execute(config) == {"total": 15}
    assert len(executed_steps(config.log)) == 10


def test_unreadable_checkpoint_restarts_the_run(tmp_path):
    config = Counting(log=str(tmp_path / "log"))
    directory = experiments.run_dir(config)
    directory.mkdir(parents=True)
    (directory / "checkpoint.pkl").write_bytes(b"garbage")
    assert experiments.execute(config) == {"total": 15}


def test_local_executor_runs_in_order_and_dry_run_uses_a_scratch_directory(tmp_path):
    configs = [Counting(steps=n, log=str(tmp_path / "log")) for n in (1, 2, 3)]
    assert experiments.run_experiments(configs) == [{"total": 1}, {"total": 3}, {"total": 6}]
    report = experiments.dry_run(Counting(log=str(tmp_path / "log2")))
    assert report["steps"] == 1 and report["seconds"] >= 0
    assert not (tmp_path / "log2").exists()


def test_results_must_be_json(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class Bad(Counting):
        def run(self, ctx):
            return {"value": object()}

    with pytest.raises(TypeError):
        experiments.execute(Bad(log=str(tmp_path / "log")))
    assert experiments.cached_results(Bad(log=str(tmp_path / "log"))) is None
