"""The thesis's reported numbers, transcribed once, and an audit of the thesis's own arithmetic.

``load_table("C.2")`` returns a printed table as a DataFrame (label columns as strings, numeric
columns as floats, ``-`` and blank cells as missing; a number printed centred across two columns
is attributed to neither and listed in ``frame.attrs["spanning"]``); ``audit()`` recomputes every printed mean and
every quoted improvement listed in ``audit/*.yaml`` and classifies each as ``exact``, ``rounding``
or ``erratum``. The file formats are documented in ``README.md`` next to this module.
"""

from __future__ import annotations

import functools
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
TABLES_DIR = HERE / "tables"
AUDIT_DIR = HERE / "audit"
THESIS_SEED = "000_f794b37c98b9d304.txt"
MISSING = ("-", "")
# A cell holding only SPAN continues the cell to its left: the number there is printed once, centred
# across both columns (e.g. one AUC over the Micro|Macro pair of Tables C.3 and D.5, averaging type
# not stated), so the loader attributes it to neither column.
SPAN = "<"
INDEX_COLUMNS = ["table_id", "paper", "caption", "seed", "lines", "unit", "key_columns", "same_as", "notes"]
VERDICTS = ("exact", "rounding", "erratum")


@functools.cache
def index() -> pd.DataFrame:
    """One row per reported table: id, paper, caption, seed, line range, unit, label columns."""
    frame = pd.read_csv(HERE / "index.csv", dtype=str, keep_default_na=False)
    if list(frame.columns) != INDEX_COLUMNS:
        raise ValueError(f"reported/index.csv must have columns {INDEX_COLUMNS}, has {list(frame.columns)}")
    if frame.table_id.duplicated().any():
        raise ValueError(f"duplicate table ids in index.csv: {sorted(frame.table_id[frame.table_id.duplicated()])}")
    return frame.set_index("table_id", drop=False)


def _sort_key(table_id: str) -> tuple:
    head, _, tail = table_id.partition(".")
    chapter = (0, int(head), "") if head.isdigit() else (1, 0, head)
    number = int(tail) if tail.isdigit() else 1000 + int(tail.lstrip("S") or 0)
    return chapter + (number,)


def table_ids(paper: str | None = None) -> list[str]:
    """Every reported table id (optionally of one paper), overview-chapter tables first."""
    ids = index().table_id if paper is None else index().table_id[index().paper == paper]
    return sorted(ids, key=_sort_key)


def info(table_id: str) -> dict[str, Any]:
    """The index row of ``table_id`` as a dict (``key_columns`` as a list)."""
    frame = index()
    if table_id not in frame.index:
        raise KeyError(f"no reported table {table_id!r}; known: {', '.join(table_ids())}")
    row = frame.loc[table_id].to_dict()
    row["key_columns"] = [c for c in row["key_columns"].split(";") if c]
    return row


def _source_id(table_id: str) -> str:
    seen = [table_id]
    while info(seen[-1])["same_as"]:
        seen.append(info(seen[-1])["same_as"])
        if len(seen) > len(index()):
            raise ValueError(f"cycle in same_as: {' -> '.join(seen)}")
    return seen[-1]


def source_path(table_id: str) -> Path:
    """The CSV holding ``table_id`` (its source table's CSV for a verbatim copy)."""
    return TABLES_DIR / f"{_source_id(table_id)}.csv"


@functools.cache
def _printed(table_id: str) -> pd.DataFrame:
    return pd.read_csv(source_path(table_id), dtype=str, keep_default_na=False)


def load_printed(table_id: str) -> pd.DataFrame:
    """The table's cells as the strings printed in the thesis (a copy; safe to modify)."""
    return _printed(table_id).copy()


