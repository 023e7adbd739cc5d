"""Executors: local worker processes and SLURM through submitit fill the same run cache a notebook
would, resume interrupted runs from their checkpoints, and say where every run stands.

The SLURM tests need a running cluster (``scripts/ci/slurm.sh start``, as ``.ci/run`` does); they
are skipped with the reason where ``sbatch``/``squeue`` are absent or do not answer."""

import errno
import io
import json
import math
import os
import threading
import time
from pathlib import Path

import pytest

from vadlib.cli import main
from vadlib.runs import executors, experiment, locking
from vadlib.runs.executors import Board, PlannedRun
from vadlib.runs.slurm_options import ExecutorError, SlurmOptions, time_minutes
from vadlib.runs.probe import Probe


def planned(*configs):
    return [PlannedRun(experiment.config_hash(c), c.kind, c.name, ("99",), 0.01, c) for c in configs]


def straight_value(probe: Probe) -> float:
    return sum(math.sin(probe.seed + step) for step in range(probe.steps))


# --------------------------------------------------------------------------------- options
@pytest.mark.parametrize("text, minutes", [("90", 90), (45, 45), ("1:30:00", 90), ("2-00:00:00", 2880),
                                           ("45:30", 46), ("1-12", 2160), ("0:00:30", 1)])
def test_time_limits_are_read_in_every_slurm_format(text, minutes):
    assert time_minutes(text) == minutes


@pytest.mark.parametrize("text", ["", "soon", "1:2:3:4", "0"])
def test_a_bad_time_limit_is_refused_naming_the_flag(text):
    with pytest.raises(ExecutorError, match="--time"):
        time_minutes(text)


def test_slurm_options_come_from_a_file_and_flags_win(tmp_path):
    config = tmp_path / "slurm.yaml"
    config.write_text("partition: gpu\naccount: vad\ntime: '2-00:00:00'\ngpus_per_run: 2\n"
                      "setup: module load cuda\n")
    options = SlurmOptions.from_file(config).with_overrides(partition="debug", time=None)
    assert (options.partition, options.account, options.time, options.gpus_per_run) == ("debug", "vad", "2-00:00:00", 2)
    parameters = options.submitit_parameters()
    # one rank per GPU: submitit starts that many tasks and exports torchrun's variables to each
    assert parameters["tasks_per_node"] == parameters["gpus_per_node"] == 2
    assert parameters["timeout_min"] == 2880 and parameters["slurm_partition"] == "debug"
    assert parameters["slurm_account"] == "vad" and parameters["slurm_setup"] == ["module load cuda"]


def test_an_unknown_or_invalid_slurm_option_is_named(tmp_path):
    config = tmp_path / "slurm.yaml"
    config.write_text("partiton: gpu\n")
    with pytest.raises(ExecutorError, match="partiton"):
        SlurmOptions.from_file(config)
    with pytest.raises(ExecutorError, match="runs_per_job"):
        SlurmOptions().with_overrides(runs_per_job=0)


def test_the_command_line_refuses_a_bad_slurm_flag_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", "--executor", "slurm", "--time", "soon", "--only", "00"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_reproduce_help_lists_the_executors(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = capsys.readouterr().out
    assert "--executor {local,slurm}" in text and "--slurm-partition" in text and "--gpus-per-run" in text


# ----------------------------------------------------------------------------------- locks
def test_the_lease_lock_excludes_a_second_holder_until_the_first_leaves(tmp_path):
    path, order = tmp_path / ".lock.lease", []
    entered = threading.Event()

    def second():
        entered.wait()
        with locking.lease(path):
            order.append("second")

    waiter = threading.Thread(target=second)
    waiter.start()
    with locking.lease(path):
        entered.set()
        time.sleep(1.0)  # the second holder polls meanwhile and must not get in
        order.append("first")
    waiter.join(timeout=10)
    assert order == ["first", "second"] and not path.exists()


def test_a_stale_lease_of_a_dead_holder_is_taken_over(tmp_path):
    path = tmp_path / ".lock.lease"
    path.write_text("node7 pid 4242 abcd since long ago\n")
    old = time.time() - 3600
    os.utime(path, (old, old))
    started = time.perf_counter()
    with locking.lease(path, stale_after_s=60):
        assert "pid %d" % os.getpid() in path.read_text()
    assert time.perf_counter() - started < 5


