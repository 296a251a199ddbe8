"""The whole system as `make run` starts it: a real nats-server, the four services as separate
processes, a real SMTP server. Leads go in over HTTP; the funnel and e-mails come out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from notification.adapters.analytics import AnalyticsReports
from notification.domain.deliveries import SendError
from tests.support.net import wait_until
from tests.support.stack import KEY, VIEWER_KEY, funnel_around_today


def test_leads_to_funnel_and_emails(stack, smtp_server):
    intake, pipeline = stack["lead_intake"].url, stack["deal_pipeline"].url
    leads = {}
    for name, contact in [
        ("Ann", {"phone": "+79123456789"}),
        ("Bob", {"email": "Bob@Mail.RU"}),
        ("Cat", {"email": "cat@mail.ru"}),
    ]:
        response = httpx.post(
            f"{intake}/v1/leads",
            headers={"X-API-Key": "dev-api-key"},
            json={
                "name": name,
                **contact,
                "landing_url": "https://shop.test/?utm_source=yandex&utm_medium=cpc",
            },
        )
        assert response.status_code == 202, response.text
        leads[name] = response.json()["lead_id"]

    def deal_of(name: str) -> dict:
        response = httpx.get(f"{pipeline}/v1/deals/by-lead/{leads[name]}", headers=KEY)
        return response.json() if response.status_code == 200 else {}

    deals = {name: wait_until(lambda n=name: deal_of(n), what=f"deal of {name}") for name in leads}

    def move(name: str, stage: str, **extra) -> None:
        url = f"{pipeline}/v1/deals/{deals[name]['id']}/stage"
        response = httpx.post(url, json={"stage": stage, **extra}, headers=KEY)
        assert response.status_code == 200, response.text

    for stage in ("qualified", "proposal", "invoice", "won"):
        move("Ann", stage)
    move("Bob", "proposal")  # skips qualified
    move("Cat", "lost", lost_reason="price")

    def settled() -> dict:
        report = funnel_around_today(stack["analytics"])
        won = report["stages"][-1]
        return (
            report
            if report["deals"] == 3
            and won["current"] == 1
            and report["lost"]["deals"] == 1
            and report["stages"][2]["current"] == 1
            else {}
        )

    report = wait_until(settled, what="the funnel to show every move")
    assert [s["stage"] for s in report["stages"]] == [
        "new",
        "qualified",
        "proposal",
        "invoice",
        "won",
    ]
    assert [s["reached"] for s in report["stages"]] == [3, 2, 2, 1, 1]
    assert [s["current"] for s in report["stages"]] == [0, 0, 1, 0, 1]
    assert [s["conversion_prev"] for s in report["stages"]] == [1.0, 0.6667, 1.0, 0.5, 1.0]
    assert [s["conversion_first"] for s in report["stages"]] == [
        1.0,
        0.6667,
        0.6667,
        0.3333,
        0.3333,
    ]
    assert report["lost"]["by_stage"] == [{"stage": "new", "deals": 1}]
    assert report["lost"]["by_reason"] == [{"reason": "price", "deals": 1}]

    wait_until(lambda: len(smtp_server.messages) >= 3, what="three e-mails")
    managers = {d["manager_id"] for d in deals.values()}
    assert managers <= {"anna", "boris"}
    sent = sorted((m["To"], m["Subject"]) for m in smtp_server.messages)
    expected = sorted(
        (f"{deals[n]['manager_id']}@shop.test", f"New deal: {n} (api)") for n in leads
    )
    assert sent == expected

    # Bad input anywhere is a 4xx with a reason, never a 500.
    assert (
        httpx.post(
            f"{intake}/v1/leads", json={"name": "x"}, headers={"X-API-Key": "dev-api-key"}
        ).status_code
        == 422
    )
    closed = httpx.post(
        f"{pipeline}/v1/deals/{deals['Ann']['id']}/stage", json={"stage": "new"}, headers=KEY
    )
    assert closed.status_code == 409
    funnel = f"{stack['analytics'].url}/v1/reports/sales-funnel"
    bad_period = httpx.get(
        funnel, params={"from": "2026-02-30", "to": "2026-03-01"}, headers=VIEWER_KEY
    )
    assert bad_period.status_code == 422

    # Reports are for staff: no key or a wrong one is a 401, whatever the query.
    period = {"from": "2026-03-01", "to": "2026-04-01"}
    assert httpx.get(funnel, params=period).status_code == 401
    assert httpx.get(funnel, params=period, headers={"X-API-Key": "nope"}).status_code == 401

    # The digests' numbers, read by notification's own adapter with the viewer key it is given.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=1), today + timedelta(days=2)
    reports = AnalyticsReports(stack["analytics"].url, 10, VIEWER_KEY["X-API-Key"])
    digest = asyncio.run(reports.digest(start, end, "UTC"))
    assert (digest["leads"], digest["won"]) == (3, 1)
    keyless = AnalyticsReports(stack["analytics"].url, 10)
    with pytest.raises(SendError, match="HTTP 401"):
        asyncio.run(keyless.digest(start, end, "UTC"))
