"""The transcribed thesis tables and the audit of the thesis's arithmetic."""

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from vadlib import reported

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
REQUIRED = (["2.1", "3.1", "4.1"] + [f"5.{i}" for i in range(1, 6)] + [f"A.{i}" for i in range(1, 6)]
            + [f"B.{i}" for i in range(1, 4)] + [f"C.{i}" for i in range(1, 7)] + ["C.S1", "C.S2", "C.S3"]
            + [f"D.{i}" for i in range(1, 13)] + ["E.1", "E.2"] + [f"F.{i}" for i in range(1, 7)])


def test_every_numeric_table_of_the_thesis_is_transcribed():
    assert sorted(reported.table_ids()) == sorted(REQUIRED)


def test_every_csv_has_an_index_entry_and_copies_have_no_csv():
    files = {p.stem for p in reported.TABLES_DIR.glob("*.csv")}
    index = reported.index()
    own = set(index.table_id[index.same_as == ""])
    assert files == own
    assert set(index.same_as[index.same_as != ""]) <= own


@pytest.mark.parametrize("table_id", REQUIRED)
def test_table_loads_with_label_strings_and_float_numbers(table_id):
    frame = reported.load_table(table_id)
    meta = reported.info(table_id)
    assert len(frame) > 0 and meta["caption"] and meta["paper"] in "ABCDEF"
    assert re.fullmatch(r"\d+-\d+", meta["lines"])
    for column in frame.columns:
        if column in meta["key_columns"]:
            assert pd.api.types.is_string_dtype(frame[column])
        else:
            assert frame[column].dtype == float
    printed = reported.load_printed(table_id)
    numeric = reported.numeric_columns(frame)
    missing = printed[numeric].isin(list(reported.MISSING)).to_numpy()
    for span in frame.attrs["spanning"]:  # a centred number is attributed to neither of its columns
        for column in span["columns"]:
            missing[span["row"], numeric.index(column)] = True
    assert (frame[numeric].isna().to_numpy() == missing).all(), \
        "'-', blank and centred cells, and only they, are missing"


def test_known_cells_and_missing_markers():
    c2 = reported.load_table("C.2")
    overall = c2[c2.Class == "Overall"].iloc[0]
    assert overall["DRAEM loc AUROC"] == 97.3 and overall["DRAEM+SSPCAB loc AP"] == 69.9
    a2 = reported.load_table("A.2")
    tracktor = a2[a2.Tracker.str.startswith("Tracktor")].iloc[0]
    assert math.isnan(tracktor["MOT16 MOTA"]) and tracktor["MOT17 MOTA"] == 54.4
    assert reported.load_table("C.2").attrs["decimals"]["DRAEM loc AUROC"] == 1


def test_copies_load_their_source_table():
    assert reported.info("5.3")["same_as"] == "D.3"
    assert reported.load_printed("5.3").equals(reported.load_printed("D.3"))


def test_unknown_table_names_the_known_ones():
    with pytest.raises(KeyError, match="known: 2.1"):
        reported.info("Z.9")


@pytest.mark.skipif(not SEEDS.exists(), reason="seed texts are not part of the package")
@pytest.mark.parametrize("table_id", [t for t in REQUIRED if t not in ("5.3",)])
def test_every_printed_number_occurs_in_its_seed_lines(table_id):
    """Independent oracle: the seed text itself. Each transcribed number must appear in the lines the
    index names (numbers the conversion split across cells are listed in the table's notes)."""
    meta = reported.info(table_id)
    start, end = map(int, meta["lines"].split("-"))
    lines = (SEEDS / meta["seed"]).read_text(encoding="utf-8").splitlines()[start - 1:end]
    text = "\n".join(lines)
    printed = reported.load_printed(table_id)
    cells = {c.strip() for column in reported.numeric_columns(reported.load_table(table_id))
             for c in printed[column] if c.strip() not in reported.MISSING + (reported.SPAN,)}
    absent = sorted(c for c in cells if not re.search(rf"(?<![\d.]){re.escape(c)}(?![\d])", text))
    assert not absent or table_id in SPLIT_BY_CONVERSION, f"{table_id}: not in seed lines {meta['lines']}: {absent}"
    if table_id in SPLIT_BY_CONVERSION:
        assert set(absent) <= SPLIT_BY_CONVERSION[table_id]


# Single AUCs printed across the micro and macro columns, which the PDF conversion split into two
# cells ("86 | 5.6" = 86.6); decoded in the tables' notes and confirmed by the journal seed.
SPLIT_BY_CONVERSION = {
    "C.3": {"71.6", "72.0", "76.2", "86.4", "86.6", "90.0"},
    "D.5": {"71.6", "72.0", "73.0", "79.3", "86.6", "87.2", "90.0"},
}


