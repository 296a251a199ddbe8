"""Intake publishes leads straight through nats-py (adapters/bus.py); what lands on the stream
must be what `publish_event` puts there through FastStream, so every consumer reads it alike."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from crm_contracts.events import LeadReceived
from crm_contracts.runtime.bus import make_broker, publish_event, start_when_reachable
from lead_intake.adapters.bus import JetStreamPublisher
from lead_intake.domain import LeadIn, build_lead_received
from tests.support.nats import stream_messages

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def lead(lead_id: uuid.UUID) -> LeadReceived:
    body = LeadIn(email="a@b.ru", phone="+79123456789", landing_url="https://x.ru/?utm_source=g")
    return build_lead_received(body, lead_id, AT, "RU")


def test_a_lead_goes_on_the_wire_as_publish_event_sends_it(nats_server):
    first, second = uuid.uuid4(), uuid.uuid4()

    async def publish_both() -> tuple[bool, bool]:
        broker = make_broker(nats_server.url, "wire-test")
        await start_when_reachable(broker)
        try:
            await publish_event(broker, lead(first))
            publisher = JetStreamPublisher(broker)
            return (
                await publisher.publish(lead(second), timeout=2.0),
                await publisher.publish(lead(second), timeout=2.0),
            )
        finally:
            await broker.stop()

    assert asyncio.run(publish_both()) == (False, True)  # the repeat is the stream's duplicate
    via_faststream, direct = asyncio.run(stream_messages(nats_server.url))
    assert direct.subject == via_faststream.subject == "crm.leads.received"
    assert direct.data == via_faststream.data.replace(str(first).encode(), str(second).encode())
    assert json.loads(direct.data)["lead_id"] == str(second)

    def shape(headers: dict[str, str]) -> dict[str, str]:
        ids = ("Nats-Msg-Id", "Crm-Correlation-Id", "correlation_id")  # each message's own
        return {k: v for k, v in headers.items() if k not in ids}

    assert list(direct.headers) == list(via_faststream.headers)
    assert shape(direct.headers) == shape(via_faststream.headers)
    assert direct.headers["Nats-Msg-Id"] == direct.headers["Crm-Correlation-Id"] == str(second)
