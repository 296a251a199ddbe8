"""The header block made in one go (`js_publish.header_block`) against the one nats-py builds
for `publish_event`, on a real nats-server: the same stored headers, byte for byte, but for
the random `correlation_id`, whatever the correlation id holds (spaces, a line break that
must not become a header of its own, none); and the reading of a JetStream ack."""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest
from nats.aio.msg import Msg
from nats.js.errors import APIError, NoStreamResponseError

from crm_contracts.events import ManagerUpdated
from crm_contracts.runtime.bus import make_broker, publish_event, start_when_reachable
from crm_contracts.runtime.js_publish import header_block, stored_duplicate
from crm_contracts.runtime.nats_send import send
from tests.support.nats import stream_messages

CORRELATIONS = ("lead-1", "  spaced out  ", "a\r\nInjected: yes", "\n", None)


def event(correlation: str | None) -> ManagerUpdated:
    return ManagerUpdated(
        aggregate_id="m1",
        producer="test",
        manager_id="m1",
        name="Anna",
        correlation_id=correlation,
    )


def raw_headers(message) -> bytes:  # type: ignore[no-untyped-def]
    return base64.b64decode(message.hdrs)


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_the_header_block_is_the_one_publish_event_sends(nats_server, correlation):
    ours = event(correlation)
    theirs = ours.model_copy(update={"event_id": uuid.uuid4()})

    async def publish_both() -> None:
        broker = make_broker(nats_server.url, "js-publish-test")
        await start_when_reachable(broker)
        try:
            await publish_event(broker, theirs)
            payload = ours.model_dump_json().encode()
            await send(broker.connection, ours.SUBJECT, "", header_block(ours), payload)
            await broker.connection.flush()
        finally:
            await broker.stop()

    asyncio.run(publish_both())
    via_library, straight = asyncio.run(stream_messages(nats_server.url))[-2:]
    expected = (
        raw_headers(via_library)
        .replace(
            via_library.headers["correlation_id"].encode(),
            straight.headers["correlation_id"].encode(),
        )
        .replace(str(theirs.event_id).encode(), str(ours.event_id).encode())
    )
    assert raw_headers(straight) == expected
    assert "Injected" not in straight.headers


def reply(data: bytes) -> Msg:
    return Msg(None, subject="_INBOX.x.1", data=data)  # type: ignore[arg-type]


def test_an_ack_says_whether_the_stream_had_the_message():
    assert stored_duplicate(reply(b'{"stream":"CRM","seq":3}')) is False
    assert stored_duplicate(reply(b'{"stream":"CRM","seq":3,"duplicate":true}')) is True
    with pytest.raises(NoStreamResponseError):  # a 503 status message has no body
        stored_duplicate(reply(b""))
    with pytest.raises(APIError):
        stored_duplicate(reply(b'{"error":{"code":400,"err_code":10060,"description":"x"}}'))
