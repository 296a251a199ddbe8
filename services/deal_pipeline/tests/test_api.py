"""The HTTP API and the lead consumer with a real nats-server and SQLite store."""

import asyncio
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from crm_contracts.envelope import derived_id
from crm_contracts.events import Contact, LeadReceived
from crm_contracts.runtime.bus import make_broker, publish_event
from deal_pipeline.main import create_app
from deal_pipeline.settings import PipelineSettings
from tests.support.nats import stream_messages
from tests.support.net import wait_until

KEY = {"X-API-Key": "test-key"}


@pytest.fixture
def client(nats_server, tmp_path, monkeypatch):
    monkeypatch.delenv("PERSISTENCE_MODULE", raising=False)
    settings = PipelineSettings(nats_url=nats_server.url, data_dir=tmp_path, api_key="test-key")
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="pipeline ready")
        yield client


def post_lead(url: str, lead_id: str) -> None:
    async def go() -> None:
        broker = make_broker(url, "test")
        await broker.connect()
        lead = LeadReceived(
            event_id=derived_id("lead", lead_id),
            aggregate_id=lead_id,
            producer="test",
            lead_id=lead_id,
            form_id="site",
            received_at=datetime.now(UTC),
            contact=Contact(name="Ann"),
        )
        await publish_event(broker, lead)
        await broker.stop()

    asyncio.run(go())


def test_a_lead_on_the_bus_opens_a_deal_once_and_moves_are_relayed(client, nats_server):
    post_lead(nats_server.url, "lead-1")
    post_lead(nats_server.url, "lead-1")  # the same event again: still one deal
    deal_id = derived_id("deal", "lead-1")
    deal = wait_until(
        lambda: (
            client.get(f"/v1/deals/{deal_id}", headers=KEY).status_code == 200
            and client.get(f"/v1/deals/{deal_id}", headers=KEY).json()
        ),
        what="deal",
    )
    assert (deal["stage"], deal["version"], deal["title"]) == ("new", 1, "Ann (site)")

    moved = client.post(f"/v1/deals/{deal_id}/stage", json={"stage": "invoice"}, headers=KEY)
    assert moved.status_code == 200 and moved.json()["stage"] == "invoice"

    def relayed() -> list[str]:
        subjects = [m.subject for m in asyncio.run(stream_messages(nats_server.url))]
        return subjects if len(subjects) >= 3 else []

    assert wait_until(relayed, what="relay") == [
        "crm.leads.received",
        "crm.deals.opened",
        "crm.deals.stage_changed",
    ]


def test_commands_need_the_api_key(client):
    deal = derived_id("deal", "x")
    assert client.get(f"/v1/deals/{deal}").status_code == 401
    assert client.get(f"/v1/deals/{deal}", headers={"X-API-Key": "wrong"}).status_code == 403


def test_bad_commands_get_a_reason(client):
    deal_id = client.app.state.deals.open_deal_from_lead("lead-9", "Bob")
    url = f"/v1/deals/{deal_id}/stage"
    assert client.get("/v1/deals/not-a-uuid", headers=KEY).status_code == 422
    assert client.get(f"/v1/deals/{derived_id('deal', 'none')}", headers=KEY).status_code == 404
    unknown = client.post(url, json={"stage": "shipped"}, headers=KEY)
    assert unknown.status_code == 422 and "unknown stage" in unknown.json()["errors"][0]["reason"]
    assert client.post(url, json={"stage": ""}, headers=KEY).status_code == 422
    assert client.post(url, json={}, headers=KEY).status_code == 422
    assert (
        client.post(
            url, content=b"[", headers=KEY | {"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert (
        client.post(url, json={"stage": "lost", "lost_reason": "price"}, headers=KEY).status_code
        == 200
    )
    closed = client.post(url, json={"stage": "won"}, headers=KEY)
    assert closed.status_code == 409 and closed.json()["error"] == "DealClosed"
