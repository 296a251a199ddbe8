"""Stable views for analysts: every column commented, latest state, hashed contacts only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.adapters.analyst_views import NAMES, create_views
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.clickhouse_protocol import EmbeddedEngine
from analytics.domain.hashing import contact_hash
from services.analytics.tests.history import DealStory, lead, manager
from services.analytics.tests.reports_support import load

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SPEND_COLUMNS = [
    "date", "source", "medium", "campaign", "cost", "currency", "cost_base", "clicks",
    "impressions", "updated_at",
]  # fmt: skip


@pytest.fixture
def views(clickhouse: ClickHouse) -> ClickHouse:
    received = lead("l1", AT, email="Ann.Petrova@Mail.ru", utm_source="Yandex", utm_medium="cpc")
    received = received.model_copy(
        update={
            "contact": received.contact.model_copy(
                update={"phone": "+79123456789", "name": "Ann Petrova"}
            )
        }
    )
    won = DealStory("d1", AT, "1000.00", lead_id="l1", client="c1", manager="m1")
    won.move("proposal", AT + timedelta(hours=2)).set_amount("1200.00", AT + timedelta(hours=3))
    won.win(AT + timedelta(days=1)).pay("1200.00", AT + timedelta(days=2), payment_id="p1")
    lost = DealStory("d2", AT, "50", lead_id="", manager="m2")
    lost.move("lost", AT + timedelta(hours=5), "lost", reason="too expensive")
    events = [
        received,
        *won.events,
        *lost.events,
        manager("m1", "Anna", AT),
        manager("m1", "Anna K.", AT + timedelta(days=1)),
    ]
    load(clickhouse, events)
    for cost, updated in (("10.00", AT), ("12.50", AT + timedelta(hours=1))):  # a re-import
        row = [date(2026, 3, 1), "yandex", "cpc", "spring", Decimal(cost), "RUB", Decimal(cost),
               7, 300, updated]  # fmt: skip
        clickhouse.insert("ad_spend", [row], SPEND_COLUMNS)
    create_views(clickhouse)
    return clickhouse


def test_every_view_and_column_is_commented(views):
    tables = views.rows(
        "SELECT name, engine, comment FROM system.tables WHERE database = {db:String} "
        "AND name LIKE 'v\\_%' ORDER BY name",
        {"db": views.db},
    )
    assert sorted(NAMES) == [t["name"] for t in tables]
    assert all(t["engine"] == "View" and t["comment"] for t in tables)
    columns = views.rows(
        "SELECT table, name, comment FROM system.columns WHERE database = {db:String} "
        "AND table LIKE 'v\\_%'",
        {"db": views.db},
    )
    assert len(columns) > 40
    assert [c for c in columns if not c["comment"].strip()] == []


def test_deals_show_their_latest_state(views):
    deals = views.rows("SELECT * FROM {db}.v_deals ORDER BY deal_id")
    assert [(d["deal_id"], d["stage"], d["status"]) for d in deals] == [
        ("d1", "won", "won"),
        ("d2", "lost", "lost"),
    ]
    d1, d2 = deals
    assert d1["amount"] == Decimal("1200.00") and d1["amount_base"] == Decimal("1200.00")
    assert d1["paid_total"] == Decimal("1200.00")
    assert d1["closed_at"] is not None and d1["lead_id"] == "l1" and d1["client_id"] == "c1"
    assert d2["lost_reason"] == "too expensive" and d2["lost_at_stage"] == "new"


def test_stage_intervals_payments_touches_spend_and_managers(views):
    stays = views.rows(
        "SELECT stage, duration_seconds, left_at FROM {db}.v_stage_intervals "
        "WHERE deal_id = 'd1' ORDER BY entered_version"
    )
    assert [s["stage"] for s in stays] == ["new", "proposal", "won"]
    assert stays[0]["duration_seconds"] == 7200
    assert stays[-1]["left_at"] is None and stays[-1]["duration_seconds"] is None

    [payment] = views.rows("SELECT * FROM {db}.v_payments")
    assert payment["payment_id"] == "p1" and payment["client_id"] == "c1"
    assert payment["manager_id"] == "m1" and payment["pipeline_id"] == "default"
    assert payment["amount"] == payment["amount_base"] == Decimal("1200.00")

    touches = views.rows("SELECT lead_id, kind, source, medium FROM {db}.v_touches")
    assert touches == [{"lead_id": "l1", "kind": "lead", "source": "yandex", "medium": "cpc"}]

    [spend] = views.rows("SELECT cost, cost_base, clicks FROM {db}.v_ad_spend")
    assert spend == {"cost": Decimal("12.50"), "cost_base": Decimal("12.50"), "clicks": 7}

    assert views.rows("SELECT manager_id, name, active FROM {db}.v_managers") == [
        {"manager_id": "m1", "name": "Anna K.", "active": True}
    ]


def test_leads_carry_hashed_contacts_and_their_deal(views):
    [row] = views.rows("SELECT * FROM {db}.v_leads")
    assert row["lead_id"] == "l1" and row["deal_id"] == "d1"
    assert row["utm_source"] == "yandex" and row["channel"]
    assert row["email_hash"] == contact_hash("ann.petrova@mail.ru", "dev-salt")
    assert row["phone_hash"] == contact_hash("+79123456789", "dev-salt")


@pytest.mark.parametrize("view", NAMES)
def test_no_view_shows_a_raw_contact(views, view):
    assert views.rows(f"SELECT count() AS n FROM {{db}}.{view}")[0]["n"] > 0
    for needle in ("9123456789", "ann.petrova", "Ann Petrova", "Ann.Petrova", "@"):
        found = views.rows(
            f"SELECT count() AS n FROM {{db}}.{view} "
            "WHERE positionCaseInsensitive(toString(tuple(*)), {needle:String}) > 0",
            {"needle": needle},
        )
        assert found == [{"n": 0}], (view, needle)


def test_views_are_recreated_in_place_and_read_by_the_analyst_session(views):
    create_views(views)  # at every start: idempotent
    assert views.rows("SELECT count() AS n FROM {db}.v_deals") == [{"n": 2}]
    engine = EmbeddedEngine(views, {"max_result_rows": 100, "readonly": 1})
    with engine.session({}, "analyst") as session:
        session.use(views.db)
        assert session.text("SELECT deal_id FROM v_deals ORDER BY deal_id") == "d1\nd2\n"


def test_a_bad_base_currency_is_refused(clickhouse):
    with pytest.raises(ValueError):
        create_views(clickhouse, "RUB'; DROP")
