"""The dashboard's report table in headless Chromium, on a list as long as a client list gets
at scale: drawn a page at a time, paged through, sorted over every row, exported whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import PageServer, chromium

STATIC = Path(__file__).parents[1] / "src/analytics/api/dashboard/static"
ROWS = 450  # more than two pages of PAGE_ROWS (200)

# The table with a context of plain words and numbers; revenue grows with the row, but the
# largest sits on the last page, so that only a sort over every row puts it first.
PAGE = f"""<!doctype html><meta charset="utf-8"><title>table</title><main id="main"></main>
<script type="module">
import {{ renderTable }} from "/table.js";
const rows = Array.from({{ length: {ROWS} }}, (_, i) => ({{
  client_id: `c${{String(i).padStart(4, "0")}}`,
  revenue: i === {ROWS - 1} ? "999999.00" : `${{i}}.50`,
}}));
const words = {{
  prev: "Previous", next: "Next", of: "of", csv: "CSV", client: "Client", revenue: "Revenue",
}};
const ctx = {{
  t: (key) => words[key] ?? key,
  fmt: {{ text: String, int: String, money: String }},
  openDrill: () => {{}},
}};
renderTable(document.getElementById("main"), {{
  csvName: "clients",
  rowTitle: (r) => r.client_id,
  columns: [
    {{ key: "client_id", label: "Client", header: true }},
    {{ key: "revenue", label: "Revenue", type: "money" }},
  ],
  rows,
}}, ctx);
window.ready = true;
</script>"""


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    pages = {"/table.html": PAGE}
    for module in ("table.js", "dom.js"):
        pages[f"/{module}"] = (STATIC / module).read_text()
    with PageServer(pages) as server, chromium() as browser:
        tab = browser.new_page()
        tab.goto(f"{server.origin}/table.html")
        tab.wait_for_function("window.ready === true")
        yield tab


def first_ids(page, count: int = 1) -> list[str]:  # type: ignore[no-untyped-def]
    return [page.locator("tbody th").nth(i).inner_text() for i in range(count)]


def pager_text(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator(".pager span").inner_text())


def test_a_long_list_is_drawn_a_page_at_a_time(page) -> None:  # type: ignore[no-untyped-def]
    assert page.locator("tbody tr").count() == 200
    assert pager_text(page) == f"1–200 of {ROWS}"
    assert page.get_by_role("button", name="‹ Previous").is_disabled()

    page.get_by_role("button", name="Next ›").click()
    assert pager_text(page) == f"201–400 of {ROWS}"
    assert first_ids(page) == ["c0200"]
    page.get_by_role("button", name="Next ›").click()
    assert pager_text(page) == f"401–{ROWS} of {ROWS}"
    assert page.locator("tbody tr").count() == ROWS - 400
    assert page.get_by_role("button", name="Next ›").is_disabled()
    page.get_by_role("button", name="‹ Previous").click()
    assert first_ids(page) == ["c0200"]


def test_the_sort_takes_every_row_and_starts_over(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Next ›").click()
    page.get_by_role("button", name="Revenue").click()  # a number: largest first
    assert pager_text(page) == f"1–200 of {ROWS}"
    assert first_ids(page, 2) == [f"c{ROWS - 1:04d}", f"c{ROWS - 2:04d}"]
    page.get_by_role("button", name="Revenue").click()
    assert first_ids(page, 2) == ["c0000", "c0001"]


def test_the_csv_holds_every_row(page) -> None:  # type: ignore[no-untyped-def]
    with page.expect_download() as download:
        page.get_by_role("button", name="⤓ CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Client,Revenue"
    assert len(lines) == 1 + ROWS
    assert lines[-1] == f"c{ROWS - 1:04d},999999.00"


def test_a_short_list_has_no_pager(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate(
        """async () => {
            const { renderTable } = await import("/table.js");
            const main = document.getElementById("main");
            main.replaceChildren();
            renderTable(main, { columns: [{ key: "k", label: "K", header: true }],
                                rows: [{ k: "a" }, { k: "b" }] },
                        { t: (k) => k, fmt: { text: String, int: String }, openDrill: () => {} });
        }"""
    )
    assert page.locator("tbody tr").count() == 2
    assert page.locator(".pager").is_hidden()
