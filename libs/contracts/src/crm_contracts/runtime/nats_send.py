"""`Client.publish` of nats-py with the command already built. nats-py builds a header block
one header at a time, each name checked by a regular expression and each value run through
`str.translate`, and checks the subject and reply by another: more CPU than the rest of a
publish. The callers' headers, subjects and replies are made of values that need neither
(ids, the event type, constants, hex digests, the connection's own inbox). The command goes
into the client's buffer as a publish's does: the flusher writes it, a reconnect resends it.

This writes through nats-py's private members (`_send_command`, `_flush_queue`,
`_flush_pending`, `_max_pending_size`): the lock file pins the version, and the callers'
tests compare what reaches a real nats-server with what nats-py's own publish puts there."""

from __future__ import annotations

from nats.aio.client import Client
from nats.errors import (
    ConnectionClosedError,
    ConnectionDrainingError,
    MaxPayloadError,
    OutboundBufferLimitError,
)


async def send(
    connection: Client, subject: str, reply: str, head: bytes | None, payload: bytes
) -> None:
    """One message: HPUB with a header block (`head`, ending in its blank line), else PUB."""
    size = len(payload)
    if size > connection.max_payload:
        raise MaxPayloadError
    if head is None:
        command = f"PUB {subject} {reply} {size}\r\n".encode() + payload + b"\r\n"
    else:
        total = len(head) + size
        command = (
            f"HPUB {subject} {reply} {len(head)} {total}\r\n".encode() + head + payload + b"\r\n"
        )
    await send_command(connection, command, 1, size)


async def send_command(connection: Client, command: bytes, messages: int, size: int) -> None:
    """`messages` publishes already made into one command (`size`: their payloads' bytes):
    `Client.publish`'s checks, its stats, and its kick of the flusher, which writes what is
    pending when next it runs."""
    if connection.is_closed:
        raise ConnectionClosedError
    if connection.is_draining_pubs:
        raise ConnectionDrainingError
    if not connection.is_connected:  # buffered while reconnecting, up to the limit
        limit = connection._max_pending_size
        if limit <= 0 or len(command) + connection.pending_data_size > limit:
            raise OutboundBufferLimitError
    connection.stats["out_msgs"] += messages
    connection.stats["out_bytes"] += size
    await connection._send_command(command)
    if connection._flush_queue is not None and connection._flush_queue.empty():
        await connection._flush_pending()
