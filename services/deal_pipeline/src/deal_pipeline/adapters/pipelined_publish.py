"""The relay's publishes: a batch of events put on JetStream back to back, with one wait for
all their acks. nats-py's JetStream publish is a request per message (a reply token, a future,
a timer and, through `gather`, a task each), which cost about as much CPU as the rest of an
event's way to the bus. Here each message names a reply subject on one subscription of this
publisher (`crm_contracts.runtime.js_publish`), and the acks are counted as they arrive. The
messages go out on one connection, which NATS keeps in order, with the same headers as
`publish_event` (Nats-Msg-Id among them) and the expected stream, the header block made in
one go and handed to the client without nats-py's check of each header (`nats_send`). The
batch succeeds once every message is acked and fails as a whole
on the first refusal or when the timeout passes; the relay then sends it again, and JetStream
drops what it had stored already as duplicates. One batch at a time per publisher."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js.errors import APIError, NoStreamResponseError

from crm_contracts.envelope import Event
from crm_contracts.runtime.bus import publish_series
from crm_contracts.runtime.js_publish import ReplyInbox, header_block, stored_duplicate
from crm_contracts.runtime.nats_send import send


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
            duplicate = stored_duplicate(msg)
        except (NoStreamResponseError, APIError) as refused:
            self.done.set_exception(refused)
            return
        self.waiting.discard(index)
        timed, counted = publish_series(self.events[index].SUBJECT)
        timed.observe(time.perf_counter() - self.sent_at)
        counted[duplicate].inc()
        if not self.waiting:
            self.done.set_result(None)


class PipelinedPublisher:
    def __init__(self, broker: NatsBroker) -> None:
        self.inbox = ReplyInbox(broker, self._on_reply)
        self._tags = itertools.count()
        self._batch: Batch | None = None

    async def publish(self, events: Sequence[Event], timeout: float) -> None:
        """Every event stored by JetStream (or a duplicate of one it has), or an exception."""
        if not events:
            return
        connection = await self.inbox.connection()
        batch = self._batch = Batch(f"{next(self._tags)}-", events)
        try:
            for index, event in enumerate(events):
                await send(
                    connection,
                    event.SUBJECT,
                    f"{self.inbox.prefix}{batch.tag}{index}",
                    header_block(event),
                    event.model_dump_json().encode(),
                )
            await asyncio.wait_for(batch.done, timeout)
        finally:
            self._batch = None

    def _on_reply(self, token: str, msg: Msg) -> None:
        batch = self._batch
        if batch is not None and token.startswith(batch.tag):
            batch.acked(int(token[len(batch.tag) :]), msg)
