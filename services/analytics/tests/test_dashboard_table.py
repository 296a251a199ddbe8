"""The dashboard's report table in headless Chromium, on a list as long as a client list gets
at scale: drawn a page at a time, paged through, sorted over every row, exported whole; and
a list the server pages (`fetchPage`): asked for a chunk of five pages at a time, the next
chunk before the reader turns to it, each sort anew, and every row for the CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import PageServer, chromium

STATIC = Path(__file__).parents[1] / "src/analytics/api/dashboard/static"
ROWS = 450  # more than two pages of PAGE_ROWS (200)
REMOTE_ROWS = 2300  # more than two chunks of CHUNK_ROWS (1000)

# The table with a context of plain words and numbers; revenue grows with the row, but the
# largest sits on the last page, so that only a sort over every row puts it first.
PAGE = f"""<!doctype html><meta charset="utf-8"><title>table</title><main id="main"></main>
<script type="module">
import {{ renderTable }} from "/table.js";
const remote = new URLSearchParams(location.search).has("remote");
const count = remote ? {REMOTE_ROWS} : {ROWS};
const rows = Array.from({{ length: count }}, (_, i) => ({{
  client_id: `c${{String(i).padStart(4, "0")}}`,
  revenue: i === count - 1 ? "999999.00" : `${{i}}.50`,
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
const fetchPage = async (offset, sort, limit) => {{
  window.asked.push([offset, sort, limit]);
  const field = sort ? sort.replace("-", "") : null;
  const sign = sort && sort.startsWith("-") ? -1 : 1;
  const key = (r) => (field === "revenue" ? Number(r.revenue) : r[field]);
  const order = (a, b) => sign * (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0);
  const ordered = field ? [...rows].sort(order) : rows;
  const end = limit === null ? undefined : offset + limit;
  return {{ rows: ordered.slice(offset, end), total: rows.length }};
}};
renderTable(document.getElementById("main"), {{
  csvName: "clients",
  rowTitle: (r) => r.client_id,
  columns: [
    {{ key: "client_id", label: "Client", header: true }},
    {{ key: "revenue", label: "Revenue", type: "money" }},
  ],
  rows: remote ? rows.slice(0, 1000) : rows,
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


def shows(page, first: str) -> None:  # type: ignore[no-untyped-def]
    """Waits until the drawn page starts with the row `first`."""
    page.wait_for_function(f"document.querySelector('tbody th').textContent === '{first}'")


def test_a_list_the_server_pages_comes_a_chunk_at_a_time(remote) -> None:  # type: ignore[no-untyped-def]
    asked = lambda: remote.evaluate("window.asked")  # noqa: E731
    turn = lambda name: remote.get_by_role("button", name=name).click()  # noqa: E731
    assert remote.locator("tbody tr").count() == 200
    assert pager_text(remote) == f"1–200 of {REMOTE_ROWS}"
    for page in range(1, 4):  # the first chunk came with the report: its pages turn at once
        turn("Next ›")
        shows(remote, f"c{page * 200:04d}")
        assert asked() == []
    turn("Next ›")  # the chunk's last page: the next chunk is asked for before it is needed
    shows(remote, "c0800")
    assert pager_text(remote) == f"801–1000 of {REMOTE_ROWS}"
    remote.wait_for_function("window.asked.length === 1")
    turn("Next ›")
    shows(remote, "c1000")
    turn("‹ Previous")  # the first chunk is still held
    shows(remote, "c0800")
    assert asked() == [[1000, None, 1000]]
    for first in range(1000, 2300, 200):
        turn("Next ›")
        shows(remote, f"c{first:04d}")
    assert pager_text(remote) == f"2201–{REMOTE_ROWS} of {REMOTE_ROWS}"
    assert remote.locator("tbody tr").count() == REMOTE_ROWS - 2200
    assert remote.get_by_role("button", name="Next ›").is_disabled()
    assert asked() == [[1000, None, 1000], [2000, None, 1000]]

    remote.get_by_role("button", name="Revenue").click()  # a number: largest first, anew
    shows(remote, f"c{REMOTE_ROWS - 1:04d}")
    assert pager_text(remote) == f"1–200 of {REMOTE_ROWS}"
    assert asked()[2:] == [[0, "-revenue", 1000]]
    turn("Next ›")  # within the new order's first chunk
    shows(remote, f"c{REMOTE_ROWS - 201:04d}")
    assert len(asked()) == 3
    with remote.expect_download() as download:
        remote.get_by_role("button", name="⤓ CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + REMOTE_ROWS
    assert lines[1] == f"c{REMOTE_ROWS - 1:04d},999999.00"  # every row, in the order shown
    assert asked()[-1] == [0, "-revenue", None]
