"""What the services' own JetStream publishes share (lead-intake's leads, deal-pipeline's
relay): the header block `publish_event` sends, made in one go; one reply subscription per
publisher for the acks; and the reading of an ack.

nats-py's JetStream publish is a request per message (a reply token, `wait_for` with its
future and timer, a `PubAck` built from the answer) and builds the header block one header at
a time (see `nats_send`): more CPU than the rest of the publish. A publisher here names a
reply subject of its own inbox for each message and learns its ack on one subscription."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import Header
from nats.js.errors import APIError, NoStreamResponseError

from crm_contracts.envelope import Event
from crm_contracts.runtime.nats_direct import handle_directly
from crm_contracts.streams import CRM

EXPECTED_STREAM = Header.EXPECTED_STREAM.value
# As nats-py writes a header value: trimmed, a line break made a space (no header injected).
_NEWLINES = str.maketrans({"\r": " ", "\n": " "})


def header_block(event: Event) -> bytes:
    """The headers `publish_event` sends, in its order (FastStream's two, then
    `event_headers`), and the expected stream. Only the correlation id is free text; the
    other values are ids, the event type and constants."""
    correlation = (event.correlation_id or "").strip().translate(_NEWLINES)
    correlated = f"Crm-Correlation-Id: {correlation}\r\n" if event.correlation_id else ""
    return (
        f"NATS/1.0\r\ncontent-type: application/json\r\ncorrelation_id: {random_uuid()}\r\n"
        f"Nats-Msg-Id: {event.event_id}\r\nCrm-Event-Type: {event.event_type}\r\n{correlated}"
        f"{EXPECTED_STREAM}: {CRM}\r\n\r\n"
    ).encode()


def random_uuid() -> str:
    """`str(uuid.uuid4())` without building the UUID object (a third of the cost)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def stored_duplicate(msg: Msg) -> bool:
    """Whether JetStream's ack says it had the message already; raises for a refusal, as
    nats-py's publish does (a status message without a body: no stream took it)."""
    try:
        answer = json.loads(msg.data)
    except ValueError:
        raise NoStreamResponseError from None
    if "error" in answer:
        raise APIError.from_error(answer["error"])
    return bool(answer.get("duplicate"))


class ReplyInbox:
    """One subscription on `<inbox>.*` of the broker's connection; each reply goes to
    `on_reply` with its token (what follows the inbox)."""

    def __init__(self, broker: NatsBroker, on_reply: Callable[[str, Msg], None]) -> None:
        self.broker = broker
        self.on_reply = on_reply
        self.prefix = ""  # the reply subjects' inbox, with its dot
        self._connection: Client | None = None

    async def connection(self) -> Client:
        """The broker's connection, with the subscription on it (again after the broker made
        a new connection; nats-py renews subscriptions itself across reconnects)."""
        connection = self.broker.connection
        if connection is not self._connection:
            inbox = connection.new_inbox()
            # Each ack only settles the future its publish waits on: handled as it is read.
            handle_directly(await connection.subscribe(f"{inbox}.*"), self._on_message)
            self._connection, self.prefix = connection, f"{inbox}."
        return connection

    def _on_message(self, msg: Msg) -> None:
        self.on_reply(msg.subject[len(self.prefix) :], msg)
