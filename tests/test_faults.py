"""Faults, counted exactly: kill -9 of the pipeline and of analytics mid-stream, a restart of
nats-server, and the same lead sent twice. Every accepted lead ends as exactly one
LeadReceived, one DealOpened, one deal in the funnel and one e-mail."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from tests.support.nats import stream_messages
from tests.support.net import wait_until
from tests.support.stack import funnel_around_today


def post_lead(intake: str, i: int) -> str:
    response = httpx.post(
        f"{intake}/v1/leads",
        json={"name": f"Client {i}", "email": f"client{i}@mail.ru"},
        headers={"Idempotency-Key": f"fault-{i}", "X-API-Key": "dev-api-key"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["lead_id"]


def subjects_on_stream(url: str) -> tuple[Counter, set]:
    messages = asyncio.run(stream_messages(url))
    return Counter(m.subject for m in messages), {m.headers["Nats-Msg-Id"] for m in messages}


def test_kill_restart_and_duplicates_lose_and_double_nothing(stack, nats_server, smtp_server):
    intake = stack["lead_intake"].url
    leads = set()
    for i in range(60):
        leads.add(post_lead(intake, i))
        if i == 20:
            stack["deal_pipeline"].stop(kill=True)  # mid-stream, while leads keep coming
        if i == 30:
            stack["analytics"].stop(kill=True)
        if i == 40:
            stack["deal_pipeline"].start()
            stack["analytics"].start()
    leads.add(post_lead(intake, 5))  # the same submission again: same lead, nothing new
    assert len(leads) == 60

    stack["deal_pipeline"].wait_ready()
    stack["analytics"].wait_ready()
    nats_server.restart()
    for proc in stack.values():
        proc.wait_ready()
    for i in range(60, 80):
        leads.add(post_lead(intake, i))
    stack["deal_pipeline"].stop(kill=True)  # and once more, with the relay possibly mid-batch
    stack["deal_pipeline"].start().wait_ready()

    def all_projected() -> dict:
        report = funnel_around_today(stack["analytics"])
        return report if report["deals"] == 80 else {}

    report = wait_until(all_projected, timeout=90, what="80 deals in the funnel")
    assert report["stages"][0]["reached"] == 80 and report["stages"][0]["current"] == 80

    counts, msg_ids = subjects_on_stream(nats_server.url)
    for subject in ("crm.leads.received", "crm.deals.opened", "crm.clients.registered"):
        assert counts[subject] == 80, (subject, counts)
    assert len(msg_ids) == sum(counts.values())  # no message stored twice

    wait_until(lambda: len(smtp_server.messages) >= 80, timeout=60, what="80 e-mails")
    time.sleep(2)  # room for a duplicate to show up
    subjects = Counter(m["Subject"] for m in smtp_server.messages)
    assert len(subjects) == 80 and set(subjects.values()) == {1}