def test_audit_finds_the_known_erratum_of_table_c2():
    """Paper C prints 69.9 for DRAEM+SSPCAB AP Overall; its 15 class values average to 70.34."""
    audit = reported.audit()
    row = audit[(audit.id == "C.2/overall") & (audit["where"] == "DRAEM+SSPCAB loc AP")].iloc[0]
    assert row.verdict == "erratum" and row.recomputed == pytest.approx(70.34, abs=1e-9)
    assert set(audit.verdict) <= set(reported.VERDICTS)
    assert len(reported.errata()) == (audit.verdict == "erratum").sum()


def _check(**fields):
    return {"id": "t", "file": "T.yaml", **fields}


def test_verdicts_exact_rounding_erratum():
    assert reported.verdict(97.3, 97.31, 1, 0.05) == "exact"
    assert reported.verdict(96.1, 96.16, 1, 0.05) == "rounding"
    assert reported.verdict(69.9, 70.34, 1, 0.05) == "erratum"
    assert reported.verdict(float("nan"), 1.0, 1, 0.05) == "erratum"


def test_difference_and_relative_change_checks():
    a = {"table": "C.2", "row": {"Class": "Overall"}, "column": "DRAEM+SSPCAB det AUROC"}
    b = {"table": "C.2", "row": {"Class": "Overall"}, "column": "DRAEM det AUROC"}
    [diff] = reported.CHECKS["difference"](_check(kind="difference", a=a, b=b, printed=0.9))
    assert diff["recomputed"] == pytest.approx(0.9) and diff["verdict"] == "exact"
    [rel] = reported.CHECKS["relative_change"](_check(kind="relative_change", a=a, b=b, printed=0.9))
    assert rel["recomputed"] == pytest.approx(100 * 0.9 / 98.0)
    [bad] = reported.CHECKS["difference"](_check(kind="difference", a=a, b=b, printed=1.5))
    assert bad["verdict"] == "erratum"


def test_cell_reference_must_match_one_row():
    with pytest.raises(ValueError, match="matches 2 rows"):
        reported.audit_cell({"table": "C.2", "row": {"Group": "Texture", "Class": ["Grid", "Tile"]},
                        "column": "DRAEM loc AP"}, None)


# ------------------------------------------------------------- numbers centred across two columns

def _seed_rows(table_id):
    """The data rows of a table as the seed prints them: lists of stripped cells, label first."""
    meta = reported.info(table_id)
    start, end = map(int, meta["lines"].split("-"))
    lines = (SEEDS / meta["seed"]).read_text(encoding="utf-8").splitlines()[start - 1:end]
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] and cells[0] != "Method" and not set(cells[0]) <= set("-"):
            rows.append(cells)
    return rows


def _seed_centred(table_id):
    """Oracle from the seed text: (row position, Micro column) of every AUC printed centred over a
    Micro|Macro pair: the Macro cell is blank, or the conversion split the number into two cells
    (an integer part in Micro, e.g. '86 | 5.6')."""
    frame = reported.load_table(table_id)
    rows = _seed_rows(table_id)
    assert len(rows) == len(frame)
    numeric = reported.numeric_columns(frame)
    pairs = [(i, c) for i, c in enumerate(numeric, start=1) if c.endswith("Micro")]
    assert all(numeric[i].endswith("Macro") for i, _ in pairs)
    return {(r, column) for r, cells in enumerate(rows) for i, column in pairs
            if cells[i] not in ("-", "_") and (cells[i + 1] == "" or "." not in cells[i])}


def _loaded_centred(table_id):
    return {(s["row"], s["columns"][0]) for s in reported.load_table(table_id).attrs["spanning"]}


@pytest.mark.skipif(not SEEDS.exists(), reason="seed texts are not part of the package")
@pytest.mark.parametrize("table_id", ["C.3", "D.5"])
def test_loader_marks_exactly_the_cells_the_seed_prints_centred(table_id):
    assert _loaded_centred(table_id) == _seed_centred(table_id)


def test_centred_cells_counted_and_named():
    """16 in C.3 and 14 in D.5 (D.5 omits C.3's Lee et al. [82]); no other table has any."""
    counts = {t: len(reported.load_table(t).attrs["spanning"]) for t in reported.table_ids()}
    assert {t: n for t, n in counts.items() if n} == {"C.3": 16, "D.5": 14}
    c3 = reported.spanning_cells("C.3").set_index(["Method", "left"])
    assert c3.loc[("Lee et al. [82]", "Avenue AUC Micro"), "value"] == 87.2
    assert c3.loc[("Lee et al. [82]", "ShanghaiTech AUC Micro"), "value"] == 76.2
    assert c3.loc[("Ramachandra et al. [40]", "Avenue AUC Micro"), "right"] == "Avenue AUC Macro"
    d5 = reported.spanning_cells("D.5").set_index(["Method", "left"])
    assert d5.loc[("Doshi et al. [106]", "ShanghaiTech AUC Micro"), "value"] == 71.6
    assert d5.loc[("Sun et al. [107]", "ShanghaiTech AUC Micro"), "value"] == 74.7
    assert "unspecified" in d5.loc[("Wu et al. [103]", "Avenue AUC Micro"), "note"]
    # a number printed in one column only is not centred
    assert ("Yu et al. [89]", "Avenue AUC Micro") not in d5.index
    assert ("Liu et al. [42]", "Avenue AUC Micro") not in d5.index


