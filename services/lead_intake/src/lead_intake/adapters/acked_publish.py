"""Leads put on JetStream, each awaiting its ack, on one reply subscription of this publisher
(`crm_contracts.runtime.js_publish`): each lead names a reply subject of the publisher's inbox
(a counter) and waits on a future with one timer. What goes on the wire is what
`publish_event` sends, byte for byte (a test holds the two equal): the same subject, payload,
headers in the same order, and the expected stream."""

from __future__ import annotations

import asyncio
import itertools
import time

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError

from crm_contracts.envelope import Event
from crm_contracts.runtime.bus import publish_series
from crm_contracts.runtime.js_publish import ReplyInbox, header_block, stored_duplicate
from crm_contracts.runtime.nats_send import send


class AckedPublisher:
    def __init__(self, broker: NatsBroker) -> None:
        self.inbox = ReplyInbox(broker, self._on_reply)
        self._tokens = itertools.count()
        self._waiting: dict[str, asyncio.Future[Msg]] = {}

    async def publish(self, event: Event, timeout: float) -> bool:
        """Raises when JetStream does not ack within `timeout`; True for a duplicate."""
        connection = await self.inbox.connection()
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        answered = self._waiting[token] = loop.create_future()
        timer = loop.call_later(timeout, expire, answered)
        timed, counted = publish_series(event.SUBJECT)
        started = time.perf_counter()
        try:
            await send(
                connection,
                event.SUBJECT,
                self.inbox.prefix + token,
                header_block(event),
                event.model_dump_json().encode(),
            )
            msg = await answered
        finally:
            timer.cancel()
            self._waiting.pop(token, None)
        duplicate = stored_duplicate(msg)
        timed.observe(time.perf_counter() - started)
        counted[duplicate].inc()
        return duplicate

    def _on_reply(self, token: str, msg: Msg) -> None:
        answered = self._waiting.get(token)
        if answered is not None and not answered.done():
            answered.set_result(msg)


def expire(answered: asyncio.Future[Msg]) -> None:
    if not answered.done():
        answered.set_exception(NatsTimeoutError())