def load_table(table_id: str) -> pd.DataFrame:
    """A reported table with label columns as strings and every other column as float.

    ``-`` (not reported) and blank cells become NaN. A number printed centred across two columns
    (its right-hand cell holds ``<`` in the CSV) is NaN in **both** columns, so that it is never
    compared with either; it is listed in ``frame.attrs["spanning"]`` (see :func:`spanning_cells`).
    ``frame.attrs`` also carries the index entry (caption, paper, seed, lines, unit, key_columns,
    notes) and ``decimals``: per numeric column, the most decimals printed in it (the printed
    precision used by the audit; a spanning number counts for its left column).
    """
    meta = info(table_id)
    printed = load_printed(table_id)
    missing = [c for c in meta["key_columns"] if c not in printed.columns]
    if missing:
        raise ValueError(f"table {table_id}: key columns {missing} not in {list(printed.columns)}")
    frame = printed.copy()
    stripped = printed.apply(lambda column: column.str.strip())
    spans = _spans(table_id, stripped, meta["key_columns"])
    decimals = {}
    for column in frame.columns:
        if column in meta["key_columns"]:
            frame[column] = frame[column].astype("string")
            continue
        cells = stripped[column]
        try:
            frame[column] = pd.to_numeric(cells.where(~cells.isin(MISSING + (SPAN,))), errors="raise").astype(float)
        except ValueError as error:
            raise ValueError(f"table {table_id}, column {column!r}: non-numeric cell ({error})") from None
        decimals[column] = max((_decimals(c) for c in cells if c not in MISSING + (SPAN,)), default=0)
    for span in spans:
        frame.loc[span["row"], list(span["columns"])] = np.nan
    frame.attrs = {**meta, "table_id": table_id, "decimals": decimals, "spanning": spans}
    return frame


def _spans(table_id: str, cells: pd.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
    """The numbers printed centred across two adjacent columns (right-hand cell ``<``)."""
    spans = []
    columns = list(cells.columns)
    for position, column in enumerate(columns):
        for row in cells.index[cells[column] == SPAN]:
            left = columns[position - 1] if position > 0 else None
            if left is None or left in keys or cells.at[row, left] in MISSING + (SPAN,):
                raise ValueError(f"table {table_id}, row {row}, column {column!r}: '{SPAN}' must follow a "
                                 "numeric cell (it continues the number printed to its left)")
            text = cells.at[row, left]
            spans.append({
                "row": int(row), "labels": {k: str(cells.at[row, k]) for k in keys},
                "columns": (left, column), "value": float(text), "printed": text,
                "note": f"one number printed centred across {left!r} and {column!r}; "
                        "which of the two it reports is unspecified",
            })
    return sorted(spans, key=lambda s: (s["row"], columns.index(s["columns"][0])))


def spanning_cells(table_id: str) -> pd.DataFrame:
    """The numbers of ``table_id`` printed centred across two columns, one row each: the row's
    labels, ``row`` (position in :func:`load_table`), ``left`` and ``right`` (the two columns, both
    NaN in :func:`load_table`), ``value`` and ``note``. Empty for most tables."""
    frame = load_table(table_id)
    keys = frame.attrs["key_columns"]
    rows = [{**s["labels"], "row": s["row"], "left": s["columns"][0], "right": s["columns"][1],
             "value": s["value"], "note": s["note"]} for s in frame.attrs["spanning"]]
    return pd.DataFrame(rows, columns=keys + ["row", "left", "right", "value", "note"])


def load_all(paper: str | None = None) -> dict[str, pd.DataFrame]:
    return {table_id: load_table(table_id) for table_id in table_ids(paper)}


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in frame.attrs.get("key_columns", [])]


def _decimals(cell: str) -> int:
    exponent = Decimal(cell.strip()).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


# --------------------------------------------------------------------------------------- audit

def _select(frame: pd.DataFrame, selector: dict | None) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, wanted in (selector or {}).items():
        if column not in frame.columns:
            raise ValueError(f"table {frame.attrs['table_id']}: no column {column!r} in row selector")
        wanted = [str(w) for w in wanted] if isinstance(wanted, list) else [str(wanted)]
        mask &= frame[column].astype(str).isin(wanted)
    return mask


def audit_cell(ref: dict, default_table: str | None) -> tuple[float, int, str]:
    table_id = str(ref.get("table", default_table))
    frame = load_table(table_id)
    column = ref["column"]
    if column not in frame.columns:
        raise ValueError(f"table {table_id}: no column {column!r}")
    rows = frame[_select(frame, ref.get("row"))]
    if len(rows) != 1:
        raise ValueError(f"table {table_id}: row selector {ref.get('row')} matches {len(rows)} rows, not 1")
    label = ", ".join(f"{v}" for v in ref.get("row", {}).values())
    return float(rows[column].iloc[0]), frame.attrs["decimals"][column], f"{table_id} [{label}] {column}"


