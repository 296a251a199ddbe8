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


def _is_figure(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_link(name: str, value: object) -> bool:
    """A drill link, or a map of them (key → link, or key → name → link)."""
    return name.startswith("drill") and isinstance(value, str | dict)


def _key(row: dict[str, Any]) -> object:
    return next((row[k] for k in KEYS if k in row), None)


def _pct(current: float | Decimal, previous: float | Decimal) -> float | None:
    if not previous:
        return None
    return round(
        float((Decimal(str(current)) - Decimal(str(previous))) / Decimal(str(previous)) * 100), 2
    )


def _merge(current: Any, previous: Any) -> Any:
    if isinstance(current, list):
        earlier = {_key(r): r for r in previous or [] if isinstance(r, dict)}
        return [_merge(r, earlier.get(_key(r), {})) if isinstance(r, dict) else r for r in current]
    if not isinstance(current, dict):
        return current
    out: dict[str, Any] = {}
    prev_figures, deltas, pcts, prev_links = {}, {}, {}, {}
    for name, value in current.items():
        before = (previous or {}).get(name)
        if _is_link(name, value):
            out[name] = value
            if _is_link(name, before) and type(before) is type(value):
                prev_links[name] = before
        elif name in SKIP:
            out[name] = value
        elif _is_figure(value):
            out[name] = value
            before = before if _is_figure(before) else type(value)(0)
            delta = value - before
            prev_figures[name] = before
            deltas[name] = round(delta, 4) if isinstance(delta, float) else delta
            pcts[name] = _pct(value, before)
        elif value is None and _is_figure(before):
            out[name] = value
            prev_figures[name], deltas[name], pcts[name] = before, None, None
        else:
            out[name] = _merge(value, before)
    if prev_figures:
        out |= {"previous": prev_figures | prev_links, "delta": deltas, "delta_pct": pcts}
    elif prev_links:
        out["previous"] = prev_links
    return out


def compared(q: ReportQuery, compute: Callable[[ReportQuery], dict[str, Any]]) -> dict[str, Any]:
    current = compute(q)
    earlier_query = q.previous()
    if earlier_query is None:
        return current
    result = _merge(current, compute(earlier_query))
    result["comparison"] = {"compare": q.compare, **earlier_query.period.query()}
    return result