def test_a_live_lease_is_refreshed_so_it_never_looks_stale(tmp_path):
    path = tmp_path / ".lock.lease"
    with locking.lease(path, refresh_s=0.1):
        before = path.stat().st_mtime
        time.sleep(0.5)
        assert path.stat().st_mtime > before


def test_where_the_file_system_refuses_locks_a_run_is_stored_under_a_lease(tmp_path, monkeypatch):
    def refuse(*_):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(locking.fcntl, "flock", refuse)
    with locking.exclusive(tmp_path / ".lock") as mechanism:
        assert mechanism == "lease" and (tmp_path / ".lock.lease").exists()
    probe = Probe(steps=2, seed=3)
    assert experiment.execute(probe)["value"] == pytest.approx(straight_value(probe))
    assert not (experiment.run_dir(probe) / ".lock.lease").exists()


# ----------------------------------------------------------------------------- local workers
def test_worker_processes_fill_the_cache_with_what_a_notebook_would_compute(tmp_path):
    probes = [Probe(steps=3, seed=s) for s in range(3)]
    runs = planned(*probes)
    out = io.StringIO()
    submission = executors.run_local(runs, jobs=2, board=Board(runs, stream=out, interactive=False))
    assert [r.state for r in runs] == ["done"] * 3
    for probe in probes:
        record = experiment.run_record(probe)
        assert record["ranks"] == 1 and record["accelerator"] == "cpu"
        assert experiment.cached_results(probe)["value"] == pytest.approx(straight_value(probe), abs=0)
    assert all(Path(r.log).read_text().startswith(f"run {r.key} probe") for r in runs)
    stored = json.loads((submission.dir / "submission.json").read_text())
    assert [r["state"] for r in stored["runs"]] == ["done"] * 3
    log = out.getvalue()
    assert all(f"done      -              {r.key}" in log for r in runs)


def test_a_failing_run_is_reported_with_its_error_and_log_and_the_others_finish(tmp_path):
    good, bad = Probe(steps=2, seed=1), Probe(steps=3, seed=2, fail_at_step=1)
    runs = planned(good, bad)
    executors.run_local(runs, jobs=2, board=Board(runs, stream=io.StringIO(), interactive=False))
    states = {r.key: r for r in runs}
    assert states[experiment.config_hash(good)].state == "done"
    failed = states[experiment.config_hash(bad)]
    assert failed.state == "failed" and "probe asked to fail at step 1" in failed.error
    assert "RuntimeError: probe asked to fail at step 1" in Path(failed.log).read_text()
    report = executors.status_report()
    assert "done 1" in report and "failed 1" in report and failed.log in report


def test_an_interrupted_run_resumes_from_its_checkpoint_and_computes_the_same_value():
    """What a requeued job relies on: the run directory's checkpoint, not the process."""
    probe = Probe(steps=5, seed=7)
    ctx = experiment.RunContext(experiment.run_dir(probe), probe)
    ctx.save_checkpoint({"step": 3, "value": straight_value(Probe(steps=3, seed=7)), "starts": 1})
    results = experiment.execute(probe)
    assert (results["resumed_from_step"], results["starts"]) == (3, 2)
    assert results["value"] == pytest.approx(straight_value(probe), abs=1e-12)


def test_the_plan_to_compute_skips_cached_runs_and_puts_the_longest_first(monkeypatch):
    from vadlib import catalog, profiles

    settings = profiles.resolve("smoke")
    entries = [catalog.notebook_by_id("01"), catalog.notebook_by_id("02")]
    runs, cached = executors.plan_runs(entries, settings)
    assert cached == 0 and len(runs) == len({r.key for r in runs}) == 12
    assert [r.gpu_hours_estimate for r in runs] == sorted((r.gpu_hours_estimate for r in runs), reverse=True)
    table = executors.estimate_table(runs, cached)
    assert "01" in table and "02" in table and "total" in table


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no autogroup scheduling in this kernel")
def test_a_job_started_niced_in_a_session_of_its_own_lowers_that_session_too():
    """slurmstepd starts each job in its own session; under autogroup scheduling its inherited nice
    value would only order it against its own processes, so the job lowers its session's group."""
    import subprocess
    import sys
    code = ("import os; from pathlib import Path; from vadlib.runs import executors; "
            "executors._keep_inherited_priority(); print(Path('/proc/self/autogroup').read_text())")
    result = subprocess.run(["nice", "-n", "7", sys.executable, "-c", code], capture_output=True, text=True,
                            start_new_session=True, timeout=120, check=True)
    own = os.nice(0)  # the test may itself run niced; nice adds to it
    assert result.stdout.strip().endswith(f"nice {min(own + 7, 19)}"), result.stdout
    unchanged = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               start_new_session=True, timeout=120, check=True)
    assert unchanged.stdout.strip().endswith(f"nice {own}"), unchanged.stdout


