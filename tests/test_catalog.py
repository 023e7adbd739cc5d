"""The catalog: notebooks found by number, letter or stem, and the tables and figures each declares,
checked against the ``nb.table`` / ``nb.figure`` calls in its source."""

import fnmatch
import textwrap

import pytest

from notebook_tools import UNKNOWN, artifact_calls
from vadlib import catalog, reported
from vadlib.catalog import NOTEBOOKS

IDS = [e.stem for e in NOTEBOOKS]


def test_artifact_calls_reads_literals_literal_loops_and_marks_the_rest_as_patterns():
    source = textwrap.dedent('''
        nb.table("T.1")
        display(nb.table("T.2", reproduced=frame, caption="x"))
        other.table("not_an_artifact")
        for table_id in ("T.3", "T.4"):
            display(nb.table(table_id, reproduced=make(table_id)))
        for host in ["a", "b"]:
            for category in classes(settings):
                nb.figure(fig, f"F_{host}_{category}")
            nb.figure(fig, f"G_{host}", paper="thesis")
        nb.figure(fig=fig, figure_id="H")
        nb.table(name_from_elsewhere)
    ''')
    assert artifact_calls(source) == {"table": ["T.1", "T.2", "T.3", "T.4", UNKNOWN],
                                      "figure": ["F_a_*", "F_b_*", "G_a", "G_b", "H"]}


@pytest.mark.parametrize("entry", NOTEBOOKS, ids=IDS)
def test_declared_outputs_match_the_calls_in_the_notebook_source(entry):
    calls = artifact_calls(entry.script.read_text())
    for kind, declared in (("table", entry.tables), ("figure", entry.figures)):
        literal = [i for i in calls[kind] if UNKNOWN not in i]
        patterns = [i for i in calls[kind] if UNKNOWN in i]
        written = [i for i in declared if i not in literal and not any(fnmatch.fnmatchcase(i, p) for p in patterns)]
        assert not written, f"{entry.stem} declares {kind}s {written}, which no nb.{kind} call in {entry.script.name} writes"
        undeclared = sorted(set(literal) - set(declared))
        assert not undeclared, f"{entry.stem}: add {kind}s {undeclared} to its catalog entry"
        # an id the source cannot spell (a loop over the profile's classes) depends on the parameters
        hidden = [p for p in patterns if not entry.varies(p)]
        assert not hidden, (f"{entry.stem}: {kind} ids {hidden} are not known before running: loop over a literal "
                            f"tuple, or declare the smoke ids and add the pattern to `varying`")
        assert len(set(declared)) == len(declared), f"{entry.stem} declares a {kind} twice"


@pytest.mark.parametrize("entry", NOTEBOOKS, ids=IDS)
def test_varying_patterns_name_declared_ids(entry):
    for pattern in entry.varying:
        assert any(fnmatch.fnmatchcase(i, pattern) for i in entry.tables + entry.figures), (entry.stem, pattern)


def test_every_reported_table_is_written_by_exactly_one_notebook():
    # figures/index.json keys tables by id alone: two notebooks writing one id would overwrite each other
    tables = [t for entry in NOTEBOOKS for t in entry.tables]
    assert len(tables) == len(set(tables))
    assert set(reported.table_ids()) <= set(tables)


def test_notebook_by_id_accepts_number_letter_and_stem():
    assert catalog.notebook_by_id("03") == catalog.notebook_by_id("c") == catalog.notebook_by_id("03_C_sspcab")
    with pytest.raises(ValueError, match="valid: 00, 01/A"):
        catalog.notebook_by_id("Z")