@pytest.mark.parametrize("table_id", ["C.3", "D.5"])
def test_a_micro_column_never_holds_a_centred_value(table_id):
    frame = reported.load_table(table_id)
    spans = frame.attrs["spanning"]
    assert spans
    for span in spans:
        row = frame.iloc[span["row"]]
        assert all(row[k] == v for k, v in span["labels"].items())
        assert span["columns"][0].endswith("Micro") and span["columns"][1].endswith("Macro")
        assert math.isnan(row[span["columns"][0]]) and math.isnan(row[span["columns"][1]])
    # the printed text still holds each number once, left of the '<' marker
    printed = reported.load_printed(table_id)
    assert sorted(float(printed.at[s["row"], s["columns"][0]]) for s in spans) == sorted(s["value"] for s in spans)
    assert all(printed.at[s["row"], s["columns"][1]] == reported.SPAN for s in spans)


def test_no_delta_is_computed_against_a_centred_value():
    from vadlib import artifacts
    produced = pd.DataFrame({"Method": ["Wu et al. [26]", "Liu et al. [35]"],
                             "Avenue AUC Micro": [80.0, 80.0], "Avenue AUC Macro": [80.0, 80.0]})
    out = artifacts.compare(reported.load_table("C.3"), produced).set_index("Method")
    wu, liu = out.loc["Wu et al. [26]"], out.loc["Liu et al. [35]"]
    assert wu["Avenue AUC Micro | reproduced"] == 80.0
    assert math.isnan(wu["Avenue AUC Micro | Δ"]) and math.isnan(wu["Avenue AUC Macro | Δ"])
    assert liu["Avenue AUC Micro | Δ"] == pytest.approx(80.0 - 85.1)


def test_span_marker_must_continue_a_number():
    cells = pd.DataFrame({"Method": ["a", "b"], "Micro": ["-", "1.0"], "Macro": ["<", "<"]})
    with pytest.raises(ValueError, match="must follow a numeric cell"):
        reported._spans("T", cells, ["Method"])
    [span] = reported._spans("T", cells.iloc[1:], ["Method"])
    assert span["columns"] == ("Micro", "Macro") and span["value"] == 1.0 and span["labels"] == {"Method": "b"}


def test_centred_numbers_still_count_in_the_copy_audit_and_summary():
    """D.5 reprints C.3's centred cells: the copy check compares them (each once) and passes."""
    audit = reported.audit()
    [row] = audit[audit.id == "D.5/copy-C.3"].itertuples()
    d5 = reported.load_table("D.5")
    assert row.verdict == "exact" and row.printed >= len(d5.attrs["spanning"])
    numeric = reported.numeric_columns(d5)
    total = float(pd.to_numeric(reported.load_printed("D.5")[numeric].stack(), errors="coerce").sum())
    [line] = [line for line in reported.summary("D").splitlines() if line.startswith("D.5 ")]
    assert line.endswith(f"cell sum {total:.2f}")  # every printed number once, centred ones included


# ------------------------------------------------------------- Table 5.4's '_' cells

@pytest.mark.skipif(not SEEDS.exists(), reason="seed texts are not part of the package")
def test_underscore_cells_of_table_5_4_are_not_reported_dashes():
    """Every '_' the seed prints in Table 5.4 is transcribed '-' (missing), D.5 prints no number in
    the same cell (so no number was lost), and the index note documents them."""
    rows = _seed_rows("5.4")
    printed = reported.load_printed("5.4")
    numeric = reported.numeric_columns(reported.load_table("5.4"))
    d5 = reported.load_table("D.5")
    renames = next(c for c in reported.audit_checks() if c["id"] == "5.4/copy-D.5")["key_values"]["Method"]
    underscores = [(r, numeric[i - 1]) for r, cells in enumerate(rows) for i, c in enumerate(cells[1:9], 1) if c == "_"]
    assert len(underscores) == 5
    for r, column in underscores:
        assert printed.at[r, column] == "-"
        method = printed.at[r, "Method"]
        assert math.isnan(d5.loc[d5.Method == renames.get(method, method), column].iloc[0])
    assert "'_'" in reported.info("5.4")["notes"]