# ---------------------------------------------------------------------------------- SLURM
SLURM_PROBLEM = executors.slurm_available()


def needs_slurm(test):
    """Skipped without a cluster; with one, put at the front of the test queue (``starts_first``):
    the end-to-end test's cold reproduce later fills the cluster's CPUs with its job array, and these
    tests' jobs would wait behind it."""
    skip = pytest.mark.skipif(SLURM_PROBLEM is not None, reason=f"no SLURM cluster here: {SLURM_PROBLEM}")
    return pytest.mark.starts_first(skip(test))


def test_without_a_cluster_the_slurm_executor_says_why(monkeypatch):
    monkeypatch.setattr(executors.shutil, "which", lambda _: None)
    with pytest.raises(ExecutorError, match="sbatch is not on PATH"):
        executors.run_slurm(planned(Probe()), SlurmOptions())


@needs_slurm
def test_a_job_array_on_slurm_fills_the_cache():
    probes = [Probe(steps=2, seconds_per_step=0.5, seed=10 + s) for s in range(3)]
    runs = planned(*probes)
    out = io.StringIO()
    executors.run_slurm(runs, SlurmOptions(time="10", runs_per_job=2), poll_s=1.0,
                        board=Board(runs, stream=out, interactive=False))
    assert [r.state for r in runs] == ["done"] * 3, out.getvalue()
    assert len({r.job_id for r in runs}) == 2 and all("_" in r.job_id for r in runs)  # two array tasks
    for probe in probes:
        assert experiment.cached_results(probe)["value"] == pytest.approx(straight_value(probe), abs=0)
    assert "running" in out.getvalue()


@needs_slurm
def test_a_job_preempted_mid_run_is_requeued_and_resumes_from_its_checkpoint():
    probe = Probe(steps=24, seconds_per_step=0.5, seed=42)
    runs = planned(probe)
    checkpoint = experiment.run_dir(probe) / "checkpoint.pt"

    def preempt_when_halfway(jobs):
        deadline = time.time() + 120
        while time.time() < deadline:
            state = experiment.RunContext(experiment.run_dir(probe), probe).load_checkpoint() \
                if checkpoint.exists() else None
            if state and state["step"] >= 4:
                jobs[0]._interrupt()  # SIGTERM, then SIGUSR2: what SLURM sends a preempted job
                return
            time.sleep(0.2)
        raise AssertionError("the probe never checkpointed")

    out = io.StringIO()
    executors.run_slurm(runs, SlurmOptions(time="10"), poll_s=1.0, on_submitted=preempt_when_halfway,
                        board=Board(runs, stream=out, interactive=False))
    assert runs[0].state == "done", out.getvalue()
    results = experiment.cached_results(probe)
    assert results["starts"] == 2 and results["resumed_from_step"] >= 4
    assert results["value"] == pytest.approx(straight_value(probe), abs=1e-12)
    log = Path(runs[0].log).read_text()
    assert "preempted" in log or "requeu" in log.lower()


@needs_slurm
def test_a_run_over_two_ranks_of_one_job_trains_data_parallel_like_one_process():
    """submitit starts one task per rank and exports torchrun's variables; the training loop joins
    a gloo group; rank 0 stores the run."""
    probe = Probe(steps=0, seed=5, train_steps=4)
    runs = planned(probe)
    out = io.StringIO()
    executors.run_slurm(runs, SlurmOptions(time="10", ranks_per_run=2), poll_s=1.0,
                        board=Board(runs, stream=out, interactive=False))
    assert runs[0].state == "done", out.getvalue() + Path(runs[0].log).read_text()
    results = experiment.cached_results(probe)
    assert results["world_size"] == 2
    assert results["losses"] == pytest.approx(probe._train(), rel=1e-4)


