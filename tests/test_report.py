"""The web report (``vadlib report``) read as HTML, without a browser: tables, Δ colours, rows not
run, coverage counted again from the CSVs, no network asset, no broken local link."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browser.toy_site import DELTAS, build_toy_site
from bs4 import BeautifulSoup

from vadlib import cli, paths, reported

#: the legend's bands, written out here independently of vadlib.report
BANDS = ((0.5, "delta-0"), (2.0, "delta-1"), (5.0, "delta-2"), (float("inf"), "delta-3"))


def band(value: float) -> str:
    return next(css for bound, css in BANDS if abs(value) <= bound)


@pytest.fixture
def site() -> Path:
    return build_toy_site().parent


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html")) + sorted((site / "notebooks").glob("*.html"))


def test_every_written_table_and_figure_is_on_its_page(site):
    paper_a = soup(site / "paper-A.html")
    assert {t["data-table"] for t in paper_a.select("table.data")} == {"A.5", "A.3", "A_toy_extra"}
    assert {t["data-table"] for t in soup(site / "thesis.html").select("table.data")} == {"thesis_audit", "thesis_errata"}
    image = paper_a.select_one("#figure-A_toy_curve img")
    assert image["src"] == "A/A_toy_curve.png"
    assert paper_a.select_one('#figure-A_toy_curve a[href="A/A_toy_curve.pdf"]') is not None
    # the compared table keeps the CSV's rows, in order, with reported | reproduced | Δ headers
    a5 = paper_a.select_one('table[data-table="A.5"]')
    rows = read_csv(site / "tables" / "A.5.csv")
    assert [tr.td.get_text() for tr in a5.select("tbody tr")] == [r["Backbone"] for r in rows]
    assert [th.get_text() for th in a5.select("thead tr.sub th")] == ["reported", "reproduced", "Δ"] * 2


def test_delta_cells_are_coloured_by_the_size_of_their_number(site):
    table = soup(site / "paper-A.html").select_one('table[data-table="A.5"]')
    cells = table.select("td.delta")
    assert len(cells) == 2 * len(DELTAS) + 1  # the partly reproduced row has one Δ
    for cell in cells:
        (css,) = [c for c in cell["class"] if c.startswith("delta-")]
        assert css == band(float(cell.get_text())), cell
    assert sorted(float(c.get_text()) for c in cells) == sorted([d for pair in DELTAS.values() for d in pair] + [-1.8])
    legend = soup(site / "paper-A.html").select_one("#delta-legend")
    assert [s["data-band"] for s in legend.select("[data-band]")] == [css for _, css in BANDS]


def test_rows_not_run_are_greyed_and_counted(site):
    page = soup(site / "paper-A.html")
    rows = read_csv(site / "tables" / "A.5.csv")
    not_run = [r["Backbone"] for r in rows if r["status"] == "not run"]
    assert not_run == ["Ours(Explicit) + Stage 2"]
    greyed = page.select('table[data-table="A.5"] tbody tr.not-run')
    assert [tr.td.get_text() for tr in greyed] == not_run
    assert page.select_one("#table-A-5 .not-run-count")["data-count"] == str(len(not_run))
    assert page.select_one("#page-not-run")["data-count"] == str(len(not_run))


def _cells_from_csv(path: Path, reported_id: str) -> tuple[int, int]:
    """(reproduced, printed) numeric cells of a written table, counted from its CSV."""
    rows = read_csv(path)
    compared = [c[: -len(" | reported")] for c in rows[0] if c.endswith(" | reported")]
    if compared:
        printed = [(r, c) for r in rows for c in compared if r[f"{c} | reported"] != ""]
        return sum(r[f"{c} | reproduced"] != "" for r, c in printed), len(printed)
    keys = set(reported.info(reported_id)["key_columns"])

    def number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True
    return 0, sum(number(v) for r in rows for c, v in r.items() if c not in keys)


def test_coverage_equals_the_cells_counted_from_the_csvs(site):
    index = soup(site / "index.html")
    by_table = {tr["data-table"]: tr for tr in index.select("#coverage-tables tbody tr")}
    assert set(by_table) == set(reported.table_ids())
    totals = {"reproduced": 0, "printed": 0}
    for table_id in reported.table_ids("A"):
        row = by_table[table_id]
        csv_path = site / "tables" / f"{table_id}.csv"
        if csv_path.exists():
            reproduced, printed = _cells_from_csv(csv_path, table_id)
            assert row.select_one("td.profile").get_text() == "smoke"
        else:
            frame = reported.load_table(table_id)
            reproduced, printed = 0, int(frame[reported.numeric_columns(frame)].notna().to_numpy().sum())
            assert row.select_one("td.profile").get_text() == "not written"
        assert (int(row.select_one("td.reproduced").get_text()), int(row.select_one("td.printed").get_text())) \
            == (reproduced, printed), table_id
        totals["reproduced"] += reproduced
        totals["printed"] += printed
    assert _cells_from_csv(site / "tables" / "A.5.csv", "A.5") == (5, 8)  # rows 2 + 2 + 0 (not run) + 1 (partly); Stage 4 is not printed
    paper = index.select_one('#coverage-papers tr[data-paper="A"]')
    assert int(paper.select_one("td.reproduced").get_text()) == totals["reproduced"]
    assert int(paper.select_one("td.printed").get_text()) == totals["printed"]


def test_audit_verdicts_on_the_first_page_count_the_audit_csv(site):
    verdicts = [r["verdict"] for r in read_csv(site / "tables" / "thesis_audit.csv")]
    shown = {span["class"][1].removeprefix("verdict-"): int(span.get_text().split()[0])
             for span in soup(site / "index.html").select("span.verdict")}
    assert shown == {v: verdicts.count(v) for v in set(verdicts)}
    assert shown.get("erratum") == len(read_csv(site / "tables" / "thesis_errata.csv"))


def test_every_page_says_the_profile_and_that_smoke_numbers_are_not_results(site):
    for page in sorted(site.glob("*.html")):
        banner = soup(page).select_one("#profile-banner").get_text(" ", strip=True)
        assert "smoke" in banner and "pipeline checks, not results" in banner, page.name


def test_provenance_of_each_artifact_is_shown(site):
    import json
    record = json.loads((site / "index.json").read_text())["artifacts"]["table:A.5"]
    provenance = soup(site / "paper-A.html").select_one("#table-A-5 .provenance").get_text(" ", strip=True)
    for text in ("sha256:toy-data", f"{record['wall_time_s']} s", record["created_at"], "numpy",
                 record["packages"]["numpy"], '"profile": "smoke"'):
        assert text in provenance
    assert (record["git_commit"] or "unknown") in provenance
    if record["git_dirty"]:
        assert "dirty" in provenance
    assert soup(site / "paper-A.html").select_one('#table-A-5 a[href="notebooks/01_A_attention_tracker.html"]')


ASSET_ATTRIBUTES = (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
                    ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"))


def assert_offline(site: Path) -> None:
    """No page of the site refers to an asset on the network."""
    for page in pages(site):
        html = page.read_text(encoding="utf-8")
        document = BeautifulSoup(html, "html.parser")
        for tag, attribute in ASSET_ATTRIBUTES:
            for element in document.find_all(tag):
                target = element.get(attribute, "")
                assert not re.match(r"(https?:)?//", target), f"{page.name}: <{tag} {attribute}={target}>"
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", html), page.name
        assert not re.search(r"@import\s+(url\()?['\"]?(https?:)?//", html), page.name
        assert not re.search(r"\bimport\s*\(?\s*['\"](https?:)?//", html), page.name
    for asset in ("report.css", "report.js"):
        assert "http" not in (site / asset).read_text()


def test_no_page_loads_anything_from_the_network(site):
    assert (site / "notebooks" / "01_A_attention_tracker.html").exists()
    assert_offline(site)


def assert_links_resolve(site: Path) -> int:
    """Every relative href/src of every page names an existing file (and element); their count."""
    checked = 0
    for page in pages(site):
        document = soup(page)
        for element in document.find_all(["a", "img", "link", "script"]):
            target = element.get("href") or element.get("src")
            if not target or re.match(r"[a-z]+:", target):
                continue  # no target, or an absolute URL (notebook text may cite web pages)
            parts = urlsplit(target)
            destination = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert destination.is_file(), f"{page.name}: {target}"
            if parts.fragment and destination.suffix == ".html":
                assert soup(destination).find(id=parts.fragment), f"{page.name}: {target}"
            checked += 1
    return checked


def test_every_local_link_and_source_exists(site):
    assert assert_links_resolve(site) > 50


def test_report_command_prints_the_index(site, capsys):
    assert cli.main(["report"]) == 0
    assert capsys.readouterr().out.strip() == str(paths.figures_dir() / "index.html")


def test_a_failing_report_warns_and_leaves_reproduce_successful(monkeypatch, capsys):
    from vadlib import report, reproduce

    monkeypatch.setattr(reproduce, "reproduce", lambda *args, **kwargs: [reproduce.Outcome("00_thesis_at_a_glance", "ok")])

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(report, "build", broken)
    assert cli.main(["reproduce", "--only", "00"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == ["warning: report not written: RuntimeError: disk full"]


def test_reproduce_ends_by_writing_the_report(monkeypatch, capsys):
    from vadlib import reproduce

    monkeypatch.setattr(reproduce, "reproduce", lambda *args, **kwargs: [reproduce.Outcome("00_thesis_at_a_glance", "ok")])
    assert cli.main(["reproduce", "--only", "00"]) == 0
    assert f"report: {paths.figures_dir() / 'index.html'}" in capsys.readouterr().out
    assert (paths.figures_dir() / "index.html").exists()


def test_reproduce_of_notebook_00_ends_with_the_report_of_what_it_wrote(capsys):
    """End to end on the smoke profile: the real notebook 00 through papermill, then the report."""
    assert cli.main(["reproduce", "--only", "00"]) == 0
    site = paths.figures_dir()
    assert f"report: {site / 'index.html'}" in capsys.readouterr().out
    thesis = soup(site / "thesis.html")
    assert {t["data-table"] for t in thesis.select("table.data")} == {"thesis_tables", "thesis_audit", "thesis_errata"}
    assert thesis.select_one('img[src="thesis/audit_verdicts.png"]')
    assert thesis.select_one('a[href="notebooks/00_thesis_at_a_glance.html"]')
    assert (site / "notebooks" / "00_thesis_at_a_glance.html").exists()
    assert_offline(site)
    assert assert_links_resolve(site) > 10
