"""`compare=previous_period|previous_year`: every figure gets its previous value, the change
and the change in percent. Rows of lists are matched by their key field. `previous` also
carries the previous period's drill links (`drill*` keys and maps), so its numbers open their
rows."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from analytics.application.reports.query import ReportQuery

KEYS = (
    "key",
    "stage",
    "channel",
    "source",
    "campaign",
    "manager_id",
    "bucket",
    "client_id",
    "cohort",
    "month",
    "reason",
)
SKIP = {"drill", "from", "to", "tz", "report", "filters", "comparison"}


# Exactly these types are figures; the checks below take them first, since a client list of
# a compare holds hundreds of thousands of rows (a subclass still goes the general way).
FIGURES = (int, float, Decimal)
PLAIN = (str, bool, type(None))


def _is_figure(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_link(name: str, value: object) -> bool:
    """A drill link, or a map of them (key → link, or key → name → link)."""
    return name.startswith("drill") and isinstance(value, str | dict)


def _key(row: dict[str, Any]) -> object:
    for k in KEYS:
        if k in row:
            return row[k]
    return None


def _exact(value: float | Decimal) -> Decimal:
    """The figure as the decimal it prints as (a Decimal or an int is that already)."""
    kind = type(value)
    if kind is Decimal:
        return value  # type: ignore[return-value]
    return Decimal(value) if kind is int else Decimal(str(value))


def _pct(current: float | Decimal, previous: float | Decimal) -> float | None:
    if not previous:
        return None
    before = _exact(previous)
    return round(float((_exact(current) - before) / before * 100), 2)


def _merge(current: Any, previous: Any) -> Any:
    if isinstance(current, list):
        earlier = {}
        for r in previous or ():
            if isinstance(r, dict):
                earlier[_key(r)] = r
        return [_merge(r, earlier.get(_key(r), {})) if isinstance(r, dict) else r for r in current]
    if not isinstance(current, dict):
        return current
    out: dict[str, Any] = {}
    prev_figures, deltas, pcts, prev_links = {}, {}, {}, {}
    previous = previous or {}
    for name, value in current.items():
        before = previous.get(name)
        kind = type(value)
        if name.startswith("drill") and (kind is str or isinstance(value, str | dict)):
            out[name] = value
            if _is_link(name, before) and type(before) is type(value):
                prev_links[name] = before
        elif name in SKIP:
            out[name] = value
        elif kind in FIGURES or _is_figure(value):
            out[name] = value
            before = before if type(before) in FIGURES or _is_figure(before) else kind(0)
            delta = value - before
            prev_figures[name] = before
            deltas[name] = round(delta, 4) if isinstance(delta, float) else delta
            pcts[name] = _pct(value, before)
        elif value is None and _is_figure(before):
            out[name] = value
            prev_figures[name], deltas[name], pcts[name] = before, None, None
        elif kind in PLAIN:
            out[name] = value  # what merging a scalar gives
        else:
            out[name] = _merge(value, before)
    if prev_figures:
        out |= {"previous": prev_figures | prev_links, "delta": deltas, "delta_pct": pcts}
    elif prev_links:
        out["previous"] = prev_links
    return out


class WithPrevious(dict[str, Any]):
    """A report computed together with its comparison period's (one statement over both, where
    they share the scan): `compared` merges that one instead of computing it again."""

    def __init__(self, current: dict[str, Any], previous: dict[str, Any]) -> None:
        super().__init__(current)
        self.previous = previous


def compared_queries(q: ReportQuery) -> list[ReportQuery]:
    """The query, then its comparison's if it has one: the periods a report that computes
    both at once (`with_previous`) covers."""
    earlier = q.previous()
    return [q] if earlier is None else [q, earlier]


def with_previous(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The reports of `compared_queries` as a report's answer: the first, carrying the
    second's for `compared`."""
    return reports[0] if len(reports) == 1 else WithPrevious(*reports)


def compared(q: ReportQuery, compute: Callable[[ReportQuery], dict[str, Any]]) -> dict[str, Any]:
    current = compute(q)
    earlier_query = q.previous()
    if earlier_query is None:
        return current
    # Computed with the current one (`WithPrevious`), or now.
    earlier = current.previous if isinstance(current, WithPrevious) else compute(earlier_query)
    result = _merge(current, earlier)
    result["comparison"] = {"compare": q.compare, **earlier_query.period.query()}
    return result
