"""The relay's publishes: a batch of events put on JetStream back to back, with one wait for
all their acks. nats-py's JetStream publish is a request per message (a reply token, a future,
a timer and, through `gather`, a task each), which cost about as much CPU as the rest of an
event's way to the bus. Here each message names a reply subject on one subscription of this
publisher, and the acks are counted as they arrive. The messages go out on one connection,
which NATS keeps in order, with the same headers as `publish_event` (Nats-Msg-Id among them)
and the expected stream. The batch succeeds once every message is acked and fails as a whole
on the first refusal or when the timeout passes; the relay then sends it again, and JetStream
drops what it had stored already as duplicates. One batch at a time per publisher."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Sequence

from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import Header
from nats.js.errors import APIError, NoStreamResponseError

from crm_contracts.envelope import Event
from crm_contracts.runtime.bus import event_headers, publish_series
from crm_contracts.streams import CRM

EXPECTED_STREAM = Header.EXPECTED_STREAM.value


class Batch:
    """The acks one batch waits for. Its tag starts each reply token, so that an ack of an
    earlier batch (one that timed out) is told apart and ignored."""

    def __init__(self, tag: str, events: Sequence[Event]) -> None:
        self.tag = tag
        self.events = events
        self.waiting = set(range(len(events)))
        self.sent_at = time.perf_counter()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def acked(self, index: int, msg: Msg) -> None:
        if self.done.done() or index not in self.waiting:
            return
        try:
            answer = json.loads(msg.data)
        except ValueError:  # no stream took it: a status message (503) without a body
            self.done.set_exception(NoStreamResponseError())
            return
        if "error" in answer:
            self.done.set_exception(APIError.from_error(answer["error"]))
            return
        self.waiting.discard(index)
        timed, counted = publish_series(self.events[index].SUBJECT)
        timed.observe(time.perf_counter() - self.sent_at)
        counted[bool(answer.get("duplicate"))].inc()
        if not self.waiting:
            self.done.set_result(None)


class PipelinedPublisher:
    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker
        self._connection: Client | None = None
        self._prefix = ""  # the reply subjects' inbox, with its dot
        self._tags = itertools.count()
        self._batch: Batch | None = None

    async def publish(self, events: Sequence[Event], timeout: float) -> None:
        """Every event stored by JetStream (or a duplicate of one it has), or an exception."""
        if not events:
            return
        connection = await self._subscribed()
        batch = self._batch = Batch(f"{next(self._tags)}-", events)
        try:
            for index, event in enumerate(events):
                headers = {
                    "content-type": "application/json",
                    "correlation_id": str(uuid.uuid4()),
                    **event_headers(event),
                    EXPECTED_STREAM: CRM,
                }
                await connection.publish(
                    event.SUBJECT,
                    event.model_dump_json().encode(),
                    reply=f"{self._prefix}{batch.tag}{index}",
                    headers=headers,
                )
            await asyncio.wait_for(batch.done, timeout)
        finally:
            self._batch = None

    async def _subscribed(self) -> Client:
        """The broker's connection, with the reply subscription on it (again after the broker
        made a new connection; nats-py renews subscriptions itself across reconnects)."""
        connection = self.broker.connection
        if connection is not self._connection:
            inbox = connection.new_inbox()
            await connection.subscribe(f"{inbox}.*", cb=self._on_reply)
            self._connection, self._prefix = connection, f"{inbox}."
        return connection

    async def _on_reply(self, msg: Msg) -> None:
        batch = self._batch
        token = msg.subject[len(self._prefix) :]
        if batch is not None and token.startswith(batch.tag):
            batch.acked(int(token[len(batch.tag) :]), msg)
