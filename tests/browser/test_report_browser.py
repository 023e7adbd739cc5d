"""The web report in a real browser: headless Chromium (the Debian package) driven by Playwright.

Every page of the toy site loads without a console error or a failed request, every image
decodes, every link leads somewhere that exists, the Δ cells are painted in their legend's colour
and the search box filters rows. A screenshot of the index goes to ``$VADLIB_SCRATCH`` (CI) or
the test's temporary directory. ``scripts/ci/install_chromium.sh`` installs both tools.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    pytest.skip("browser test skipped: the python package playwright is not installed "
                "(scripts/ci/install_chromium.sh VENV installs it)", allow_module_level=True)
if not Path(CHROMIUM).is_file():
    pytest.skip("browser test skipped: no chromium executable (Debian package chromium; "
                "scripts/ci/install_chromium.sh installs it where apt is available)", allow_module_level=True)

from browser.toy_site import build_toy_site

BANDS = ((0.5, "delta-0"), (2.0, "delta-1"), (5.0, "delta-2"), (float("inf"), "delta-3"))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def site() -> Path:
    return build_toy_site().parent


class Visit:
    """A browser page that records console errors, uncaught exceptions and failed requests."""

    def __init__(self, browser):
        self.page = browser.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def open(self, url: str) -> None:
        self.page.goto(url, wait_until="load")  # "load" waits for every image too


def _path(url: str) -> Path:
    return Path(url2pathname(urlsplit(url).path))


def check_site(browser, site: Path) -> tuple[Visit, int]:
    """Open every page of ``site`` once: no console error, no failed request, every image decoded;
    then every link's target is a file, and an HTML target (opened in the same way) has the element
    its fragment names. Returns the visit and the number of links followed."""
    visit = Visit(browser)
    loaded: dict[Path, set[str]] = {}  # page -> the ids in it
    links: list[tuple[str, str]] = []  # (page, link url)

    def load(path: Path) -> None:
        visit.open(path.as_uri())
        broken = visit.page.eval_on_selector_all(
            "img", "images => images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], f"{path.name}: images that did not decode: {broken}"
        loaded[path] = set(visit.page.eval_on_selector_all("[id]", "nodes => nodes.map(n => n.id)"))
        links.extend((path.name, url) for url in visit.page.eval_on_selector_all("a[href]", "a => a.map(x => x.href)"))

    for path in sorted(site.glob("*.html")) + sorted((site / "notebooks").glob("*.html")):
        load(path)
    followed = 0
    for page_name, url in links:
        if not url.startswith("file://"):
            continue  # a web address cited in a notebook's text, not part of the site
        target = _path(url)
        assert target.is_file(), f"{page_name}: link to missing {url}"
        if target.suffix == ".html":
            if target not in loaded:
                load(target)
            fragment = urlsplit(url).fragment
            assert not fragment or fragment in loaded[target], f"{page_name}: no element #{fragment} in {url}"
        followed += 1
    assert visit.problems == []
    return visit, followed


def test_every_page_loads_cleanly_and_every_link_resolves(browser, site):
    visit, followed = check_site(browser, site)
    assert followed > 30
    screenshots = Path(os.environ.get("VADLIB_SCRATCH") or site.parent)
    screenshots.mkdir(parents=True, exist_ok=True)
    visit.open((site / "index.html").as_uri())
    shot = screenshots / "report-index.png"
    visit.page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of the report's index: {shot}")
    assert shot.stat().st_size > 0


def test_delta_colours_match_the_legend_and_the_numbers(browser, site):
    visit = Visit(browser)
    visit.open((site / "paper-A.html").as_uri())
    legend = visit.page.eval_on_selector_all(
        "#delta-legend [data-band]",
        "swatches => Object.fromEntries(swatches.map(s => [s.dataset.band, getComputedStyle(s).backgroundColor]))")
    assert len(set(legend.values())) == len(BANDS)  # four distinct colours
    cells = visit.page.eval_on_selector_all(
        "td.delta", "cells => cells.map(c => [c.textContent, getComputedStyle(c).backgroundColor])")
    assert len(cells) == 5
    for text, colour in cells:
        expected = next(css for bound, css in BANDS if abs(float(text)) <= bound)
        assert colour == legend[expected], (text, colour, legend)
    grey = visit.page.eval_on_selector_all(
        "table[data-table='A.5'] tbody tr", "rows => rows.map(r => getComputedStyle(r.cells[1]).color)")
    assert grey[2] != grey[0]  # the row not run is greyed
    assert visit.problems == []


def test_search_box_filters_table_rows(browser, site):
    visit = Visit(browser)
    visit.open((site / "paper-A.html").as_uri())
    rows = visit.page.locator("table.data tbody tr")
    total = rows.count()
    visit.page.fill("#search", "Stage 2")
    visible = [r.inner_text() for r in rows.all() if r.is_visible()]
    assert len(visible) == 1 and "Stage 2" in visible[0]
    assert visit.page.inner_text("#search-count") == f"1 of {total} rows match"
    visit.page.fill("#search", "not run")
    assert [r for r in rows.all() if r.is_visible()] and all("not run" in r.inner_text() for r in rows.all() if r.is_visible())
    visit.page.fill("#search", "")
    assert sum(r.is_visible() for r in rows.all()) == total
    assert visit.problems == []


def test_the_report_written_by_reproduce_passes_the_same_checks(browser):
    """``vadlib reproduce --only 00`` (smoke, the real notebook) ends with a report a browser shows cleanly."""
    from vadlib import cli, paths

    assert cli.main(["reproduce", "--only", "00"]) == 0
    site = paths.figures_dir()
    visit, followed = check_site(browser, site)
    assert followed > 10
    visit.open((site / "thesis.html").as_uri())
    assert visit.page.locator("table[data-table='thesis_errata'] tbody tr").count() > 0
    assert "pipeline checks, not results" in visit.page.inner_text("#profile-banner")
