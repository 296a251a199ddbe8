"""A long list's links made by `keyed_linker` are the links `drill` makes."""

from decimal import Decimal

import pytest

from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.serialize import report_json


@pytest.mark.parametrize(
    "value", ["c-1", "0f8e2c1a-9b7d-4f3e-a1c2-d3e4f5a6b7c8", "a b&c=d", "клиент/1", "x~y.z_", ""]
)
@pytest.mark.parametrize("rest", [{}, {"basis": "paid"}, {"basis": "won", "skip": None}])
def test_keyed_linker_makes_the_drill_link(value, rest):
    q = ReportQuery(
        Period.parse("2026-03-01", "2026-04-01", "Europe/Moscow"), manager="m 1", channel="paid"
    )
    assert q.keyed_linker("deals", "client", **rest)(value) == q.drill(
        "deals", client=value, **rest
    )


def test_report_json_keeps_plain_values():
    value = {"a": [1, 2.5, True, None, "x", Decimal("1.005"), (3,)], "b": False}
    assert report_json(value) == {"a": [1, 2.5, True, None, "x", "1.00", [3]], "b": False}
