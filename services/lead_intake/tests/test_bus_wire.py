"""Intake publishes leads through `publish_event` (straight through nats-py; what it puts on
the wire is checked against FastStream's own publish in libs/contracts/tests/
test_publish_wire.py): the lead lands once, and a repeat is told as the stream's duplicate."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from crm_contracts.events import LeadReceived
from crm_contracts.runtime.bus import make_broker, start_when_reachable
from lead_intake.adapters.bus import JetStreamPublisher
from lead_intake.domain import LeadIn, build_lead_received
from tests.support.nats import stream_messages

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def lead(lead_id: uuid.UUID) -> LeadReceived:
    body = LeadIn(email="a@b.ru", phone="+79123456789", landing_url="https://x.ru/?utm_source=g")
    return build_lead_received(body, lead_id, AT, "RU")


def test_a_lead_lands_once_and_its_repeat_is_a_duplicate(nats_server):
    lead_id = uuid.uuid4()

    async def publish_twice() -> tuple[bool, bool]:
        broker = make_broker(nats_server.url, "wire-test")
        await start_when_reachable(broker)
        try:
            publisher = JetStreamPublisher(broker)
            assert publisher.connected()
            return (
                await publisher.publish(lead(lead_id), timeout=2.0),
                await publisher.publish(lead(lead_id), timeout=2.0),
            )
        finally:
            await broker.stop()

    assert asyncio.run(publish_twice()) == (False, True)
    (message,) = asyncio.run(stream_messages(nats_server.url))
    assert message.subject == "crm.leads.received"
    assert json.loads(message.data)["lead_id"] == str(lead_id)
    assert message.headers["Nats-Msg-Id"] == message.headers["Crm-Correlation-Id"] == str(lead_id)
