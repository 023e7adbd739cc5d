"""``vadlib report``: the tables and figures as a static web site, reported beside reproduced.

The site is written into the figures directory, next to the artifacts it shows, so that it works
from ``file://`` and from any static host with the folder copied as it is:

- ``index.html``: the profile banner, the coverage summary (per paper, cells reproduced / printed;
  per table, the profile that produced it), the errata count of the audit, links to every page;
- ``thesis.html`` (notebook 00: the catalogue, the audit of the thesis's arithmetic, its errata)
  and ``paper-<letter>.html``: every table (reported | reproduced | Δ, Δ coloured by its size,
  rows ``not run`` greyed and counted), every figure (PNG, linked PDF), each with its provenance;
- ``notebooks/<stem>.html``: the executed notebooks (``$VADLIB_RUNS/notebooks/``) rendered by
  nbconvert, without the template's CDN scripts;
- ``report.css``, ``report.js``: the only assets; the JS filters table rows by a search box.

Everything is read from ``figures/index.json`` and the files it records; nothing is recomputed.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from vadlib import artifacts, catalog, paths, reported

TEMPLATES = paths.PACKAGE_DIR / "templates" / "report"
ASSETS = ("report.css", "report.js")

#: |Δ| bands (upper bound inclusive, CSS class, legend text), in the table's own unit:
#: percentage points for the thesis's percentage tables.
DELTA_BANDS = ((0.5, "delta-0", "|Δ| ≤ 0.5"), (2.0, "delta-1", "0.5 < |Δ| ≤ 2"),
               (5.0, "delta-2", "2 < |Δ| ≤ 5"), (math.inf, "delta-3", "|Δ| > 5"))

PROFILE_NOTES = {
    "smoke": "smoke: synthetic twins of the datasets, tiny models, a few steps. "
             "Its numbers are pipeline checks, not results.",
    "quick": "quick: the real datasets and the papers' architectures on shortened schedules. "
             "Its numbers are indicative, not the papers' protocol.",
    "full": "full: the papers' protocols on the real datasets.",
}


def delta_class(value: float) -> str:
    """The CSS class of a Δ cell: the first band whose bound ``|value|`` does not exceed."""
    return next(css for bound, css, _ in DELTA_BANDS if abs(value) <= bound)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


# ------------------------------------------------------------------------------------ the model

@dataclass
class Cell:
    text: str
    css: str = ""
    value: float | None = None  # the Δ, on Δ cells


@dataclass
class Row:
    cells: list[Cell]
    status: str = ""

    @property
    def not_run(self) -> bool:
        return self.status == artifacts.NOT_RUN


@dataclass
class TableView:
    """One table as shown: headers, rows, counts and its index record."""

    artifact_id: str
    table_id: str
    title: str
    record: dict[str, Any]
    layout: str
    header: list[tuple[str, int, int]]  # first header row: (text, colspan, rowspan)
    subheader: list[str]  # second header row (reported / reproduced / Δ), empty for a flat table
    rows: list[Row]
    files: dict[str, str]  # extension -> path relative to the figures directory
    printed: int = 0  # numeric cells the thesis prints
    reproduced: int = 0  # of those, cells with a reproduced number

    @property
    def anchor(self) -> str:
        return "table-" + self.table_id.replace(".", "-")

    @property
    def not_run(self) -> int:
        return sum(row.not_run for row in self.rows)


@dataclass
class FigureView:
    artifact_id: str
    figure_id: str
    record: dict[str, Any]
    png: str | None
    pdf: str | None

    @property
    def anchor(self) -> str:
        return "figure-" + self.figure_id.replace(".", "-")


@dataclass
class CoverageRow:
    table_id: str
    paper: str
    printed: int
    reproduced: int
    profile: str | None  # None: no notebook has written the table yet
    layout: str | None
    page: str | None
    anchor: str | None


@dataclass
class Page:
    """A page of the site: notebook 00 (``thesis``) or one paper."""

    key: str  # "thesis" or the paper letter
    filename: str
    title: str
    entry: catalog.NotebookEntry
    tables: list[TableView] = field(default_factory=list)
    figures: list[FigureView] = field(default_factory=list)
    notebook_html: str | None = None
    notebook_error: str = ""  # why the executed notebook could not be rendered

    @property
    def profiles(self) -> list[str]:
        return sorted({a.record.get("profile") for a in [*self.tables, *self.figures] if a.record.get("profile")})

    @property
    def not_run(self) -> int:
        return sum(t.not_run for t in self.tables)


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    return (rows[0], rows[1:]) if rows else ([], [])


def _title(md_path: Path, fallback: str) -> str:
    """The table's title as its Markdown file prints it (``**Table X. caption**``)."""
    if md_path.exists():
        first = md_path.read_text(encoding="utf-8").split("\n", 1)[0].strip()
        if first.startswith("**") and first.endswith("**"):
            return first[2:-2]
    return fallback


