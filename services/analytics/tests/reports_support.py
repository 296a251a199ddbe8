"""Running a report the way the API does (comparison, JSON money) over hand-built events."""

from __future__ import annotations

from analytics.ingest import ingest
from analytics.projection.config import ProjectionConfig
from analytics.reports.compare import compared
from analytics.reports.period import Period
from analytics.reports.query import ReportQuery
from analytics.reports.serialize import jsonable


def load(ch, events) -> None:  # type: ignore[no-untyped-def]
    ingest(ch, events, [e.model_dump_json() for e in events], ProjectionConfig())


def run(ch, compute, start, end, tz="UTC", **query):  # type: ignore[no-untyped-def]
    q = ReportQuery(Period.parse(start, end, tz), **query)
    return jsonable(compared(q, lambda qq: compute(ch, qq)))


def by(rows: list[dict], key: str) -> dict[str, dict]:
    return {r[key]: r for r in rows}
