"""The operators' page `/ops` of the stack's own analytics process, in a real headless
Chromium, signed in through its `/login` as an operator: every section filled from the real
sources (the four service processes over HTTP, nats-server's monitoring port, JetStream, the
process's ClickHouse and rebuild jobs), a consumer lag made on purpose shows within 10 s, and
a dead letter replayed from the page lands in the projection exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import nats
import pytest

from crm_contracts.events.leads import Contact, LeadReceived
from tests.support.browser import chromium
from tests.support.nats import NatsServer
from tests.support.net import wait_until
from tests.support.smtp import SmtpServer
from tests.support.stack import DASHBOARD_USER, OPERATOR_USER, start_stack

DEV_KEY = "dev-api-key"  # the stack's analytics operator key and notification key (defaults)
NAMES = {
    "lead-intake": "lead_intake",
    "deal-pipeline": "deal_pipeline",
    "notification": "notification",
    "analytics": "analytics",
}
SECTIONS = [
    "services",
    "projection",
    "spool",
    "notification",
    "rebuild",
    "streams",
    "consumers",
    "dlq",
]


@pytest.fixture(scope="module")
def ops_stack(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """One stack for the module's tests: starting four services is the slow part. The page
    is the analytics process's own `/ops`."""
    data: Path = tmp_path_factory.mktemp("ops-stack")
    server = NatsServer(data / "jetstream").start()
    smtp = SmtpServer().start()
    procs: dict[str, Any] = {}
    try:
        procs.update(start_stack(server, smtp.port, data))
        yield {"nats": server, "procs": procs, "url": procs["analytics"].url}
    finally:
        for proc in procs.values():
            if proc.process is not None and proc.process.poll() is None:
                os.kill(proc.process.pid, signal.SIGCONT)  # a test may have left it stopped
            proc.stop()
        smtp.stop()
        server.stop()


def post_lead(intake: str, name: str) -> str:
    body = {
        "name": name,
        "phone": "+79123450077",
        "landing_url": "https://shop.test/?utm_source=yandex&utm_medium=cpc",
    }
    response = httpx.post(f"{intake}/v1/leads", json=body, headers={"X-API-Key": DEV_KEY})
    assert response.status_code == 202, response.text
    return str(response.json()["lead_id"])


def publish(url: str, subject: str, data: bytes, headers: dict[str, str]) -> None:
    async def go() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().publish(subject, data, headers=headers)
        finally:
            await nc.close()

    asyncio.run(go())


