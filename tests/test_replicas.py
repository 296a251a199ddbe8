"""Two replicas of deal-pipeline on one PostgreSQL store, as real processes: they share the lead
consumer, take commands on the same deals at the same moment, and each relays the store's
events. Afterwards no deal is doubled, no payment is lost, and every stored event is on the
bus exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import pytest

from crm_contracts.runtime.bus import event_headers
from crm_contracts.streams import CRM
from services.analytics.tests.history import lead
from tests.support.nats import stream_messages
from tests.support.net import wait_until
from tests.support.services import ServiceProcess, running

LEADS = 120
CONTESTED = 12  # deals paid through both replicas at once
PAYMENTS = 8  # per deal and replica
KEY = {"X-API-Key": "replica-key"}


@pytest.fixture
def replicas(nats_server, postgres_server, tmp_path: Path):
    database = postgres_server.create_database()
    procs = [
        ServiceProcess(
            "deal_pipeline",
            {
                "DEAL_PIPELINE_NATS_URL": nats_server.url,
                "DEAL_PIPELINE_API_KEY": KEY["X-API-Key"],
                "DEAL_PIPELINE_DATA_DIR": str(tmp_path / f"replica-{i}"),
                "DEAL_PIPELINE_MANAGERS": '["anna", "boris"]',
                **postgres_server.env(database),
            },
            tmp_path / f"deal_pipeline-{i}.log",
        )
        for i in range(2)
    ]
    try:
        with running(procs):
            yield procs
    finally:
        postgres_server.drop_database(database)


async def publish_leads(url: str) -> list[str]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        at = datetime.now(UTC)
        ids = [f"replica-lead-{i:04d}" for i in range(LEADS)]
        for lead_id in ids:
            event = lead(lead_id, at, email=f"{lead_id}@mail.ru")
            body = json.dumps(event.model_dump(mode="json")).encode()
            await js.publish(event.SUBJECT, body, headers=event_headers(event), stream=CRM)
        return ids
    finally:
        await nc.close()


def leads_handled(replica: ServiceProcess) -> int:
    """`lead.received` events this replica handled, from its /metrics."""
    metrics = httpx.get(f"{replica.url}/metrics").text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("crm_events_consumed_total{")
        and 'event_type="lead.received"' in line
        and 'outcome="ok"' in line
    )


async def pay_through_both(replicas: list[ServiceProcess], deal_ids: list[str]) -> int:
    """Every contested deal gets PAYMENTS payments through each replica, all at once."""

    async def pay(client: httpx.AsyncClient, url: str, deal_id: str) -> int:
        paid = 0
        for _ in range(PAYMENTS):
            response = await client.post(
                f"{url}/v1/deals/{deal_id}/payments", json={"amount": "1"}, headers=KEY
            )
            assert response.status_code == 201, response.text
            paid += 1
        return paid

    async with httpx.AsyncClient(timeout=60) as client:
        done = await asyncio.gather(*(pay(client, r.url, d) for d in deal_ids for r in replicas))
    return sum(done)


def test_two_replicas_on_one_store_double_nothing_and_lose_nothing(nats_server, replicas):
    lead_ids = asyncio.run(publish_leads(nats_server.url))
    first, second = replicas

    def deal_of(lead_id: str, replica: ServiceProcess) -> dict | None:
        response = httpx.get(f"{replica.url}/v1/deals/by-lead/{lead_id}", headers=KEY)
        return response.json() if response.status_code == 200 else None

    deals = {
        lead_id: wait_until(lambda i=lead_id: deal_of(i, first), timeout=120, what="its deal")
        for lead_id in lead_ids
    }
    assert len({d["id"] for d in deals.values()}) == LEADS
    # The lead consumer is shared: each replica took a part of the leads, together all.
    taken = [leads_handled(replica) for replica in replicas]
    assert all(n > 0 for n in taken) and sum(taken) >= LEADS, taken
    # Both replicas read the one store: the other answers with the same deal.
    assert all(deal_of(i, second)["id"] == deals[i]["id"] for i in lead_ids[:10])  # type: ignore[index]

    contested = [deals[i]["id"] for i in lead_ids[:CONTESTED]]
    accepted = asyncio.run(pay_through_both(replicas, contested))
    assert accepted == CONTESTED * 2 * PAYMENTS
    for deal_id in contested:
        deal = httpx.get(f"{second.url}/v1/deals/{deal_id}", headers=KEY).json()
        assert float(deal["paid_total"]) == 2 * PAYMENTS  # no update lost

    def relayed() -> list | None:
        messages = asyncio.run(stream_messages(nats_server.url))
        deal_events = [json.loads(m.data) for m in messages if m.subject.startswith("crm.deals.")]
        payments = [e for e in deal_events if e["event_type"] == "deal.payment_received"]
        return deal_events if len(payments) >= accepted else None

    deal_events = wait_until(relayed, timeout=120, what="every payment on the bus")
    assert Counter(e["event_id"] for e in deal_events).most_common(1)[0][1] == 1
    opened = Counter(e["deal_id"] for e in deal_events if e["event_type"] == "deal.opened")
    assert len(opened) == LEADS and set(opened.values()) == {1}
    paid = Counter(e["deal_id"] for e in deal_events if e["event_type"] == "deal.payment_received")
    assert paid == {deal_id: 2 * PAYMENTS for deal_id in contested}
    # Each stored event exactly once: the versions of every deal on the bus are 1..n, no gap.
    versions: dict[str, list[int]] = {}
    for event in deal_events:
        versions.setdefault(event["deal_id"], []).append(event["aggregate_version"])
    for deal_id, seen in versions.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), deal_id
