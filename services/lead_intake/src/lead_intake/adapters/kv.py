"""NATS KV buckets of lead intake, reached the same way by every adapter."""

from __future__ import annotations

import asyncio

from faststream.nats import NatsBroker
from nats.js.api import StorageType
from nats.js.kv import KeyValue

from crm_contracts.runtime.bus import bus_connected
from crm_contracts.runtime.errors import Unavailable

KV_TIMEOUT = 2.0


class StoreUnavailable(Unavailable):
    """NATS is not reachable: the operator API answers 503, intake falls back."""

    error = "store_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason[:200])  # the cause's text can be long


async def bucket(
    broker: NatsBroker,
    name: str,
    ttl: float | None,
    replicas: int,
    storage: StorageType | None = None,
) -> KeyValue:
    if not bus_connected(broker):
        raise StoreUnavailable("NATS is not connected")
    try:
        return await asyncio.wait_for(
            broker.key_value(name, ttl=ttl, replicas=replicas, storage=storage), KV_TIMEOUT
        )
    except Exception as exc:
        raise StoreUnavailable(str(exc)) from exc
