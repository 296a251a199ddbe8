"""A KV bucket's writes as they land, from the moment the watch starts (a JetStream ordered
consumer: in stream order, none skipped; after a gap or a lost consumer the library starts
again after the last one delivered). Feeds what the process keeps of the bucket's keys, so
another replica's write reaches it without a read."""

from __future__ import annotations

from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from crm_contracts.runtime.nats_direct import handle_directly
from notification.adapters.kv_read import DELETED

# key, value (None once deleted or purged), revision, when it was written (epoch seconds)
Written = Callable[[str, bytes | None, int, float], None]


async def watch(connection: Client, bucket: str, written: Written) -> None:
    """Calls `written` for every write made after this returns (and some made just before)."""
    prefix = f"$KV.{bucket}."

    def landed(message: Msg) -> None:
        meta, key = message.metadata, message.subject[len(prefix) :]
        deleted = message.headers is not None and message.headers.get("KV-Operation") in DELETED
        value = None if deleted else message.data
        written(key, value, meta.sequence.stream, meta.timestamp.timestamp())

    subscription = await connection.jetstream().subscribe(
        f"{prefix}>",
        stream=f"KV_{bucket}",
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.NEW,
    )
    # Filing a write in memory is all there is to do: handled as it is read.
    handle_directly(subscription._sub, landed)