def test_the_probe_command_checks_local_workers(capsys):
    assert main(["runs", "probe", "--count", "2", "--seconds", "0.2", "--jobs", "2"]) == 0
    text = capsys.readouterr().out
    assert text.count("over 1 rank(s); training losses equal one process's") == 2 and "done 2" in text


def test_array_tasks_share_the_long_runs_out():
    runs = [PlannedRun(f"{i:016x}", "probe", "Probe", ("99",), hours) for i, hours in
            enumerate([8, 7, 6, 5, 1, 1, 1, 1])]
    chunks = executors._chunks(runs, 4)
    assert sorted(len(c) for c in chunks) == [4, 4]
    assert sorted(sum(r.gpu_hours_estimate for r in c) for c in chunks) == [15, 15]  # not 26 and 4
    assert sorted(r.key for c in chunks for r in c) == sorted(r.key for r in runs)


@needs_slurm
def test_a_reproduce_stopped_while_its_jobs_run_follows_them_when_started_again():
    probe = Probe(steps=6, seconds_per_step=0.5, seed=77)

    def stop_waiting(jobs):
        raise KeyboardInterrupt

    first = planned(probe)
    with pytest.raises(KeyboardInterrupt):
        executors.run_slurm(first, SlurmOptions(time="10"), on_submitted=stop_waiting,
                            board=Board(first, stream=io.StringIO(), interactive=False))
    again = planned(probe)
    executors.run_slurm(again, SlurmOptions(time="10"), poll_s=1.0,
                        board=Board(again, stream=io.StringIO(), interactive=False))
    assert again[0].state == "done" and again[0].job_id == first[0].job_id  # followed, not resubmitted
    assert experiment.cached_results(probe)["starts"] == 1


@needs_slurm
def test_a_job_cancelled_on_the_cluster_is_reported_failed_with_slurms_reason():
    probe = Probe(steps=40, seconds_per_step=0.5, seed=91)
    runs = planned(probe)

    def cancel_when_running(jobs):
        deadline = time.time() + 60
        while time.time() < deadline and not (experiment.run_dir(probe) / "checkpoint.pt").exists():
            time.sleep(0.2)
        jobs[0].cancel(check=True)

    executors.run_slurm(runs, SlurmOptions(time="10"), poll_s=1.0, vanish_grace_s=3, on_submitted=cancel_when_running,
                        board=Board(runs, stream=io.StringIO(), interactive=False))
    assert runs[0].state == "failed"
    reason = executors.sacct_state(runs[0].job_id)
    assert runs[0].error.startswith(f"job {runs[0].job_id} ")
    if reason is not None:  # accounting (slurmdbd) answers: SLURM's own word for the end
        assert "CANCELLED" in runs[0].error
    assert experiment.cached_results(probe) is None


def test_runs_sent_to_slurm_are_planned_for_the_compute_nodes_device():
    from vadlib import cli, profiles

    auto = profiles.resolve("smoke")
    assert cli.slurm_device(auto, "smoke", {}, SlurmOptions(gpus_per_run=1)).device == "cuda"
    assert cli.slurm_device(auto, "smoke", {}, SlurmOptions()).device == "cpu"
    with pytest.raises(ExecutorError, match="--gpus-per-run"):
        cli.slurm_device(profiles.resolve("smoke", device="cuda"), "smoke", {"device": "cuda"}, SlurmOptions())


def test_the_speed_measurements_of_notebooks_03_and_04_go_with_the_runs():
    """Timed where the runs go (a GPU node), so the notebooks after an executor only read them."""
    from vadlib import catalog, profiles

    runs, _ = executors.plan_runs([catalog.notebook_by_id("03"), catalog.notebook_by_id("04")], profiles.resolve("smoke"))
    measured = sorted((r.notebooks, json.loads(r.config.arguments)["host"] if r.config.what == "video_speed"
                       else "image hosts") for r in runs if r.kind == "measurement")
    assert measured == [(("03",), "ffp"), (("03",), "georgescu"), (("04",), "ffp"), (("04",), "georgescu"),
                        (("04",), "image hosts")]
