"""The drill-down API beyond totals: sorting, CSV export, the deal card, and refusals (422
naming the field, 404 for an unknown deal), over the HTTP API on the real engine."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from analytics.adapters.clickhouse import ClickHouse
from crm_contracts.events import DealInvoiceIssued
from crm_contracts.events.deals import Requisites
from services.analytics.tests.apps import offline_client
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import load
from services.analytics.tests.test_money_reports import history

KEY = {"X-API-Key": "drill-key"}
FEB = {"from": "2026-02-01", "to": "2026-03-01"}


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def api(clickhouse: ClickHouse, tmp_path: Path) -> TestClient:
    load(clickhouse, history())
    return offline_client(clickhouse, tmp_path, api_key=KEY["X-API-Key"])


def get(api: TestClient, path: str, **params: Any) -> httpx.Response:
    return api.get(path, params=params, headers=KEY)


def refused(api: TestClient, path: str, **params: Any) -> str:
    response = get(api, path, **params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] and body["errors"], body
    return body["errors"][0]["field"]


def test_deals_sort_by_a_column_either_way_with_ties_broken_by_id(api):
    up = get(api, "/v1/drill/deals", **FEB, sort="amount").json()["rows"]
    assert [(r["amount"], r["deal_id"]) for r in up][:3] == [
        ("0.00", "e3"),
        ("50.00", "b2"),
        ("100.00", "d1"),
    ]
    down = get(api, "/v1/drill/deals", **FEB, sort="-amount", limit=2).json()
    assert [r["deal_id"] for r in down["rows"]] == ["b1", "e1"]
    assert down["total"] == 7
    # Equal managers: by deal id.
    by_manager = get(api, "/v1/drill/deals", **FEB, sort="-manager_id").json()["rows"]
    assert [r["deal_id"] for r in by_manager] == ["e1", "e2", "e3", "b1", "b2", "d1", "a2"]


def test_clients_and_leads_sort_by_their_own_columns(api, clickhouse):
    clients = get(api, "/v1/drill/clients", **FEB, sort="client_id").json()["rows"]
    assert [r["client_id"] for r in clients] == ["A", "B", "D"]
    assert [r["won_deals"] for r in clients] == [1, 1, 1]
    load(clickhouse, [lead("x1", at(2, 2)), lead("x2", at(2, 1))])
    leads = get(api, "/v1/drill/leads", **FEB, sort="-received_at").json()["rows"]
    assert [r["lead_id"] for r in leads] == ["x1", "x2"]


def test_an_unknown_sort_column_is_refused_naming_sort(api):
    assert refused(api, "/v1/drill/deals", **FEB, sort="amount; DROP TABLE deals") == "sort"
    assert refused(api, "/v1/drill/clients", **FEB, sort="-deal_id") == "sort"
    assert refused(api, "/v1/drill/leads", **FEB, sort="--lead_id") == "sort"


def test_csv_export_has_every_row_with_a_header_plain_money_and_iso_times(api):
    response = get(api, "/v1/drill/deals", **FEB, format="csv", sort="deal_id", limit=1)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="deals_2026-02-01_2026-03-01.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["deal_id"] for r in rows] == ["a2", "b1", "b2", "d1", "e1", "e2", "e3"]
    a2 = rows[0]
    assert (a2["amount"], a2["paid_total"], a2["cost"]) == ("500.00", "500.00", "200.00")
    assert a2["opened_at"] == "2026-02-03T10:00:00+00:00"
    assert rows[-1]["closed_at"] == ""  # e3 is open


def test_csv_quotes_a_title_a_spreadsheet_would_run_and_tells_the_total(api, clickhouse):
    story = DealStory("f1", at(2, 2), "1")
    story.events[0] = story.events[0].model_copy(update={"title": "=HYPERLINK(1)"})
    load(clickhouse, story.events)
    response = get(api, "/v1/drill/deals", **FEB, format="csv", client="")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["deal_id"], r["title"]) for r in rows] == [("f1", "'=HYPERLINK(1)")]
    assert response.headers["x-total-count"] == "1"


def test_csv_leaves_a_missing_value_empty_and_an_empty_list_is_just_the_header(api):
    response = get(api, "/v1/drill/clients", **FEB, basis="win_back", format="csv")
    assert response.text.splitlines() == [
        "client_id,revenue,payments,last_paid_at,won_deals",
        "C,0.00,0,,0",
    ]
    none = get(api, "/v1/drill/leads", **FEB, format="csv")
    assert none.text.splitlines()[0].startswith("lead_id,received_at,")
    assert len(none.text.splitlines()) == 1


def card_history():
    events = [
        lead("w0", at(2, 1), utm_source="google", utm_medium="cpc", utm_campaign="brand"),
        lead("w1", at(2, 3), email="ivan.petrov@mail.ru", referrer="https://vk.com/feed"),
    ]
    older = DealStory("w0", at(2, 1, 11), "10", client="W", lead_id="w0")
    deal = DealStory("w1", at(2, 3, 11), "1000", client="W", lead_id="w1", manager="m1")
    # An amount of 11 characters: the raw event log masks it as a phone number; the card not.
    deal.move("qualified", at(2, 4)).set_amount("12345678.9", at(2, 4, 12), cost="100")
    deal.version += 1
    invoice = DealInvoiceIssued(
        **deal._envelope(at(2, 5)),
        invoice_id="inv-1",
        number="INV-2026-7",
        amount=Decimal("1200"),
        client_id="W",
        due_date=date(2026, 2, 15),
        requisites=Requisites(legal_name="OOO Romashka", account="40702810900000000001"),
    )
    deal.events.append(invoice)
    deal.task("t9", due_at=at(2, 6), at=at(2, 5, 11)).complete("t9", at(2, 6, 9))
    deal.win(at(2, 7)).pay("1200", at(2, 8))
    return events + older.events + deal.events


def test_deal_card_has_the_row_stages_amounts_invoices_payments_tasks_and_touches(api, clickhouse):
    load(clickhouse, card_history())
    response = get(api, "/v1/drill/deals/w1")
    assert response.status_code == 200, response.text
    card = response.json()
    deal = card["deal"]
    assert (deal["deal_id"], deal["status"], deal["amount"], deal["lost_at_stage"]) == (
        "w1",
        "won",
        "12345678.90",
        "",
    )
    assert deal["version"] == 8 and deal["updated_at"] == "2026-02-08T10:00:00+00:00"
    assert [(s["stage"], s["duration_seconds"]) for s in card["stages"]] == [
        ("new", 82800.0),
        ("qualified", 259200.0),
        ("won", None),
    ]
    assert card["stages"][0]["entered_at"] == "2026-02-03T11:00:00+00:00"
    assert [(a["event_type"], a["amount"], a["currency"]) for a in card["amounts"]] == [
        ("deal.opened", "1000.00", "RUB"),
        ("deal.amount_changed", "12345678.90", "RUB"),
        ("deal.won", "12345678.90", "RUB"),
    ]
    assert card["amounts"][1]["occurred_at"] == "2026-02-04T12:00:00+00:00"
    assert card["invoices"] == [
        {
            "invoice_id": "inv-1",
            "number": "INV-2026-7",
            "issued_at": "2026-02-05T10:00:00+00:00",
            "amount": "1200.00",
            "currency": "RUB",
            "due_date": "2026-02-15",
        }
    ]
    assert [(p["amount"], p["paid_at"]) for p in card["payments"]] == [
        ("1200.00", "2026-02-08T10:00:00+00:00")
    ]
    assert [(t["task_id"], t["status"]) for t in card["tasks"]] == [("t9", "completed")]
    # The client's earlier lead, then the deal's own: the attribution path, oldest first.
    assert [(t["channel"], t["lead_ids"]) for t in card["touches"]] == [
        ("paid", ["w0"]),
        ("social", ["w1"]),
    ]
    text = response.text
    for secret in ("ivan.petrov", "@", "Romashka", "40702810900000000001"):
        assert secret not in text


def test_deal_card_lookback_drops_older_touches(api, clickhouse):
    load(clickhouse, card_history())
    card = get(api, "/v1/drill/deals/w1", lookback_days=1).json()
    assert [t["lead_ids"] for t in card["touches"]] == [["w1"]]


def test_an_unknown_deal_is_a_404_naming_deal_id(api):
    response = get(api, "/v1/drill/deals/no-such-deal")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "errors": [{"field": "deal_id", "reason": "no such deal"}],
    }


@pytest.mark.parametrize("deal_id", ["a%20b", "x" * 201, "-x", "%27%3B--"])
def test_a_junk_deal_id_is_refused(api, deal_id):
    response = api.get(f"/v1/drill/deals/{deal_id}", headers=KEY)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "deal_id"


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("deals", {"basis": "opened", "repeat": "true"}, "repeat"),
        ("deals", {"amount_min": "abc"}, "amount_min"),
        ("deals", {"amount_min": "NaN"}, "amount_min"),
        ("deals", {"amount_min": "-1"}, "amount_min"),
        ("deals", {"amount_min": "500", "amount_max": "100"}, "amount_max"),
        ("deals", {"reached_stage": "nowhere"}, "reached_stage"),
        ("deals", {"group": "paid"}, "group_by"),
        ("deals", {"basis": "lead_received", "group_by": "channel"}, "group"),
        ("deals", {"group_by": "channel", "group": "paid"}, "group_by"),
        ("deals", {"model": "linear"}, "basis"),
        ("deals", {"basis": "won", "lookback_days": "30"}, "lookback_days"),
        ("deals", {"basis": "bogus"}, "basis"),
        ("deals", {"cohort": "2026-01"}, "cohort"),
        ("deals", {"format": "xml"}, "format"),
        ("clients", {"basis": "first_paid"}, "cohort"),
        ("clients", {"basis": "first_paid", "cohort": "2026-13"}, "cohort"),
        ("clients", {"cohort": "2026-01"}, "cohort"),
        ("clients", {"basis": "won", "cohort_offset": "1"}, "cohort_offset"),
        ("clients", {"basis": "won", "abc_class": "A"}, "abc_class"),
        ("clients", {"abc_class": "D"}, "abc_class"),
        ("clients", {"basiss": "paid"}, "basiss"),
        ("leads", {"basis": "won"}, "basis"),
        ("leads", {"group_by": "medium", "group": "cpc"}, "group_by"),
        ("leads", {"reached_stage": "new"}, "reached_stage"),
    ],
)
def test_an_unknown_or_inconsistent_selection_is_refused_naming_its_field(api, path, params, field):
    assert refused(api, f"/v1/drill/{path}", **FEB, **params) == field


def test_a_cohort_cell_lists_the_clients_paying_again_that_month(api):
    period = {"from": "2026-01-01", "to": "2026-03-01"}
    cohort = {"basis": "first_paid", "cohort": "2026-01"}
    whole = get(api, "/v1/drill/clients", **period, **cohort).json()
    again = get(api, "/v1/drill/clients", **period, **cohort, cohort_offset=1).json()
    assert sorted(r["client_id"] for r in whole["rows"]) == ["A", "C"]
    assert [r["client_id"] for r in again["rows"]] == ["A"]
