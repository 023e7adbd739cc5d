"""`vadlib reproduce`: bad input, dry run, skipping, failures, resuming, determinism, completeness,
declared outputs."""

import ast
import re
import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from vadlib import catalog, cli, paths, profiles, reported, reproduce
from vadlib.catalog import NotebookEntry


def vadlib_cli(*args, env=None, timeout=900):
    return subprocess.run([sys.executable, "-m", "vadlib.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.mark.parametrize("args, valid", [
    (["reproduce", "--profile", "medium"], "'smoke', 'quick', 'full'"),
    (["reproduce", "--only", "00,Z"], "valid: 00, 01/A"),
    (["reproduce", "--set", "epochs=3"], "valid knobs: data_source"),
    (["reproduce", "--set", "max_steps"], "KNOB=VALUE"),
    (["reproduce", "--jobs", "0"], "at least 1"),
    (["reproduce", "--only", ","], "names no notebook"),
    (["reproduce", "--set", "device=gpu"], "auto, cpu, cuda"),
    (["reproduce", "--set", "epoch_fraction=1e999"], "finite"),
    (["reproduce", "--set", "epoch_fraction=nan"], "finite"),
    (["reproduce", "--set", "epoch_fraction=-inf"], "finite"),
    (["frobnicate"], "reproduce"),
])
def test_bad_input_is_one_line_naming_valid_choices_exit_2(args, valid):
    result = vadlib_cli(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and valid in result.stderr, result.stderr


def test_dry_run_prints_the_plan_and_checks_each_model_once():
    # `make test` runs the full profile's dry run; the smoke profile checks the same code quickly
    result = vadlib_cli("reproduce", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "plan for profile 'smoke'" in result.stdout and "GPU-hours" in result.stdout
    assert all(entry.stem in result.stdout for entry in catalog.NOTEBOOKS)
    rows = {line.split()[0]: line.split()[1:4] for line in result.stdout.splitlines()
            if line.startswith(("01_", "03_", "04_"))}
    # A: 9 variants (A.4's dense row is A.3's); one dry run per attention kind and training data
    assert rows["01_A_attention_tracker"] == ["9", "5", "5"]
    # C.2 on two classes: DRAEM ± SSPCAB and five CutPaste seeds ± SSPCAB = 24 runs, 4 models;
    # video (ablation_limit 4): C.1 4 + C.4 3 new + C.5 1 new + C.3 FFP/MNAD ± SSPCAB × 2 sets 8
    # = 16 runs, + HF2-VAD and Georgescu et al. ± SSPCAB on Avenue only under smoke = 20 runs;
    # models: plain AE none/late/early/middle, FFP ± block × (Avenue's own λ_int or not), MNAD ±
    # block, HF2-VAD ± block, Georgescu ± block = 14
    assert rows["03_C_sspcab"] == ["44", "18", "18"]
    # D.3/D.4: DRAEM and NSA × 3 on two classes + 8 BraTS = 20 runs, 12 models (DRAEM ± SSPCAB
    # checked for 03); video: the ablations' and comparisons' distinct runs, 7 new models; D.5's
    # MAE ± two blocks, HF2-VAD and Georgescu + SSMCTB, SSMTL++ ± 3D SSMCTB on Avenue: 11 more runs,
    # 8 new models (the rest are 03's; HF2-VAD + SSPCAB is D.5's own, with Paper D's λ)
    assert rows["04_D_ssmctb"] == ["61", "27", "27"]


def test_a_dry_run_in_two_worker_processes_checks_what_one_process_checks():
    """``--dry-run --jobs 2`` (what `make test` runs): the same rows, the same models checked in
    the same order with the same reports, apart from the measured seconds."""
    entries, settings = reproduce.select("01,02"), profiles.resolve("smoke")

    def without_times(rows):
        return [(r.notebook, r.runs, r.distinct, r.gpu_hours,
                 [{k: v for k, v in check.items() if k not in ("seconds", "step_time_s")} for check in r.checked])
                for r in rows]
    serial = reproduce.plan(entries, settings)
    assert sum(len(r.checked) for r in serial) == 8
    assert without_times(reproduce.plan(entries, settings, jobs=2)) == without_times(serial)


def _toy_notebook(directory, stem, failing, tables=None):
    cells = [nbformat.v4.new_code_cell("profile = 'smoke'", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("raise ValueError('boom')" if failing else
                                       "import pandas\nfrom vadlib import artifacts\n"
                                       f"artifacts.set_provenance('{stem}', profile, {{}})\n"
                                       f"artifacts.save_table('{stem}_table', pandas.DataFrame({{'x': [1]}}))")]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, directory / f"{stem}.ipynb")
    return NotebookEntry(stem[:2], stem, None, stem, "nothing", tables=(f"{stem}_table",) if tables is None else tables)


@pytest.fixture
def toy_catalog(tmp_path, monkeypatch):
    directory = tmp_path / "notebooks"
    directory.mkdir()
    entries = (_toy_notebook(directory, "91_bad", failing=True), _toy_notebook(directory, "92_good", failing=False))
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", directory)
    monkeypatch.setattr(catalog, "NOTEBOOKS", entries)
    monkeypatch.setattr(reproduce, "NOTEBOOKS", entries)
    return directory, entries


def test_a_failing_notebook_is_reported_with_its_cell_and_the_others_still_run(toy_catalog, capsys):
    assert cli.main(["reproduce"]) == 1
    out = capsys.readouterr().out
    assert "91_bad" in out and "failed" in out and "cell [3]: ValueError: boom" in out  # execution count in the executed copy
    assert "92_good" in out and "1 of 2 notebooks ok" in out
    kept = nbformat.read(paths.runs_dir() / "notebooks" / "91_bad.ipynb", as_version=4)
    assert kept.cells[-1].outputs[0].ename == "ValueError"  # the failing copy is kept for inspection


def test_an_interrupted_reproduce_resumes_where_it_stopped(toy_catalog):
    directory, (bad, good) = toy_catalog
    settings = profiles.resolve()
    first = reproduce.reproduce([bad, good], settings)
    assert [o.status for o in first] == ["failed", "ok"]
    again = reproduce.reproduce([bad, good], settings)
    assert [o.status for o in again] == ["failed", "skipped"]
    _toy_notebook(directory, "91_bad", failing=False)  # the user fixes the notebook
    fixed = reproduce.reproduce([bad, good], settings)
    assert [o.status for o in fixed] == ["ok", "skipped"]
    changed = reproduce.reproduce([bad, good], profiles.resolve("smoke", max_steps=3))
    assert [o.status for o in changed] == ["ok", "ok"]  # new parameters: nothing is up to date


@pytest.mark.starts_first
def test_reproduce_writes_every_reported_table_identically_twice(tmp_path, monkeypatch, smoke_cache, cold_reproduce):
    """Two runs, the second with a cold run cache (the first shares its runs with the nbval tests:
    whichever asks first computes a run, the other reads it): every file under figures/tables/ is byte-identical; measured timings are
    written apart, to figures/timings/. The second computes its runs on an executor -- the SLURM
    cluster where one answers -- before its notebooks run."""
    monkeypatch.setenv("VADLIB_DATA", smoke_cache["VADLIB_DATA"])
    # it may compute most runs itself (beside the cold run and the other worker's tests)
    result = vadlib_cli("reproduce", "--jobs", "2", env={"VADLIB_RUNS": smoke_cache["VADLIB_RUNS"]}, timeout=2400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 of 7 notebooks ok" in result.stdout
    tables, timings = paths.tables_dir(), paths.timings_dir()
    assert sorted(p.stem for p in timings.glob("*.csv")) == ["C.6", "C.S3", "D.7"]
    for table_id in reported.table_ids():
        folder = timings if (timings / f"{table_id}.csv").exists() else tables
        assert all((folder / f"{table_id}.{ext}").exists() for ext in ("csv", "md", "tex")), table_id
    index = json.loads((paths.figures_dir() / "index.json").read_text())["artifacts"]
    assert {f"table:{t}" for t in reported.table_ids()} <= set(index)
    for record in index.values():
        assert all(record[key] is not None for key in ("notebook", "profile", "packages", "data_fingerprint",
                                                       "wall_time_s", "created_at"))
        assert all((paths.figures_dir() / f).exists() for f in record["files"])

    skipped = vadlib_cli("reproduce", "--only", "00,C", env={"VADLIB_RUNS": smoke_cache["VADLIB_RUNS"]})
    assert skipped.returncode == 0 and skipped.stdout.count("skipped") == 2

    # the cold run (started in the background beside the nbval tests, see conftest) computed the
    # plan first, through the SLURM cluster where one answers, else in two local worker processes;
    # its notebooks then only read the cache
    returncode, output = cold_reproduce.wait()
    if os.environ.get("VADLIB_SCRATCH"):  # for the CI log
        log = Path(os.environ["VADLIB_SCRATCH"]) / "cold-reproduce.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"vadlib reproduce {' '.join(cold_reproduce.args)}\n{output}")
    assert returncode == 0, output[-5000:]
    assert re.search(r"runs: queued 0  running 0  done \d+\n", output), output[-5000:]
    assert "computed in the notebooks" not in output, "the plan misses runs the notebooks make"
    second = cold_reproduce.figures
    first_csvs = sorted(p.name for p in tables.glob("*.csv"))
    assert first_csvs == sorted(p.name for p in (second / "tables").glob("*.csv"))
    for name in first_csvs:
        assert (tables / name).read_bytes() == (second / "tables" / name).read_bytes(), name


def test_an_artifact_changed_since_the_last_run_is_regenerated(toy_catalog):
    _, (_, good) = toy_catalog
    settings = profiles.resolve()
    assert reproduce.reproduce([good], settings)[0].status == "ok"
    assert reproduce.reproduce([good], settings)[0].status == "skipped"
    table = paths.tables_dir() / "92_good_table.csv"
    table.write_text("garbage\n")
    again = reproduce.reproduce([good], settings)[0]
    assert again.status == "ok" and again.artifacts == 1
    assert table.read_text() == "x\n1\n"
    umask = os.umask(0)
    os.umask(umask)
    assert table.stat().st_mode & 0o777 == 0o666 & ~umask, "artifacts follow the umask, not mkstemp's 0600"


def test_a_notebook_whose_paired_script_differs_is_not_run(toy_catalog):
    directory, (_, good) = toy_catalog
    (directory / "92_good.py").write_text("# %%\nprint('edited only here')\n")
    outcome = reproduce.reproduce([good], profiles.resolve())[0]
    assert outcome.status == "failed" and "jupytext --sync" in outcome.error


# ------------------------------------------------------------------------------ declared outputs

def test_check_outputs_requires_every_declared_id_and_warns_about_undeclared_ones():
    entry = NotebookEntry("93", "93_toy", "C", "toy", "nothing", tables=("C.1", "C.2"),
                          figures=("C.3_maps_carpet", "C.4_curve"), varying=("C.3_maps_*",))
    written = ["table:C.1", "table:C.2", "figure:C/C.3_maps_carpet", "figure:C/C.4_curve"]
    assert reproduce.check_outputs(entry, written) == reproduce.OutputCheck("93_toy")
    # a figure id is matched without its paper; a table id never matches a figure's
    check = reproduce.check_outputs(entry, ["table:C.1", "table:C.4_curve", "figure:thesis/C.3_maps_carpet",
                                            "figure:C/C.3_maps_bottle"])
    assert check.missing == ("table C.2", "figure C.4_curve")
    assert check.undeclared == ("table C.4_curve", "figure C.3_maps_bottle")
    assert check.error() == "93_toy did not write declared table C.2, figure C.4_curve"
    assert check.warning() == "93_toy wrote undeclared table C.4_curve, figure C.3_maps_bottle"
    # other parameters: a varying id may be missing or extra; the others are still required
    other = reproduce.check_outputs(entry, ["table:C.1", "figure:C/C.3_maps_bottle"], default=False)
    assert other.missing == ("table C.2", "figure C.4_curve") and other.undeclared == ()
    assert reproduce.default_parameters(reproduce.notebook_parameters(profiles.resolve()))
    assert not reproduce.default_parameters(reproduce.notebook_parameters(profiles.resolve("full")))
    assert not reproduce.default_parameters(reproduce.notebook_parameters(profiles.resolve("smoke", max_steps=3)))


def without_call(source, method, artifact_id):
    """``source`` with the call ``nb.<method>(..., artifact_id, ...)`` replaced by its data argument."""
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
                and any(isinstance(a, ast.Constant) and a.value == artifact_id for a in node.args)):
            lines = source.splitlines(keepends=True)
            offset = [0]
            for line in lines:
                offset.append(offset[-1] + len(line.encode()))
            start = offset[node.lineno - 1] + node.col_offset
            end = offset[node.end_lineno - 1] + node.end_col_offset
            encoded = source.encode()
            kept = ast.get_source_segment(source, node.args[1]) if method == "table" else "None"
            return (encoded[:start] + kept.encode() + encoded[end:]).decode()
    raise AssertionError(f"no nb.{method} call writes {artifact_id!r}")


def test_a_notebook_that_no_longer_writes_a_declared_table_fails_naming_it(tmp_path, monkeypatch, capsys):
    entry = catalog.notebook_by_id("00")
    assert "thesis_errata" in entry.tables
    source = without_call(entry.script.read_text(), "table", "thesis_errata")
    assert 'nb.table("thesis_errata"' not in source and "errata[[" in source
    directory = tmp_path / "notebooks"
    directory.mkdir()
    notebook = jupytext.reads(source, fmt="py:percent")
    notebook.metadata["kernelspec"] = nbformat.read(entry.ipynb, as_version=4).metadata["kernelspec"]
    nbformat.write(notebook, directory / entry.ipynb.name)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", directory)

    assert cli.main(["reproduce", "--only", "00"]) == 1
    out = capsys.readouterr().out
    assert "00_thesis_at_a_glance did not write declared table thesis_errata" in out
    assert "0 of 1 notebooks ok" in out
    written = reproduce.written_by(entry)
    assert "table:thesis_audit" in written and "table:thesis_errata" not in written  # the rest ran


def test_a_notebook_missing_a_declared_output_is_run_again_and_undeclared_ones_warn(toy_catalog):
    directory, _ = toy_catalog
    short = _toy_notebook(directory, "93_short", failing=False, tables=("93_never",))
    settings = profiles.resolve()
    for _ in range(2):  # no stamp after a failure: the next reproduce runs it again
        outcome = reproduce.reproduce([short], settings)[0]
        assert outcome.status == "failed" and outcome.error == "93_short did not write declared table 93_never"
    assert outcome.artifacts == 1
    assert "warning: 93_short wrote undeclared table 93_short_table" in reproduce.summary([outcome])
