"""The notebooks: paired with their scripts, stripped, and executed by nbval on default parameters,
writing every table and figure their catalog entry declares."""

import dataclasses
import subprocess
import sys

import nbformat
import pytest

from notebook_tools import assert_declared_outputs, check_cells, expected_output, with_expected_outputs
from vadlib import artifacts, reproduce
from vadlib.catalog import NOTEBOOKS, notebook_by_id

IDS = [e.stem for e in NOTEBOOKS]


def run_nbval(notebook_path):
    """nbval in lax mode (only NBVAL_CHECK_OUTPUT cells compared) on one notebook, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "-q",
         str(notebook_path)], capture_output=True, text=True, cwd=notebook_path.parent, timeout=900)


@pytest.mark.parametrize("entry", NOTEBOOKS, ids=IDS)
def test_paired_script_and_notebook_are_in_sync(entry):
    assert entry.ipynb.exists() and entry.script.exists()
    assert not reproduce.out_of_sync(entry), f"{entry.stem}: run `jupytext --sync notebooks/{entry.stem}.py`"


@pytest.mark.parametrize("entry", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_stripped_with_parameters_and_a_check_cell(entry):
    notebook = nbformat.read(entry.ipynb, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "outputs must be stripped"
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1
    for name in ("profile", "data_root", "device", "seed", "overrides"):
        assert f"{name} =" in parameters[0].source
    assert check_cells(notebook), "each notebook needs at least one NBVAL_CHECK_OUTPUT cell"
    assert all(expected_output(c.source) for c in check_cells(notebook))
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("entry", NOTEBOOKS, ids=IDS)
def test_nbval_executes_notebook_and_matches_checked_outputs(entry, tmp_path, smoke_runs):
    reference = tmp_path / entry.ipynb.name
    nbformat.write(with_expected_outputs(nbformat.read(entry.ipynb, as_version=4)), reference)
    result = run_nbval(reference)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert_declared_outputs(entry)  # the kernel recorded them in VADLIB_FIGURES/index.json


def test_declared_outputs_check_after_nbval_names_what_the_notebook_did_not_write():
    # what the nbval test checks after executing, on an index written here: notebook 05's printed tables
    entry = dataclasses.replace(notebook_by_id("05"), tables=("E.1", "5.5", "E.2"), figures=())
    artifacts.set_provenance(entry.stem, "smoke", {})
    for table_id in entry.tables[:-1]:
        artifacts.save_table(table_id)
    with pytest.raises(AssertionError, match=f"{entry.stem} did not write declared table {entry.tables[-1]}"):
        assert_declared_outputs(entry)
    artifacts.save_table(entry.tables[-1])
    assert assert_declared_outputs(entry).undeclared == ()
    artifacts.save_table("A.1")  # another paper's table: only a warning
    assert assert_declared_outputs(entry).undeclared == ("table A.1",)
    artifacts.set_provenance(None, None, {})


def test_nbval_check_fails_when_the_checked_output_changes(tmp_path, smoke_runs):
    entry = NOTEBOOKS[1]
    notebook = nbformat.read(entry.ipynb, as_version=4)
    cell = check_cells(notebook)[-1]
    cell.source = cell.source.replace("cell sum", "cell total", 1)
    reference = tmp_path / entry.ipynb.name
    nbformat.write(with_expected_outputs(notebook), reference)
    result = run_nbval(reference)
    assert result.returncode != 0 and "cell total" in result.stdout
