"""The reports' answer is written by `report_bytes` in one pass; it must be byte for byte what
the framework wrote before from `report_json`'s values (pydantic's JSON of `dict[str, Any]`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from analytics.application.reports.serialize import report_bytes, report_json

FRAMEWORK = TypeAdapter(dict[str, Any])  # what FastAPI wrote for a `dict[str, Any]` route


def framework_json(value: dict[str, Any]) -> bytes:
    return FRAMEWORK.dump_json(report_json(value))


money = st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=2)
wide_money = st.decimals(allow_nan=False, allow_infinity=False, places=6).filter(
    lambda d: abs(d) < Decimal("1e15")
)
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1))
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30))]
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),  # NaN and infinities too: both write null
    st.text(),
    money,
    wide_money,
    instants,  # naive: a DateTime64(3, 'UTC') as the driver returns it
    st.builds(lambda t, z: t.replace(tzinfo=z), instants, zones),
    st.dates(),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=5))
def test_same_bytes_as_the_framework_wrote(value: dict[str, Any]) -> None:
    assert report_bytes(value) == framework_json(value)


def test_a_list_report_row() -> None:
    row = {
        "client_id": "c-1",
        "revenue": Decimal("1234.5"),
        "share_pct": 12.3456,
        "class": "A",
        "last_paid_at": datetime(2026, 3, 1, 9, 30, 0, 123000),
        "month": date(2026, 3, 1),
        "drill": "/v1/drill/deals?from=2026-01-01&client=c-1",
    }
    answer = report_bytes({"rows": [row], "total": Decimal("-0.005")})
    assert answer == framework_json({"rows": [row], "total": Decimal("-0.005")})
    assert b'"revenue":"1234.50"' in answer
    assert b'"last_paid_at":"2026-03-01T09:30:00.123000+00:00"' in answer


def test_non_text_keys_are_written_as_text() -> None:
    value = {"by_month": {date(2026, 1, 1): Decimal(1), 7: "x"}}
    assert report_bytes(value) == framework_json(value)
