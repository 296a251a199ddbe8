"""ABC ranks, shares and classes, computed in SQL, against the definition in exact decimals:
`before` = revenue of the clients ranked above ÷ all revenue × 100, rounded half to even to 4
places; A below 80 %, B below 95 %, else C; ties by client id."""

import random
from datetime import UTC, datetime
from decimal import Decimal

from analytics.application.reports.money import abc
from services.analytics.tests.history import DealStory
from services.analytics.tests.reports_support import load, run


def at(day, hour=10):
    return datetime(2026, 2, day, hour, tzinfo=UTC)


def paying(revenues: dict[str, list[str]]) -> list:
    """A won deal per client, paid in February in the given parts."""
    events = []
    for n, (client, parts) in enumerate(sorted(revenues.items())):
        story = DealStory(f"d{n}", at(1), "1", client=client).win(at(2))
        for part in parts:
            story.pay(part, at(3 + len(story.events) % 20))
        events += story.events
    return events


def expected(revenues: dict[str, list[str]]) -> list[tuple[str, int, str, float, str]]:
    """The rows by the definition, in Python's decimals (as the report computed them before)."""
    totals = {c: sum((Decimal(p) for p in parts), Decimal(0)) for c, parts in revenues.items()}
    order = sorted(totals, key=lambda c: (-totals[c], c))
    total, above, rows = sum(totals.values(), Decimal(0)), Decimal(0), []
    for rank, client in enumerate(order, start=1):
        before = above / total * 100 if total else Decimal(0)
        cls = "A" if before < 80 else "B" if before < 95 else "C"
        rows.append((client, rank, f"{totals[client]:.2f}", float(round(before, 4)), cls))
        above += totals[client]
    return rows


def report_rows(ch) -> list[tuple[str, int, str, float, str]]:
    report = run(ch, abc, "2026-02-01", "2026-03-01")
    return [
        (r["client_id"], r["rank"], r["revenue"], r["share_before_pct"], r["class"])
        for r in report["rows"]
    ]


def test_a_share_on_a_half_rounds_to_even(clickhouse):
    # 10000.01 of 20000.00 is 50.00005 %: half to even is 50.0000, half up would be 50.0001.
    revenues = {"X": ["10000.01"], "Y": ["9999.99"]}
    load(clickhouse, paying(revenues))
    assert report_rows(clickhouse) == expected(revenues)
    assert report_rows(clickhouse)[1][3] == 50.0


def test_class_bounds_are_exclusive_and_ties_go_by_id(clickhouse):
    # Before "B": exactly 80 % (so B, not A); before "C1": exactly 95 % (so C). "C1" and "C2"
    # tie on revenue, so the id orders them, and "C2" is ranked below "C1".
    revenues = {"A": ["800"], "B": ["150"], "C2": ["25"], "C1": ["10", "15"]}
    load(clickhouse, paying(revenues))
    rows = report_rows(clickhouse)
    assert rows == expected(revenues)
    assert [(r[0], r[4]) for r in rows] == [("A", "A"), ("B", "B"), ("C1", "C"), ("C2", "C")]


def test_many_clients_with_ties_match_the_definition(clickhouse):
    rng = random.Random(11)
    amounts = ["0.01", "0.03", "1.00", "33.33", "100.00", "999.99", "1234.57"]
    revenues = {
        f"c{n:02d}": [rng.choice(amounts) for _ in range(rng.randint(1, 3))] for n in range(60)
    }
    load(clickhouse, paying(revenues))
    report = run(clickhouse, abc, "2026-02-01", "2026-03-01")
    rows = expected(revenues)
    assert len({r[2] for r in rows}) < len(rows)  # there are ties
    assert [
        (r["client_id"], r["rank"], r["revenue"], r["share_before_pct"], r["class"])
        for r in report["rows"]
    ] == rows
    by_class = {c["key"]: c for c in report["classes"]}
    for cls in "ABC":
        mine = [r for r in rows if r[4] == cls]
        assert by_class[cls]["clients"] == len(mine)
        assert Decimal(by_class[cls]["revenue"]) == sum((Decimal(r[2]) for r in mine), Decimal(0))
    assert Decimal(report["totals"]["revenue"]) == sum((Decimal(r[2]) for r in rows), Decimal(0))
