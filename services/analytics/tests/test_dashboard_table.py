"""The dashboard's report table in headless Chromium, on a list as long as a client list gets
at scale: drawn a page at a time, paged through, sorted over every row, exported whole; and
a list the server pages (`fetchPage`): each page, sort and the CSV asked of it."""

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
// As the server pages a list: `limit` rows from `offset` in the `sort` order (null: all).
window.asked = [];
const fetchPage = async (offset, sort, limit = 200) => {{
  window.asked.push([offset, sort, limit]);
  const field = sort ? sort.replace("-", "") : null;
  const sign = sort && sort.startsWith("-") ? -1 : 1;
  const key = (r) => (field === "revenue" ? Number(r.revenue) : r[field]);
  const order = (a, b) => sign * (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0);
  const ordered = field ? [...rows].sort(order) : rows;
  const end = limit === null ? undefined : offset + limit;
  return {{ rows: ordered.slice(offset, end), total: rows.length }};
}};
const remote = new URLSearchParams(location.search).has("remote");
renderTable(document.getElementById("main"), {{
  csvName: "clients",
  rowTitle: (r) => r.client_id,
  columns: [
    {{ key: "client_id", label: "Client", header: true }},
    {{ key: "revenue", label: "Revenue", type: "money" }},
  ],
  rows: remote ? rows.slice(0, 200) : rows,
  ...(remote ? {{ total: rows.length, fetchPage }} : {{}}),
}}, ctx);
window.ready = true;
</script>"""


def opened(query: str = ""):  # type: ignore[no-untyped-def]
    pages = {"/table.html": PAGE}
    for module in ("table.js", "dom.js"):
        pages[f"/{module}"] = (STATIC / module).read_text()
    with PageServer(pages) as server, chromium() as browser:
        tab = browser.new_page()
        tab.goto(f"{server.origin}/table.html{query}")
        tab.wait_for_function("window.ready === true")
        yield tab


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    yield from opened()


@pytest.fixture
def remote():  # type: ignore[no-untyped-def]
    yield from opened("?remote")


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


def test_a_list_the_server_pages_asks_it_for_each_page_and_sort(remote) -> None:  # type: ignore[no-untyped-def]
    assert remote.locator("tbody tr").count() == 200
    assert pager_text(remote) == f"1–200 of {ROWS}"
    assert remote.evaluate("window.asked") == []  # the first page came with the report
    remote.get_by_role("button", name="Next ›").click()
    remote.wait_for_function("document.querySelector('tbody th').textContent === 'c0200'")
    assert pager_text(remote) == f"201–400 of {ROWS}"
    remote.get_by_role("button", name="Revenue").click()  # a number: largest first
    remote.wait_for_function(
        f"document.querySelector('tbody th').textContent === 'c{ROWS - 1:04d}'"
    )
    assert pager_text(remote) == f"1–200 of {ROWS}"
    assert remote.evaluate("window.asked") == [[200, None, 200], [0, "-revenue", 200]]
    with remote.expect_download() as download:
        remote.get_by_role("button", name="⤓ CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + ROWS
    assert lines[1] == f"c{ROWS - 1:04d},999999.00"  # every row, in the order shown
    assert remote.evaluate("window.asked")[-1] == [0, "-revenue", None]
