"""No lead lost while NATS is down: leads go to the SQLite spool (202 queued) and are drained in
order once JetStream is back, also after a kill -9 of the service. Counted exactly."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path

import httpx
import pytest

from services.lead_intake.tests.helpers import (
    CONTACT_FORM,
    INTEGRATION,
    leads_on_stream,
    wait_on_the_bus,
)
from tests.support.net import wait_until
from tests.support.services import ServiceProcess

LEADS = 100


@pytest.fixture
def intake(nats_server, tmp_path):
    """A real lead-intake process; its spool file is tmp_path/intake/spool.sqlite3."""
    proc = ServiceProcess(
        "lead_intake",
        {
            "LEAD_INTAKE_NATS_URL": nats_server.url,
            "LEAD_INTAKE_DATA_DIR": str(tmp_path / "intake"),
            "LEAD_INTAKE_PUBLISH_TIMEOUT": "1.0",
            "LEAD_INTAKE_API_KEY": "k",
        },
        tmp_path / "intake.log",
    ).start()
    proc.wait_ready()
    wait_on_the_bus(proc.url)
    yield proc
    proc.stop()


async def post_all(url: str, numbers: range) -> dict[int, dict]:
    """Concurrent posts, as many visitors at once; each with its own idempotency key."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def post(i: int) -> dict:
            response = await client.post(
                "/v1/leads",
                json={"name": f"Lead {i}", "email": f"lead{i}@mail.ru"},
                headers=INTEGRATION | {"Idempotency-Key": f"spool-{i}"},
            )
            assert response.status_code == 202, response.text
            return response.json()

        answers = await asyncio.gather(*(post(i) for i in numbers))
    return dict(zip(numbers, answers, strict=True))


def spool_depth(proc: ServiceProcess) -> int:
    return httpx.get(f"{proc.url}/readyz").json()["checks"]["spool"]["depth"]


def spool_order(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "spool.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT lead_id FROM spool ORDER BY seq")]


def assert_exactly_once_on_stream(url: str, lead_ids: set[str]) -> None:
    messages = wait_until(
        lambda: (m := leads_on_stream(url)) and len(m) >= len(lead_ids) and m,
        timeout=30,
        what=f"{len(lead_ids)} leads on the stream",
    )
    ids = Counter(m.headers["Nats-Msg-Id"] for m in messages)
    assert len(messages) == len(lead_ids)
    assert set(ids) == lead_ids and set(ids.values()) == {1}


def test_nats_down_leads_are_queued_then_drained_in_order(intake, nats_server, tmp_path):
    nats_server.stop()
    answers = asyncio.run(post_all(intake.url, range(LEADS)))
    assert {a["status"] for a in answers.values()} == {"queued"}
    assert spool_depth(intake) == LEADS
    assert f"crm_intake_spool_depth {LEADS}.0" in httpx.get(f"{intake.url}/metrics").text
    ready = httpx.get(f"{intake.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["nats"] is False  # spool works
    queued = spool_order(tmp_path / "intake")

    nats_server.start()
    lead_ids = {a["lead_id"] for a in answers.values()}
    assert_exactly_once_on_stream(nats_server.url, lead_ids)
    wait_until(lambda: spool_depth(intake) == 0, what="spool drained")
    assert [m.headers["Nats-Msg-Id"] for m in leads_on_stream(nats_server.url)] == queued
    # a repeat after the drain is a duplicate (the drainer recorded the keys), nothing new
    again = asyncio.run(post_all(intake.url, range(3)))
    assert [a["lead_id"] for a in again.values()] == [answers[i]["lead_id"] for i in range(3)]
    assert len(leads_on_stream(nats_server.url)) == LEADS


def test_kill_9_with_a_full_spool_loses_nothing(intake, nats_server):
    nats_server.stop()
    answers = asyncio.run(post_all(intake.url, range(LEADS)))
    assert spool_depth(intake) == LEADS
    intake.stop(kill=True)

    intake.start()  # NATS still down: the spool is read from disk, nothing is lost
    wait_until(lambda: httpx.get(f"{intake.url}/healthz").status_code == 200, what="intake up")
    assert spool_depth(intake) == LEADS
    repeat = asyncio.run(post_all(intake.url, range(10)))  # the same submissions again
    assert [a["lead_id"] for a in repeat.values()] == [answers[i]["lead_id"] for i in range(10)]
    assert spool_depth(intake) == LEADS

    nats_server.start()
    assert_exactly_once_on_stream(nats_server.url, {a["lead_id"] for a in answers.values()})
    wait_until(lambda: spool_depth(intake) == 0, what="spool drained")
    assert len(leads_on_stream(nats_server.url)) == LEADS


def test_forms_keep_taking_leads_while_nats_is_down_also_after_a_restart(intake, nats_server):
    put = httpx.put(f"{intake.url}/v1/forms/contact", json=CONTACT_FORM, headers={"X-API-Key": "k"})
    assert put.status_code == 200
    nats_server.stop()
    intake.stop(kill=True)
    intake.start()  # knows the form from its last-known copy on disk
    wait_until(lambda: httpx.get(f"{intake.url}/healthz").status_code == 200, what="intake up")
    response = httpx.post(
        f"{intake.url}/v1/forms/contact/submit",
        data={"phone": "+79123456789", "consent": "yes", "_form_key": CONTACT_FORM["public_key"]},
        headers={"Origin": "https://shop.example", "Accept": "application/json"},
    )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    nats_server.start()
    assert_exactly_once_on_stream(nats_server.url, {response.json()["lead_id"]})
