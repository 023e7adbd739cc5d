import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from vadlib import artifacts, paths, reported

PROVENANCE_FIELDS = {"id", "kind", "paper", "notebook", "profile", "parameters", "git_commit", "git_dirty",
                     "packages", "data_fingerprint", "wall_time_s", "created_at", "files"}


@pytest.fixture
def provenance():
    return artifacts.set_provenance("03_C_sspcab", "smoke", {"profile": "smoke", "seed": 0})


def test_reported_table_is_written_as_printed_with_complete_provenance(provenance):
    artifacts.save_table("C.2")
    csv = paths.tables_dir() / "C.2.csv"
    assert csv.read_text() == (reported.TABLES_DIR / "C.2.csv").read_text().replace("\r\n", "\n")
    assert "69.9" in (paths.tables_dir() / "C.2.md").read_text()
    tex = (paths.tables_dir() / "C.2.tex").read_text()
    assert r"\caption{Table C.2." in tex and r"(in \%)" in tex
    record = artifacts.read_index()["table:C.2"]
    assert PROVENANCE_FIELDS <= set(record)
    assert record["paper"] == "C" and record["notebook"] == "03_C_sspcab" and record["layout"] == "reported"
    assert record["data_fingerprint"] == artifacts.fingerprint([reported.TABLES_DIR / "C.2.csv"])
    assert record["packages"]["pandas"] == pd.__version__
    assert set(record["files"]) == {"tables/C.2.csv", "tables/C.2.md", "tables/C.2.tex"}


def test_compare_keeps_every_reported_row_and_marks_the_ones_not_run(provenance):
    table = reported.load_table("C.2")
    produced = pd.DataFrame({"Group": ["Texture", "Object", "Extra"], "Class": ["Carpet", "Zipper", "Foam"],
                             "DRAEM loc AUROC": [96.0, 98.8, 50.0]})
    frame = artifacts.save_table("C.2", produced)
    assert len(frame) == len(table) + 1
    assert list(frame.Class[: len(table)]) == list(table.Class)
    status = dict(zip(frame.Class, frame.status))
    assert status["Carpet"] == status["Zipper"] == "partly reproduced"  # one of ten columns
    assert status["Grid"] == "not run" and status["Foam"] == "reproduced only"
    carpet = frame[frame.Class == "Carpet"].iloc[0]
    assert carpet["DRAEM loc AUROC | reported"] == 95.5 and carpet["DRAEM loc AUROC | reproduced"] == 96.0
    assert carpet["DRAEM loc AUROC | Δ"] == pytest.approx(0.5)
    grid = frame[frame.Class == "Grid"].iloc[0]
    assert grid["DRAEM loc AUROC | reported"] == 99.7 and np.isnan(grid["DRAEM loc AUROC | reproduced"])
    assert np.isnan(carpet["DRAEM loc AP | reproduced"]) and carpet["DRAEM loc AP | reported"] == 53.5
    assert artifacts.read_index()["table:C.2"]["layout"] == "reported-vs-reproduced"


def test_compare_status_is_decided_per_cell():
    table = reported.load_table("A.3")
    full = table.copy()
    full.loc[1, ["MOTA", "IDF1"]] = [np.nan, np.nan]
    status = list(artifacts.compare(table, full).status)
    assert status == ["reproduced", "not run", "reproduced"]
    full.loc[2, "MOTA"] = np.nan
    assert list(artifacts.compare(table, full).status)[2] == "partly reproduced"


def test_cells_the_thesis_leaves_empty_do_not_make_a_row_partial():
    d7 = reported.load_table("D.7")  # DRAEM's row prints only baseline and +3D SSMCTB
    produced = pd.DataFrame([{"Method": "Zavrtanik et al. [56]", "Time baseline (ms)": 30.0,
                              "Time +3D SSMCTB (ms)": 31.0}])
    status = artifacts.compare(d7, produced).set_index("Method").status
    assert status["Zavrtanik et al. [56]"] == "reproduced" and status["Liu et al. [42]"] == "not run"


@pytest.mark.parametrize("produced, message", [
    (pd.DataFrame({"Class": ["Carpet"], "DRAEM loc AUROC": [1.0]}), "lacks label columns"),
    (pd.DataFrame({"Group": ["Texture"], "Class": ["Carpet"], "AUROC": [1.0]}), "not in the reported table"),
    (pd.DataFrame({"Group": ["Texture"] * 2, "Class": ["Carpet"] * 2, "DRAEM loc AUROC": [1.0, 2.0]}), "duplicate"),
])
def test_compare_rejects_malformed_reproductions(produced, message):
    with pytest.raises(ValueError, match=message):
        artifacts.compare(reported.load_table("C.2"), produced)


