"""The files finished runs keep (examples.npz, masks.npz, model.pt): written atomically, recorded
with their size and sha256 in results.json, checked before loading, and recomputed once when
truncated or altered; runs cached before the record existed are loaded unverified."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

import numpy as np
import pytest

from vadlib import profiles
from vadlib.runs import experiment, image_ad, pretraining, tracking, video_ad
from vadlib.runs.experiment import Budget

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclasses.dataclass(frozen=True)
class Keeping(experiment.Experiment):
    """A toy run that keeps ``values`` as an uncompressed ``values.npy`` and counts its executions."""

    kind = "test_keeping"

    log: str = ""
    values: tuple = (1.0, 2.0, 3.0, 4.0)

    def run(self, ctx):
        with open(self.log, "a") as stream:
            stream.write("run\n")
        array = np.asarray(self.values, dtype=np.float64)
        ctx.write_file("values.npy", lambda out: np.save(out, array))
        return {"n": len(self.values)}

    def dry_run(self, ctx):
        return {}

    def code_units(self):
        return ()


def executions(config) -> int:
    return open(config.log).read().count("run\n")


def flip_a_byte(path, position=None):
    data = bytearray(path.read_bytes())
    position = len(data) // 2 if position is None else position
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# ------------------------------------------------------------------------------- on a toy run

def test_a_finished_run_records_size_and_sha256_of_each_file_it_keeps(tmp_path):
    config = Keeping(log=str(tmp_path / "log"))
    experiment.execute(config)
    directory = experiment.run_dir(config)
    data = (directory / "values.npy").read_bytes()
    stored = json.loads((directory / "results.json").read_text())
    assert stored["files"] == {"values.npy": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}


def test_a_file_altered_where_the_loader_cannot_tell_is_caught_by_its_checksum(tmp_path, caplog):
    config = Keeping(log=str(tmp_path / "log"))
    original = experiment.cached_file(config, "values.npy", np.load)
    path = experiment.run_dir(config) / "values.npy"
    flip_a_byte(path, position=path.stat().st_size - 1)  # the last value's last byte
    assert not np.array_equal(np.load(path), original)  # np.load alone would return wrong numbers
    with caplog.at_level(logging.WARNING, logger="vadlib.runs.experiment"):
        again = experiment.cached_file(config, "values.npy", np.load)
    assert np.array_equal(again, original) and executions(config) == 2
    assert "values.npy differs from its recorded sha256" in caplog.text


def test_the_record_itself_is_covered_by_the_results_checksum(tmp_path):
    config = Keeping(log=str(tmp_path / "log"))
    experiment.execute(config)
    results = experiment.run_dir(config) / "results.json"
    stored = json.loads(results.read_text())
    stored["files"]["values.npy"]["bytes"] += 1
    results.write_text(json.dumps(stored))
    assert experiment.cached_results(config) is None


def test_a_file_still_unreadable_after_recomputing_raises_naming_the_run_and_the_file(tmp_path):
    config = Keeping(log=str(tmp_path / "log"))

    def refuse(path):
        raise ValueError("not what the reader expects")
    with pytest.raises(experiment.CorruptRunFile) as raised:
        experiment.cached_file(config, "values.npy", refuse)
    assert experiment.config_hash(config) in str(raised.value) and "values.npy" in str(raised.value)
    assert executions(config) == 2  # recomputed once, not forever


def test_runs_cached_before_files_were_recorded_are_loaded_unverified(tmp_path):
    config = Keeping(log=str(tmp_path / "log"))
    experiment.execute(config)
    directory = experiment.run_dir(config)
    # the results file as vadlib wrote it before: key, results, a checksum of both, wall time
    body = {"config_hash": experiment.config_hash(config), "results": {"n": 4}}
    checksum = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    (directory / "results.json").write_text(json.dumps({**body, "checksum": checksum, "wall_time_s": 1.0}))
    assert experiment.cached_results(config) == {"n": 4}
    assert experiment.cached_file(config, "values.npy", np.load).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert executions(config) == 1  # nothing recomputed
    truncate(directory / "values.npy")  # unreadable: recomputed as before
    assert experiment.cached_file(config, "values.npy", np.load).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert executions(config) == 2 and "files" in json.loads((directory / "results.json").read_text())


def test_a_crash_while_writing_a_kept_file_leaves_no_partial_file(tmp_path, monkeypatch):
    config = Keeping(log=str(tmp_path / "log"))
    real_save = np.save

    def save_half_then_fail(stream, array):
        real_save(stream, array)
        stream.truncate(stream.tell() // 2)
        raise OSError("disk full")
    with monkeypatch.context() as patched, pytest.raises(OSError, match="disk full"):
        patched.setattr(np, "save", save_half_then_fail)
        experiment.execute(config)
    directory = experiment.run_dir(config)
    assert sorted(p.name for p in directory.iterdir()) == [".lock", "config.json"]
    assert experiment.cached_file(config, "values.npy", np.load).tolist() == [1.0, 2.0, 3.0, 4.0]


# ------------------------------------------------------------------------------ on real runs

def pretraining_run():
    return pretraining.run_config(profiles.resolve("smoke", max_steps=4, eval_limit=20), ("mae", (), ()))


def image_run():
    return image_ad.ImageAnomalyRun(host="nsa", block="sspcab", dataset="mvtec_ad", category="grid",
                                    image_size=64, budget=Budget(max_steps=2, eval_limit=8))


def video_run():
    return video_ad.VideoAnomalyRun("plain_ae", "sspcab", "avenue", budget=Budget(max_steps=2, eval_limit=16))


def tracker_run():
    return tracking.TrackerRun(attention="explicit", explicit_stage=2, budget=Budget(max_steps=2, eval_limit=4))


def arrays_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


#: (the run, the file it keeps, its reader, the reader's content as a dict of arrays)
KEPT = {
    "masks.npz": (pretraining_run, pretraining.load_masks, lambda kept: kept),
    "examples.npz": (image_run, image_ad.load_examples, lambda kept: kept),
    "examples.npz (video)": (video_run, video_ad.load_example_maps, lambda kept: kept),
    "model.pt": (tracker_run, tracking.load_model, lambda model: model.state_dict()),
}


@pytest.mark.parametrize("kept", KEPT)
def test_a_truncated_or_altered_file_of_a_real_run_is_recomputed_to_the_same_content(kept, caplog):
    make, read, content = KEPT[kept]
    config = make()
    original = content(read(config))
    path = experiment.run_dir(config) / kept.split()[0]
    for damage in (truncate, flip_a_byte):
        damage(path)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vadlib.runs.experiment"):
            again = content(read(config))
        assert arrays_equal(again, original), damage.__name__
        assert f"{path}" in caplog.text and "recomputing run" in caplog.text


def test_a_crash_while_a_real_run_writes_its_examples_leaves_no_partial_file(monkeypatch):
    config = image_run()
    real_savez = np.savez_compressed

    def write_half_then_fail(stream, **arrays):
        real_savez(stream, **arrays)
        stream.truncate(stream.tell() // 2)
        raise OSError("disk full")
    with monkeypatch.context() as patched, pytest.raises(OSError, match="disk full"):
        patched.setattr(np, "savez_compressed", write_half_then_fail)
        experiment.execute(config)
    directory = experiment.run_dir(config)
    assert not (directory / image_ad.EXAMPLES_FILE).exists() and not (directory / "results.json").exists()
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
    examples = image_ad.load_examples(config)  # the run is done again, whole this time
    assert len(examples["image"]) == len(examples["score"]) > 0
    recorded = json.loads((directory / "results.json").read_text())["files"][image_ad.EXAMPLES_FILE]
    assert recorded["sha256"] == hashlib.sha256((directory / image_ad.EXAMPLES_FILE).read_bytes()).hexdigest()
