"""Acknowledging a fetched batch of JetStream messages with one write.

nats-py acks each message with its own publish (`Msg.ack`: a subject check, a command built,
a buffer append and a flush check), about 5 µs of CPU a message under the GIL: a tenth of
what the bus costs the projection per event. An ack is an empty message to the message's
reply subject, so the batch's acks are the same `PUB` commands joined into one, handed to
the client's buffer as any publish is (the flusher writes it, a reconnect sends it again).

A client whose internals differ from what this reads (the lock file pins the version), and a
client that is not connected (closed, or reconnecting: its buffer has limits nats-py's own
publish checks), take nats-py's own path, message by message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nats.aio.msg import Msg
from nats.errors import ConnectionDrainingError

_INTERNALS = ("_send_command", "_flush_pending", "_flush_queue", "stats")


async def ack_all(messages: Sequence[Msg]) -> None:
    """Ack every message of the batch not acked yet (they share one client)."""
    pending = [m for m in messages if not m._ackd]
    if not pending:
        return
    client: Any = pending[0]._client
    if not _ours(client) or any(m._client is not client for m in pending):
        for m in pending:
            await m.ack()
        return
    if client.is_draining_pubs:
        raise ConnectionDrainingError
    for m in pending:
        m._check_reply()  # a message without a reply subject cannot be acked: nats-py's error
    command = b"".join([b"PUB " + m.reply.encode() + b" 0\r\n\r\n" for m in pending])
    client.stats["out_msgs"] += len(pending)
    await client._send_command(command)
    for m in pending:
        m._ackd = True
    if client._flush_queue is not None and client._flush_queue.empty():
        await client._flush_pending()  # as a publish does: wake the flusher


def _ours(client: Any) -> bool:
    """The client has the internals this writes through, and is connected."""
    return all(hasattr(client, name) for name in _INTERNALS) and client.is_connected