def sign_in(page, url: str, who: tuple[str, str] = OPERATOR_USER) -> None:
    page.goto(f"{url}/ops")
    assert urlparse(page.url).path == "/login"  # no session: to the sign-in page and back
    page.fill("input[name=username]", who[0])
    page.fill("input[name=password]", who[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/ops")


def sql_scalar(analytics: str, sql: str, **params: Any) -> Any:
    response = httpx.post(
        f"{analytics}/v1/sql", json={"sql": sql, "params": params}, headers={"X-API-Key": DEV_KEY}
    )
    assert response.status_code == 200, response.text
    return response.json()["rows"][0][0]


def leads_today(analytics: str) -> int:
    today = datetime.now(UTC).date()
    params = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}
    response = httpx.get(
        f"{analytics}/v1/drill/leads", params=params, headers={"X-API-Key": DEV_KEY}
    )
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def ops_status(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/v1/ops/status", headers={"X-API-Key": DEV_KEY}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def projection_idle(url: str) -> bool:
    consumers = {c["name"]: c for c in ops_status(url)["jetstream"]["consumers"]}
    projection = consumers["analytics_projection_stack"]  # ANALYTICS_REPLICA of start_stack
    return projection["pending"] + projection["ack_pending"] == 0


@pytest.fixture
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("CRM_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("ops-screenshots")


def test_every_section_is_filled_on_a_live_stack(ops_stack, shots):
    procs, server, url = ops_stack["procs"], ops_stack["nats"], ops_stack["url"]
    analytics = procs["analytics"].url
    lead = post_lead(procs["lead_intake"].url, "Ops Anna")
    wait_until(
        lambda: sql_scalar(
            analytics, "SELECT count() FROM leads WHERE lead_id = {l:String}", l=lead
        ),
        timeout=30,
        what="the lead projected",
    )
    # Something for the dead-letter section: not an event, so every consumer parks it.
    publish(server.url, "crm.leads.received", b"not an event", {"Nats-Msg-Id": "junk-1"})
    rebuild = httpx.post(f"{analytics}/v1/admin/rebuild", headers={"X-API-Key": DEV_KEY})
    assert rebuild.status_code == 202, rebuild.text
    job_id = rebuild.json()["job_id"]
    errors: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        others: list[str] = []
        page.on("request", lambda r: others.append(r.url) if not r.url.startswith(url) else None)
        sign_in(page, url)

        def filled() -> bool:
            states = [page.get_attribute(f"#{s}", "data-state") for s in SECTIONS]
            services = page.locator("#services tbody tr").count()
            windows = page.locator("#services td.num.muted").all_inner_texts()
            return (
                states == ["ok"] * len(SECTIONS)
                and services == 4
                and all(w.strip() not in ("", "—") for w in windows)
                and page.locator("#dlq tbody tr").count() >= 1
                and (page.get_attribute("#rebuild progress", "value") or "") == "1"
            )

        wait_until(filled, timeout=40, interval=0.5, what="every section filled")
        for name in NAMES:
            row = page.locator(f'#services tr[data-service="{name}"] td')
            assert row.nth(1).inner_text() == "ready", name
            assert row.nth(2).inner_text() == "0.1.0", name
        for stream in ("CRM", "CRM_DLQ", "CRM_REMINDERS"):
            assert page.locator(f'#streams tr[data-stream="{stream}"]').count() == 1
        for consumer in (
            "analytics_projection_stack",
            "deal_pipeline_leads",
            "notification_events",
        ):
            assert page.locator(f'#consumers tr[data-consumer="{consumer}"]').count() == 1
        assert "invalid" in page.locator("#dlq tbody tr td.reason").first.inner_text()
        assert "behind" in page.locator("#projection .big").inner_text()
        assert page.locator("#spool .big").inner_text() == "0"
        for field in ("sent", "failed", "skipped", "reminders"):
            value = page.locator(f'#notification dd[data-field="{field}"]').inner_text()
            assert value.lstrip("≥ ").replace(",", "").isdigit(), (field, value)
        assert "done" in page.locator("#rebuild .detail").inner_text()
        assert ops_status(url)["rebuild"]["job_id"] == job_id  # the process's own job

        page.screenshot(path=str(shots / "ops.png"), full_page=True)
        # Inspecting an entry shows its headers and payload.
        page.locator('#dlq button[data-action="inspect"]').first.click()
        page.wait_for_selector("#dlq pre.inspect:not([hidden])")
        assert "Crm-Dlq-Reason" in page.locator("#dlq pre.inspect").inner_text()

    assert errors == []
    assert others == []  # offline: nothing from any other origin

    # A viewer is not an operator: no page, no data.
    with httpx.Client(base_url=url) as viewer:
        form = {"username": DASHBOARD_USER[0], "password": DASHBOARD_USER[1], "next": "/ops"}
        assert viewer.post("/login", data=form).status_code == 303
        assert viewer.get("/ops").status_code == 403
        assert viewer.get("/v1/ops/status").status_code == 403
    assert httpx.get(f"{url}/ops").headers["location"] == "/login?next=%2Fops"


def test_a_consumer_lag_made_on_purpose_shows_within_10_seconds(ops_stack):
    procs, url = ops_stack["procs"], ops_stack["url"]
    notification = procs["notification"].process
    with chromium() as browser:
        page = browser.new_page()
        sign_in(page, url)
        row = '#consumers tr[data-consumer="notification_events"]'

        def backlog() -> int:
            cells = [
                page.locator(f'{row} td[data-field="{f}"]').inner_text()
                for f in ("pending", "ack_pending")
            ]
            return sum(int(c.replace(",", "")) for c in cells)

        wait_until(
            lambda: page.locator(row).count() == 1 and backlog() == 0,
            timeout=30,
            interval=0.5,
            what="notification caught up",
        )
        os.kill(notification.pid, signal.SIGSTOP)
        try:
            for i in range(5):
                post_lead(procs["lead_intake"].url, f"Lag {i}")
            posted = datetime.now(UTC)
            wait_until(
                lambda: backlog() >= 5,
                timeout=10,
                interval=0.25,
                what="the notification consumer's backlog on the page",
            )
            assert (datetime.now(UTC) - posted).total_seconds() <= 10
            oldest = page.locator(f'{row} td[data-field="oldest"]').inner_text()
            assert oldest not in ("—", "0 s"), oldest
        finally:
            os.kill(notification.pid, signal.SIGCONT)
        wait_until(lambda: backlog() == 0, timeout=60, interval=0.5, what="the backlog drained")


def test_a_replayed_dead_letter_is_projected_exactly_once(ops_stack):
    procs, server, url = ops_stack["procs"], ops_stack["nats"], ops_stack["url"]
    analytics = procs["analytics"].url
    # A valid event the projection once gave up on, parked as `dead_letter` parks it: twice
    # (analytics and notification), so "replay all" publishes it twice.
    lead_id = f"lead-{uuid.uuid4().hex[:8]}"
    event = LeadReceived(
        aggregate_id=lead_id,
        lead_id=lead_id,
        form_id="api",
        received_at=datetime.now(UTC),
        contact=Contact(name="Replayed", phone="+79123450099"),
        producer="lead-intake",
        correlation_id=lead_id,
    )
    body = event.model_dump_json().encode()
    for seq, consumer in ((901, "analytics_projection"), (902, "notification_events")):
        headers = {
            "Nats-Msg-Id": f"{consumer}:{seq}",
            "Crm-Event-Type": event.event_type,
            "Crm-Correlation-Id": lead_id,
            "Crm-Dlq-Consumer": consumer,
            "Crm-Dlq-Reason": "ClickHouse refused the batch",
            "Crm-Dlq-Deliveries": "12",
        }
        publish(server.url, "crmdlq.crm.leads.received", body, headers)

    def count_of_lead() -> int:
        return int(
            sql_scalar(
                analytics, "SELECT count() FROM leads FINAL WHERE lead_id = {l:String}", l=lead_id
            )
        )

    wait_until(lambda: projection_idle(url), timeout=30, interval=0.5, what="an idle projection")
    before = leads_today(analytics)
    assert count_of_lead() == 0
    with chromium() as browser:
        page = browser.new_page()
        sign_in(page, url)
        button = '#dlq button[data-action="replay-all"][data-subject="crm.leads.received"]'
        wait_until(
            lambda: page.locator(button).count() == 1,
            timeout=20,
            interval=0.5,
            what="the replay-all button",
        )
        reason = page.locator("#dlq tbody tr td.reason").first.inner_text()
        assert reason == "ClickHouse refused the batch"
        # "Replay all" asks first; declined, nothing is sent.
        asked: list[str] = []

        def answer(dialog: Any, accept: bool) -> None:
            asked.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        page.once("dialog", lambda d: answer(d, False))
        page.locator(button).click()
        assert len(asked) == 1 and "crm.leads.received" in asked[0]
        parked = [e["reason"] for e in ops_status(url)["dlq"]["entries"]]
        assert parked.count("ClickHouse refused the batch") == 2
        page.once("dialog", lambda d: answer(d, True))
        page.locator(button).click()
        assert len(asked) == 2
        wait_until(
            lambda: "Replayed" in page.locator("#dlq .note").inner_text(),
            timeout=10,
            interval=0.25,
            what="the replay's answer",
        )
        wait_until(
            lambda: count_of_lead() == 1, timeout=30, interval=0.5, what="the lead projected"
        )
        # Gone from the page (the not-an-event entries replayed with them are parked again).
        wait_until(
            lambda: "ClickHouse refused" not in page.locator("#dlq tbody").inner_text(),
            timeout=15,
            interval=0.5,
            what="the replayed entries gone",
        )
    # Both copies went through (new message ids), the projection applied the event once.
    stored = sql_scalar(
        analytics,
        "SELECT count() FROM events FINAL WHERE event_id = {e:UUID}",
        e=str(event.event_id),
    )
    assert stored == 1
    assert leads_today(analytics) == before + 1
    assert count_of_lead() == 1
    parked = [e["reason"] for e in ops_status(url)["dlq"]["entries"]]
    assert "ClickHouse refused the batch" not in parked
