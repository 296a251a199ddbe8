"""What every report takes: the period, the time zone, filters and a comparison
(docs/reports.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal
from urllib.parse import quote_plus, urlencode

from analytics.application.reports.period import Period

Compare = Literal["previous_period", "previous_year"]


@dataclass(frozen=True)
class ReportQuery:
    period: Period
    pipeline: str | None = None
    manager: str | None = None
    channel: str | None = None
    source: str | None = None
    campaign: str | None = None
    compare: Compare | None = None
    base_currency: str = "RUB"  # money is reported in it (settings.base_currency)

    def filters(self) -> dict[str, str]:
        names = ("pipeline", "manager", "channel", "source", "campaign")
        return {n: getattr(self, n) for n in names if getattr(self, n)}

    def previous(self) -> ReportQuery | None:
        if self.compare is None:
            return None
        return replace(self, period=self.period.compared(self.compare), compare=None)

    def drill(self, kind: str, within: Period | None = None, **selection: object) -> str:
        """Link to the rows behind a number: the same filters, the period (or the part of it
        `within` covers, e.g. one bucket) and a selection (None: left out; a list: repeated)."""
        params: dict[str, object] = (within or self.period).query() | self.filters()
        params |= {k: _param(v) for k, v in selection.items() if v is not None}
        return f"/v1/drill/{kind}?{urlencode(params, doseq=True)}"

    def linker(self, kind: str, within: Period | None = None, **common: object) -> Callable:
        """`drill` with a part of the selection fixed: the links of one row differ in a
        field or two (`link()`, `link(status="won")`)."""
        return partial(self.drill, kind, within=within, **common)

    def keyed_linker(self, kind: str, key: str, **rest: object) -> Callable[[str], str]:
        """`drill(kind, **{key: value}, **rest)` for many values of one field (a link per row
        of a long list): the same link, the common parts encoded once."""
        head = f"{self.drill(kind)}&{quote_plus(key)}="
        tail = urlencode({k: _param(v) for k, v in rest.items() if v is not None}, doseq=True)
        tail = "&" + tail if tail else ""
        return lambda value: head + _quoted(value) + tail

    def header(self, report: str) -> dict[str, object]:
        return {"report": report, **self.period.query(), "filters": self.filters()}


SAFE = re.compile(r"[A-Za-z0-9_.~-]*")  # what `quote_plus` leaves as it is


def _quoted(value: str) -> str:
    """`quote_plus(value)` as `urlencode` does it; an id of safe characters as it is, fast."""
    return value if SAFE.fullmatch(value) else quote_plus(value)


def _param(value: object) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)