def _half_unit(decimals: int) -> float:
    return 0.5 * 10.0 ** -decimals


def verdict(printed: float, recomputed: float, printed_decimals: int, input_error: float) -> str:
    if any(math.isnan(x) for x in (printed, recomputed)):
        return "erratum"
    difference = abs(printed - recomputed)
    if difference <= _half_unit(printed_decimals) + 1e-9:
        return "exact"
    if difference <= _half_unit(printed_decimals) + input_error + 1e-9:
        return "rounding"
    return "erratum"


def _result(check: dict, where: str, printed: float, recomputed: float, decimals: int, input_error: float) -> dict:
    return {
        "id": check["id"], "paper": Path(check["file"]).stem, "table": check.get("table", ""), "kind": check["kind"], "where": where,
        "printed": printed, "recomputed": round(recomputed, 6), "difference": round(printed - recomputed, 6),
        "verdict": verdict(printed, recomputed, decimals, input_error),
        "seed": check.get("seed", THESIS_SEED), "lines": str(check.get("lines", "")),
        "quote": check.get("quote", ""), "note": check.get("note", ""),
    }


def _check_row_mean(check: dict) -> Iterable[dict]:
    frame = load_table(check["table"])
    target = frame[_select(frame, check["target"])]
    over = frame[_select(frame, check["over"])]
    if len(target) != 1 or over.empty:
        raise ValueError(f"{check['id']}: target matches {len(target)} rows, over matches {len(over)} rows")
    for column in check.get("columns") or numeric_columns(frame):
        values = over[column].dropna()
        decimals = frame.attrs["decimals"][column]
        yield _result(check, column, float(target[column].iloc[0]), float(values.mean()), decimals,
                      _half_unit(decimals))


def _check_column_mean(check: dict) -> Iterable[dict]:
    frame = load_table(check["table"])
    rows = frame[_select(frame, check.get("rows"))]
    keys = frame.attrs["key_columns"]
    decimals = frame.attrs["decimals"][check["target"]]
    input_error = max(_half_unit(frame.attrs["decimals"][c]) for c in check["over"])
    for _, row in rows.iterrows():
        printed = row[check["target"]]
        if math.isnan(printed):
            continue
        label = ", ".join(str(row[k]) for k in keys)
        yield _result(check, f"[{label}] {check['target']}", float(printed),
                      float(np.mean([row[c] for c in check["over"]])), decimals, input_error)


def _check_difference(check: dict, relative: bool) -> Iterable[dict]:
    a, a_dec, a_where = audit_cell(check["a"], check.get("table"))
    b, b_dec, b_where = audit_cell(check["b"], check.get("table"))
    printed = float(check["printed"])
    decimals = _decimals(str(check["printed"]))
    error = _half_unit(a_dec) + _half_unit(b_dec)
    if relative:
        value = 100.0 * (a - b) / b
        corners = [100.0 * ((a + sa) - (b + sb)) / (b + sb)
                   for sa in (-_half_unit(a_dec), _half_unit(a_dec)) for sb in (-_half_unit(b_dec), _half_unit(b_dec))]
        error = max(abs(c - value) for c in corners)
        where = f"relative change of {a_where} over {b_where} (%)"
    else:
        value = a - b
        where = f"{a_where} − {b_where}"
    yield _result(check, where, printed, value, decimals, error)


def _span_values(frame: pd.DataFrame) -> dict[tuple[int, str], float]:
    return {(s["row"], s["columns"][0]): s["value"] for s in frame.attrs.get("spanning", [])}


def _check_value(check: dict) -> Iterable[dict]:
    value, _, where = audit_cell(check["cell"], check.get("table"))
    yield _result(check, where, float(check["printed"]), value, _decimals(str(check["printed"])), 0.0)


