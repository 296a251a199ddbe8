"""Following a NATS KV bucket with less per entry than nats-py's `KeyValue.watch`: the same
ordered push consumer (last value per key, then every write), each message handed to the
follower in the subscription's callback instead of as an `Entry` through two more queues.

The follower is asked first whether a message is the echo of its own write (a plain put of a
key and value it is waiting to see back); then the message's metadata (reply subject,
timestamp) and operation are not decoded at all. A replica watching the bucket it writes gets
every one of its own writes back, so that is most of what it receives."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.kv import KV_DEL, KV_MARKER_REASON, KV_OP, KV_PURGE

from crm_contracts.runtime.nats_direct import handle_directly

INACTIVE_SECONDS = 5 * 60.0  # the server drops the consumer of a watch gone this long
SKIP = "skip"  # an expiry marker of a reason nats-py does not know: not an entry


class Follower(Protocol):
    def echo(self, key: str, value: bytes) -> bool:
        """Whether this is a put of the follower's own, already known: nothing to decode."""
        ...

    def changed(self, key: str, value: bytes | None, stamp: float) -> None:
        """A put (its value) or a delete (None), stored at `stamp` (seconds since the epoch)."""
        ...

    def caught_up(self) -> None:
        """Every key the bucket held at the start has been given."""
        ...


class KeyWatch:
    def __init__(self, bucket: str, follower: Follower) -> None:
        self.stream = f"KV_{bucket}"
        self.prefix = f"$KV.{bucket}."
        self.follower = follower
        self._initial = True  # until the bucket's keys so far are all in
        self._sub: JetStreamContext.PushSubscription | None = None

    async def start(self, connection: Client) -> None:
        self._sub = sub = await connection.jetstream().subscribe(
            self.prefix + ">",
            stream=self.stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            inactive_threshold=INACTIVE_SECONDS,
        )
        # Mostly echoes of this replica's own writes, each a dict look-up: handled as read.
        handle_directly(sub._sub, self._on_message)
        info = await sub.consumer_info()
        if info.num_pending == 0 and sub.delivered == 0:  # an empty bucket: no message says so
            self._all_in()

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    def _all_in(self) -> None:
        if self._initial:
            self._initial = False
            self.follower.caught_up()

    def _on_message(self, msg: Msg) -> None:
        key = msg.subject[len(self.prefix) :]
        if not self._initial and msg.headers is None and self.follower.echo(key, msg.data):
            return
        meta = msg.metadata
        op = operation(msg.headers)
        if op != SKIP:
            value = None if op in (KV_DEL, KV_PURGE) else msg.data
            self.follower.changed(key, value, stamp_of(meta.timestamp))
        if meta.num_pending == 0:
            self._all_in()


def operation(headers: dict[str, str] | None) -> str | None:
    """KV_DEL, KV_PURGE, None for a put, or SKIP: as `KeyValue.watch` reads the headers
    (nats-server 2.11 marks expiries with Nats-Marker-Reason instead of KV-Operation)."""
    if not headers:
        return None
    if KV_OP in headers:
        return headers[KV_OP]
    reason = headers.get(KV_MARKER_REASON)
    if reason is None:
        return None
    return {"MaxAge": KV_PURGE, "Purge": KV_PURGE, "Remove": KV_DEL}.get(reason, SKIP)


def stamp_of(created: object) -> float:
    """When the key was stored (the TTL counts from then)."""
    return created.timestamp() if isinstance(created, datetime) else time.time()
