"""The relay against a real nats-server: every stored event on the stream exactly once."""

import asyncio
import json

from crm_contracts.envelope import derived_id
from crm_contracts.runtime.bus import make_broker
from crm_contracts.streams import ensure_streams
from deal_pipeline.adapters.relay import RELAY_NAME, Relay
from tests.support.nats import stream_messages


async def relay_once(deals, url: str) -> int:
    broker = make_broker(url, "test-relay")
    await broker.connect()
    await ensure_streams(broker.connection.jetstream())
    relay = Relay(deals, broker, batch=3)
    position = await relay.position()
    while True:
        position, count = await relay.publish_batch(position)
        if count == 0:
            break
    await broker.stop()
    return position


def test_stored_events_are_published_once_in_order_with_derived_ids(deals, nats_server):
    deal_id = deals.open_deal_from_lead("lead-1", "Ann")
    deals.move_stage(deal_id, "proposal")
    deals.move_stage(deal_id, "won")
    other = deals.open_deal_from_lead("lead-2", "Bob")

    assert asyncio.run(relay_once(deals, nats_server.url)) == 4
    messages = asyncio.run(stream_messages(nats_server.url))
    assert [m.subject for m in messages] == [
        "crm.deals.opened",
        "crm.deals.stage_changed",
        "crm.deals.stage_changed",
        "crm.deals.opened",
    ]
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [
        str(derived_id("event", deal_id, 1)),
        str(derived_id("event", deal_id, 2)),
        str(derived_id("event", deal_id, 3)),
        str(derived_id("event", other, 1)),
    ]
    won = json.loads(messages[2].data)
    assert (won["from_stage"], won["to_stage"], won["status"]) == ("proposal", "won", "won")
    assert won["correlation_id"] == "lead-1"
    assert deals.factory.tracking_recorder().max_tracking_id(RELAY_NAME) == 4


def test_a_relay_that_lost_its_position_publishes_no_duplicates(deals, nats_server, store_path):
    """As after kill -9 between the ack and the tracking write: the same events go out again
    with the same Nats-Msg-Id, and JetStream keeps one of each."""
    deal_id = deals.open_deal_from_lead("lead-1", "Ann")
    deals.move_stage(deal_id, "qualified")
    asyncio.run(relay_once(deals, nats_server.url))
    import sqlite3

    with sqlite3.connect(store_path) as db:
        db.execute("DELETE FROM tracking")
    deals.move_stage(deal_id, "proposal")
    assert asyncio.run(relay_once(deals, nats_server.url)) == 3
    messages = asyncio.run(stream_messages(nats_server.url))
    assert len(messages) == 3
    assert len({m.headers["Nats-Msg-Id"] for m in messages}) == 3


def test_relay_resumes_after_its_tracked_position(deals, nats_server):
    deals.open_deal_from_lead("lead-1", "Ann")
    asyncio.run(relay_once(deals, nats_server.url))
    deals.open_deal_from_lead("lead-2", "Bob")
    assert asyncio.run(relay_once(deals, nats_server.url)) == 2
    assert len(asyncio.run(stream_messages(nats_server.url))) == 2