def test_reproduced_only_table_and_unknown_table(provenance):
    frame = pd.DataFrame({"run": ["a", "b"], "auc": [0.5, 0.75]})
    artifacts.save_table("extra_results", frame, paper="C", caption="An extra table.")
    assert (paths.tables_dir() / "extra_results.csv").read_text() == "run,auc\na,0.5\nb,0.75\n"
    with pytest.raises(ValueError, match="neither a reported table"):
        artifacts.save_table("no_such_table")


def test_a_crash_while_writing_leaves_the_previous_artifact_intact(provenance, monkeypatch):
    artifacts.save_table("A.1")
    before = (paths.tables_dir() / "A.1.csv").read_bytes()

    def broken_latex(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(artifacts, "_latex", broken_latex)
    with pytest.raises(RuntimeError):
        artifacts.save_table("A.1", pd.DataFrame({"Tracker": ["JDE"], "Ref": ["[10]"], "MOTA": [1.0]}).iloc[:, :2])
    assert (paths.tables_dir() / "A.1.csv").read_bytes() == before
    assert not list(paths.tables_dir().glob(".*.tmp"))


def test_atomic_write_cleans_up_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def failing_replace(*args):
        raise OSError("boom")
    monkeypatch.setattr(artifacts.os, "replace", failing_replace)
    with pytest.raises(OSError):
        artifacts.atomic_write_text(target, "new")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_atomic_write_streams_into_place_and_a_failing_writer_leaves_the_old_file(tmp_path):
    target = tmp_path / "arrays.npz"
    artifacts.atomic_write(target, lambda stream: np.savez_compressed(stream, x=np.arange(5)))
    with np.load(target) as stored:
        assert stored["x"].tolist() == [0, 1, 2, 3, 4]
    before = target.read_bytes()

    def write_half_then_fail(stream):
        stream.write(before[: len(before) // 2])
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        artifacts.atomic_write(target, write_half_then_fail)
    assert target.read_bytes() == before and list(tmp_path.iterdir()) == [target]


def test_figures_are_png_and_pdf_deterministic_and_indexed(provenance):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    first = [p.read_bytes() for p in artifacts.save_figure(fig, "line", "C")]
    second = [p.read_bytes() for p in artifacts.save_figure(fig, "line", "C")]
    plt.close(fig)
    assert first == second and first[0][:4] == b"\x89PNG" and first[1][:4] == b"%PDF"
    record = artifacts.read_index()["figure:C/line"]
    assert set(record["files"]) == {"C/line.png", "C/line.pdf"}


def test_index_is_valid_json_with_one_record_per_artifact(provenance):
    for table_id in ("A.1", "A.2", "A.1"):
        artifacts.save_table(table_id)
    index = json.loads((paths.figures_dir() / "index.json").read_text())["artifacts"]
    assert sorted(index) == ["table:A.1", "table:A.2"]


def test_fingerprint_changes_with_content(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("1")
    first = artifacts.fingerprint([tmp_path / "a"])
    (tmp_path / "a" / "x.txt").write_text("2")
    assert artifacts.fingerprint([tmp_path / "a"]) != first


def test_git_state_outside_a_repository(tmp_path):
    assert artifacts.git_state(tmp_path) == {"commit": None, "dirty": None}


def test_a_number_printed_centred_over_micro_and_macro_gets_no_delta_and_the_row_says_why():
    from vadlib import artifacts, reported
    printed = reported.load_table("C.3")
    cell = printed.attrs["spanning"][0]
    method = cell["labels"]["Method"]
    reproduced = pd.DataFrame({"Method": [method], cell["columns"][0]: [50.0], cell["columns"][1]: [50.0]})
    row = artifacts.compare(printed, reproduced).set_index("Method").loc[method]
    assert pd.isna(row[f"{cell['columns'][0]} | Δ"]) and pd.isna(row[f"{cell['columns'][1]} | Δ"])
    assert row["status"] == "reproduced"
    assert f"{cell['printed']} printed centred (averaging unspecified), no Δ" in row["note"]


def test_a_measured_table_is_written_apart_with_the_machine_it_was_timed_on():
    timed = pd.DataFrame({"Method": ["Liu et al. [35]"], "Time baseline (ms)": [3.2], "Time +SSPCAB (ms)": [3.3],
                          "Relative expansion (%)": [3.1]})
    artifacts.save_table("C.6", timed, measured=True)
    assert not (paths.tables_dir() / "C.6.csv").exists()
    assert (paths.timings_dir() / "C.6.csv").exists()
    assert "vary between machines" in (paths.timings_dir() / "C.6.md").read_text()
    record = json.loads((paths.figures_dir() / "index.json").read_text())["artifacts"]["table:C.6"]
    assert record["measured"] is True and record["machine"]["cpu_count"] == os.cpu_count()
    assert set(record["files"]) == {f"timings/C.6.{ext}" for ext in ("csv", "md", "tex")}