def _printed_cells(reported_id: str) -> int:
    """Numeric cells the thesis prints in a table (as transcribed; blanks and '-' excluded)."""
    frame = reported.load_table(reported_id)
    return int(frame[reported.numeric_columns(frame)].notna().to_numpy().sum())


def table_view(artifact_id: str, record: dict[str, Any], root: Path) -> TableView:
    """Read a table's CSV (recorded in index.json) into a :class:`TableView`."""
    files = {Path(f).suffix.lstrip("."): f for f in record["files"]}
    table_id = artifact_id.split(":", 1)[1]
    header, body = _read_csv(root / files["csv"])
    title = _title(root / files["md"], f"Table {table_id}") if "md" in files else f"Table {table_id}"
    layout = record.get("layout") or "reproduced"
    view = TableView(artifact_id, table_id, title, record, layout, [], [], [], files)
    status_at = header.index(artifacts.STATUS_COLUMN) if artifacts.STATUS_COLUMN in header else None
    if layout == "reported-vs-reproduced":
        groups: list[tuple[str, int, int]] = []
        for name in header:
            column, sep, part = name.rpartition(" | ")
            if sep and part in ("reported", "reproduced", "Δ"):
                if not groups or groups[-1][0] != column or groups[-1][2] != 1:
                    groups.append((column, 0, 1))
                groups[-1] = (column, groups[-1][1] + 1, 1)
                view.subheader.append(part)
            else:
                groups.append((name, 1, 2))
        view.header = groups
        reported_at = {name.rpartition(" | ")[0]: i for i, name in enumerate(header) if name.endswith(" | reported")}
        for values in body:
            cells = []
            for name, text in zip(header, values):
                if name.endswith(" | Δ") and _number(text) is not None:
                    cells.append(Cell(text, "num delta " + delta_class(_number(text)), _number(text)))
                elif name.endswith((" | reported", " | reproduced")):
                    cells.append(Cell(text, "num"))
                else:
                    cells.append(Cell(text))
            view.rows.append(Row(cells, values[status_at] if status_at is not None else ""))
            for column, i in reported_at.items():
                if _number(values[i]) is not None:
                    view.printed += 1
                    view.reproduced += _number(values[header.index(f"{column} | reproduced")]) is not None
    else:
        view.header = [(name, 1, 1) for name in header]
        view.rows = [Row([Cell(text, "num" if _number(text) is not None else "") for text in values],
                         values[status_at] if status_at is not None else "") for values in body]
        if record.get("reported_id"):
            view.printed = _printed_cells(record["reported_id"])
    return view


def figure_view(artifact_id: str, record: dict[str, Any]) -> FigureView:
    files = {Path(f).suffix.lstrip("."): f for f in record["files"]}
    return FigureView(artifact_id, artifact_id.split("/", 1)[-1], record, files.get("png"), files.get("pdf"))


# ---------------------------------------------------------------------------------- notebooks

def render_notebook(ipynb: Path, html: Path) -> Path:
    """Render an executed notebook to HTML with nbconvert's lab template minus its CDN scripts
    (``templates/report/nbconvert/vadlib_offline``). Skipped when ``html`` is newer."""
    if html.exists() and html.stat().st_mtime >= ipynb.stat().st_mtime:
        return html
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="vadlib_offline", extra_template_basedirs=[str(TEMPLATES / "nbconvert")])
    body, _ = exporter.from_notebook_node(nbformat.read(ipynb, as_version=4))
    artifacts.atomic_write_text(html, body)
    return html


# --------------------------------------------------------------------------------------- build

def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["json"] = lambda value: json.dumps(value, indent=1, sort_keys=True, default=str)
    return env


def _page_key(record: dict[str, Any]) -> str:
    paper = record.get("paper")
    return paper if paper in {e.paper for e in catalog.NOTEBOOKS if e.paper} else "thesis"