def _check_copy(check: dict) -> Iterable[dict]:
    mine, other = load_table(check["table"]), load_table(check["of"])
    keys: dict = check["keys"]
    columns: dict = check.get("columns") or {c: c for c in numeric_columns(mine) if c in other.columns}
    renames: dict = check.get("key_values") or {}
    compared, unmatched, mismatches = 0, 0, []
    my_spans, other_spans = _span_values(mine), _span_values(other)
    for position, row in mine[_select(mine, check.get("rows"))].iterrows():
        wanted = {theirs: renames.get(ours, {}).get(str(row[ours]), row[ours]) for ours, theirs in keys.items()}
        match = other[_select(other, wanted)]
        if len(match) != 1:
            unmatched += 1
            continue
        for ours, theirs in columns.items():
            a, b = row[ours], match[theirs].iloc[0]
            # a number centred across two columns is compared once, at its left column
            a = my_spans.get((position, ours), a)
            b = other_spans.get((match.index[0], theirs), b)
            if math.isnan(a) and math.isnan(b):
                continue
            compared += 1
            if not (abs(a - b) <= 1e-9):
                label = ", ".join(str(row[k]) for k in keys)
                mismatches.append(_result(check, f"[{label}] {ours} vs {check['of']} {theirs}", a, b,
                                          mine.attrs["decimals"][ours], 0.0))
    if compared == 0:
        raise ValueError(f"{check['id']}: no cells of {check['table']} matched {check['of']}")
    if mismatches:
        yield from mismatches
    else:
        skipped = f" ({unmatched} rows without a counterpart)" if unmatched else ""
        yield _result(check, f"all {compared} compared cells equal {check['of']}{skipped}", compared, compared, 0, 0.0)


CHECKS = {
    "row_mean": _check_row_mean,
    "column_mean": _check_column_mean,
    "difference": lambda c: _check_difference(c, relative=False),
    "relative_change": lambda c: _check_difference(c, relative=True),
    "value": _check_value,
    "copy": _check_copy,
}


def audit_checks() -> list[dict]:
    """Every check listed in ``audit/*.yaml``, in file then list order."""
    checks = []
    for path in sorted(AUDIT_DIR.glob("*.yaml")):
        for check in yaml.safe_load(path.read_text()) or []:
            if check.get("kind") not in CHECKS:
                raise ValueError(f"{path.name}: check {check.get('id')!r} has unknown kind {check.get('kind')!r}; "
                                 f"kinds: {', '.join(CHECKS)}")
            checks.append({**check, "file": path.name})
    ids = [c["id"] for c in checks]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"duplicate audit ids: {duplicated}")
    return checks


def audit() -> pd.DataFrame:
    """Recompute the thesis's own arithmetic: one row per checked number, with its verdict.

    ``exact``: the recomputed value, rounded to the printed precision, is the printed value.
    ``rounding``: off by no more than the rounding of the printed inputs can explain.
    ``erratum``: anything more — a typo, a copy error or a wrong mean in the thesis.
    """
    rows = [row for check in audit_checks() for row in CHECKS[check["kind"]](check)]
    return pd.DataFrame(rows, columns=["id", "paper", "table", "kind", "where", "printed", "recomputed", "difference",
                                       "verdict", "seed", "lines", "quote", "note"])


def errata() -> pd.DataFrame:
    """The audit rows whose verdict is ``erratum``."""
    result = audit()
    return result[result.verdict == "erratum"].reset_index(drop=True)


def summary(paper: str | None = None) -> str:
    """A short, stable text fingerprint of the transcribed tables and the audit (nbval checks it)."""
    lines = []
    for table_id in table_ids(paper):
        frame = load_table(table_id)
        numeric = numeric_columns(frame)
        # every printed number once: spanning numbers (NaN in both their columns) are added back
        total = float(np.nansum(frame[numeric].to_numpy(dtype=float))) + sum(s["value"] for s in frame.attrs["spanning"])
        lines.append(f"{table_id:<5} {len(frame):>3} rows x {len(numeric):>2} numeric columns, cell sum {total:.2f}")
    result = audit()
    if paper is not None:
        result = result[result.paper == paper]
    counts = result.verdict.value_counts()
    lines.append("audit: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS))
    return "\n".join(lines)
