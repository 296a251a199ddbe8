"""One page of a report's long client list (ABC, client profitability, the win-back list):
`limit` rows from `offset`, in the report's own order or `sort`ed by a field of the rows.

At 10 M events such a list holds some 200 000 clients. Asked for a page, the engine still
ranks every client (the figures above the list need them all) but writes only the page's rows:
the list's statement becomes the `base` of `PAGED_SQL`, which numbers the rows in the asked
order and keeps the whole list's totals on each row as window aggregates, so the page and its
totals come from one statement (one snapshot). A comparison merges both periods' whole lists
first (compare.py), then the merged rows are paged here in Python, in the same order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.json_rows import JsonRows, written
from analytics.application.reports.sql import Sql
from crm_contracts.runtime.errors import Invalid

MAX_LIMIT = 1000  # rows in one page, as the drill-down lists allow

# The base rows numbered in the page's order (`page_pos` 1 …), each with the whole list's
# `page_total` and the report's own `{windows}`. The first row always comes back, in the page
# or not, so that the totals come even with a page past the end (the caller drops it).
PAGED_SQL = Sql("""
SELECT {rows}, page_pos, page_total{carried}
FROM (
    SELECT *, row_number() OVER (ORDER BY {order}) AS page_pos,
           {counted} AS page_total{windows}
    FROM ({base})
)
WHERE page_pos = 1 OR (page_pos > {page_offset:UInt64} AND page_pos <= {page_end:UInt64})
ORDER BY page_pos
""")


@dataclass(frozen=True)
class ListPage:
    """What the request asked of the list: `limit` None is every row from `offset`; `sort` a
    field of the rows, `-field` for descending (ties by the client's id), None the report's
    own order."""

    limit: int | None = None
    offset: int = 0
    sort: str | None = None

    @property
    def whole(self) -> bool:
        """Every row in the report's order: the list as the report gives it unpaged."""
        return self.limit is None and not self.offset and not self.sort

    def check(self, fields: Sequence[str]) -> None:
        if self.sort and self.sort.removeprefix("-") not in fields:
            raise Invalid(f"one of {', '.join(fields)}, optionally with a -", "sort")

    def end(self) -> int:
        """The position of the page's last row (1-based; a huge one for every row)."""
        return self.offset + (self.limit if self.limit is not None else 2**62)

    def answer(self, total: int) -> dict[str, Any]:
        """The `page` object beside the list: where it is and how many rows the list holds."""
        return {"offset": self.offset, "limit": self.limit, "sort": self.sort, "total": total}


WHOLE = ListPage()  # every row in the report's order


@dataclass(frozen=True)
class Listing:
    """A client list's base statement and how its fields sort: field → the base's SQL
    expression (a column or a computation on them), and the report's own order. `first`: an
    order before either (a base holding rows that are not in the list puts the list's first)."""

    base: Sql
    order_of: Mapping[str, str]
    own_order: str
    first: str = ""

    def order(self, page: ListPage) -> str:
        order = self.own_order
        if page.sort:
            field = page.sort.removeprefix("-")
            direction = "DESC" if page.sort.startswith("-") else "ASC"
            tie = "" if field == "client_id" else ", client_id"
            order = f"{self.order_of[field]} {direction}{tie}"
        return f"{self.first}, {order}" if self.first else order

    def paged(
        self,
        page: ListPage,
        rows: Sql | str,
        windows: Mapping[str, str] | None = None,
        counted: str = "count() OVER ()",
    ) -> Sql:
        """PAGED_SQL of the base: `rows` (what is read of each row), then `page_pos`,
        `page_total` (`counted`: the list's size as a window aggregate) and `windows` (name →
        a window aggregate over the whole base, e.g. the list's total revenue)."""
        extra = dict(windows or {})
        return PAGED_SQL.fill(
            rows=rows,
            carried="".join(f", {name}" for name in extra),
            windows="".join(f", {sql} AS {name}" for name, sql in extra.items()),
            order=self.order(page),
            counted=counted,
            base=self.base,
        ).bind(page_offset=page.offset, page_end=page.end())


@dataclass(frozen=True)
class PageRows:
    """A page as PAGED_SQL gave it: its rows as the engine wrote them (`texts`), or else
    their `columns`; the list's size; the `windows`' values (None each for an empty list)."""

    texts: JsonRows | None
    columns: list[list[Any]]
    total: int
    windows: dict[str, Any]


def read_page(
    ch: ClickHouse,
    listing: Listing,
    page: ListPage,
    row: Sql | None,
    columns: tuple[str, int],
    money: tuple[str, ...],
    windows: Mapping[str, str],
    counted: str = "count() OVER ()",
) -> PageRows:
    """The page's rows as the engine writes their JSON (`row`, see `json_rows.row_json`),
    or, when it cannot (no `row`, or a value it could not write), the `columns` of each
    (a select list and how many items it has; `money`: the fields written as decimal text)."""
    names = list(windows)
    if row is not None:
        texts, *rest = ch.columns(
            listing.paged(page, Sql("{row} AS row").fill(row=row), windows, counted), 3 + len(names)
        )
        kept, total, values = _kept(page, [texts], rest, names)
        rows = written(kept[0], money)
        if rows is not None:
            return PageRows(rows, [], total, values)
    select, width = columns
    read = ch.columns(listing.paged(page, select, windows, counted), width + 2 + len(names))
    kept, total, values = _kept(page, read[:width], read[width:], names)
    return PageRows(None, kept, total, values)


def _kept(
    page: ListPage, data: list[list[Any]], rest: list[list[Any]], names: list[str]
) -> tuple[list[list[Any]], int, dict[str, Any]]:
    """The data columns cut to the page's rows (the first row may lie outside), the list's
    size and the windows' values."""
    positions, totals, *windows = rest
    total = totals[0] if totals else 0
    keep = [page.offset < p <= min(page.end(), total) for p in positions]
    kept = [[v for v, k in zip(column, keep, strict=True) if k] for column in data]
    return kept, total, {n: (w[0] if w else None) for n, w in zip(names, windows, strict=True)}


def paged_answer(answer: dict[str, Any], key: str, page: ListPage) -> dict[str, Any]:
    """A page of an answer's list made already (a comparison's whole list), in the order the
    engine gives a page in: `page.sort`'s field, ties by client id, or the list's own order."""
    rows = list(answer[key])
    if page.sort:
        field = page.sort.removeprefix("-")
        rows.sort(key=lambda r: r["client_id"])
        rows.sort(key=lambda r: r[field], reverse=page.sort.startswith("-"))  # stable
    return answer | {key: rows[page.offset : page.end()], "page": page.answer(len(rows))}
