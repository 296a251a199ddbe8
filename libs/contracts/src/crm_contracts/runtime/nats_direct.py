"""A subscription whose messages are handled where nats-py's reader takes them off the socket,
not through the subscription's queue and a task of its own.

nats-py hands each message of a subscription to its `asyncio.Queue`; a callback subscription's
task then wakes, takes it and awaits the callback, a coroutine per message. For a message whose
handling is only to file it (an ack setting the future a publish waits on, a KV write shown
back to the replica that made it), that task's wake-up costs more than the handling. Here the
subscription's queue is a stand-in whose `put_nowait` calls the handler at once, so the message
is handled in the reader's own step: in the order received, nothing ever queued
(`pending_msgs` stays 0, a drain has nothing to wait for, and the bytes nats-py counts in are
counted out at once, as its task would).

This replaces a private member of nats-py's `Subscription` (`_pending_queue`, which
`Client._process_msg` fills): the lock file pins the version, and the callers' tests run
against a real nats-server. A subscription made without a callback has no task at all. The
handler must not block; an error it raises is logged, not raised into the reader."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)
Handler = Callable[[Msg], None]


class _HandledAtOnce(asyncio.Queue[Msg]):
    """What nats-py's reader puts a message in: the handler, called there and then."""

    def __init__(self, sub: Subscription, handle: Handler) -> None:
        super().__init__()
        self._sub = sub
        self._handle = handle

    def put_nowait(self, item: Msg) -> None:
        self._sub._pending_size -= len(item.data)  # counted in by the reader just before
        try:
            self._handle(item)
        except Exception:
            log.exception("handling a message on %s failed", item.subject)


def handle_directly(sub: Subscription, handle: Handler) -> None:
    """From now on, every message of `sub` goes to `handle` as it is read; those that came
    before (a JetStream consumer starts delivering before `subscribe` returns) first, in
    order. Call it without awaiting in between: the reader cannot add one meanwhile."""
    queued, direct = sub._pending_queue, _HandledAtOnce(sub, handle)
    sub._pending_queue = direct
    while not queued.empty():
        direct.put_nowait(queued.get_nowait())