def collect(root: Path | None = None, runs: Path | None = None) -> tuple[list[Page], list[CoverageRow]]:
    """The pages of the site and the coverage rows, from ``root/index.json``."""
    root = root or paths.figures_dir()
    runs = runs or paths.runs_dir()
    index_path = root / "index.json"
    index = json.loads(index_path.read_text())["artifacts"] if index_path.exists() else {}
    pages: dict[str, Page] = {}
    for entry in catalog.NOTEBOOKS:
        key = entry.paper or "thesis"
        pages[key] = Page(key, "thesis.html" if key == "thesis" else f"paper-{key}.html", entry.title, entry)
        executed = runs / "notebooks" / f"{entry.stem}.ipynb"
        if executed.exists():
            try:
                render_notebook(executed, root / "notebooks" / f"{entry.stem}.html")
            except Exception as error:  # noqa: BLE001 - e.g. a failed run's half-written copy
                pages[key].notebook_error = f"{type(error).__name__}: {error}"
            else:
                pages[key].notebook_html = f"notebooks/{entry.stem}.html"
    for artifact_id, record in index.items():
        page = pages[_page_key(record)]
        if record.get("kind") == "table" and any(f.endswith(".csv") for f in record["files"]):
            page.tables.append(table_view(artifact_id, record, root))
        elif record.get("kind") == "figure":
            page.figures.append(figure_view(artifact_id, record))
    for page in pages.values():  # in the order the notebook writes them (catalog), then the rest
        table_order = {t: i for i, t in enumerate(page.entry.tables)}
        figure_order = {f: i for i, f in enumerate(page.entry.figures)}
        page.tables.sort(key=lambda t: (table_order.get(t.table_id, len(table_order)), t.table_id))
        page.figures.sort(key=lambda f: (figure_order.get(f.figure_id, len(figure_order)), f.figure_id))
    coverage = []
    written: dict[str, tuple[Page, TableView]] = {}
    for page in pages.values():
        for table in page.tables:
            if table.record.get("reported_id"):
                written.setdefault(table.record["reported_id"], (page, table))
    for table_id in reported.table_ids():
        paper = reported.info(table_id)["paper"]
        if table_id in written:
            page, table = written[table_id]
            coverage.append(CoverageRow(table_id, paper, table.printed, table.reproduced, table.record.get("profile"),
                                        table.layout, page.filename, table.anchor))
        else:
            coverage.append(CoverageRow(table_id, paper, _printed_cells(table_id), 0, None, None, None, None))
    return list(pages.values()), coverage


def paper_coverage(coverage: list[CoverageRow]) -> list[dict[str, Any]]:
    """Per paper: cells reproduced and printed, tables written."""
    papers = []
    for paper in sorted({row.paper for row in coverage}):
        rows = [r for r in coverage if r.paper == paper]
        papers.append({"paper": paper, "printed": sum(r.printed for r in rows),
                       "reproduced": sum(r.reproduced for r in rows), "tables": len(rows),
                       "written": sum(r.profile is not None for r in rows),
                       "profiles": sorted({r.profile for r in rows if r.profile})})
    return papers


def _audit_counts(pages: list[Page]) -> dict[str, int]:
    """Verdict counts of notebook 00's audit table (``thesis_audit``), if written."""
    thesis = next(p for p in pages if p.key == "thesis")
    audit = next((t for t in thesis.tables if t.table_id == "thesis_audit"), None)
    if audit is None:
        return {}
    names = [h[0] for h in audit.header]
    if "verdict" not in names:
        return {}
    at = names.index("verdict")
    counts: dict[str, int] = {}
    for row in audit.rows:
        counts[row.cells[at].text] = counts.get(row.cells[at].text, 0) + 1
    return counts


def build(root: Path | None = None, runs: Path | None = None) -> Path:
    """Write the site into ``root`` (default: the figures directory); return ``index.html``."""
    root = root or paths.figures_dir()
    root.mkdir(parents=True, exist_ok=True)
    pages, coverage = collect(root, runs)
    profiles = sorted({p for page in pages for p in page.profiles})
    env = _environment()
    common = {"pages": pages, "site_profiles": profiles, "profile_notes": PROFILE_NOTES, "bands": DELTA_BANDS}
    for page in pages:
        html = env.get_template("page.html.j2").render(page=page, current=page.filename, **common)
        artifacts.atomic_write_text(root / page.filename, html)
    index = root / "index.html"
    html = env.get_template("index.html.j2").render(
        current="index.html", coverage=coverage, papers=paper_coverage(coverage), audit=_audit_counts(pages),
        **common)
    artifacts.atomic_write_text(index, html)
    for asset in ASSETS:
        shutil.copyfile(TEMPLATES / asset, root / asset)
    return index
