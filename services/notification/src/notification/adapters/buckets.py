"""JSON documents in NATS KV buckets: the service's only state (rules, directory, log)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from faststream.nats import NatsBroker
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

DAY = 86400.0


class JsonBucket:
    def __init__(
        self, broker: NatsBroker, name: str, ttl_days: float | None = None, replicas: int = 1
    ) -> None:
        self.broker = broker
        self.name = name
        self.ttl = ttl_days * DAY if ttl_days else None
        self.replicas = replicas
        self._replicated = replicas == 1
        self._kv: KeyValue | None = None

    async def kv(self) -> KeyValue:
        # Kept once declared: even FastStream's cached lookup costs as much as a get.
        if self._kv is None:
            kv = await self.broker.key_value(self.name, ttl=self.ttl, replicas=self.replicas)
            if not self._replicated:
                await self._replicate()
            self._kv = kv
        return self._kv

    async def _replicate(self) -> None:
        """A bucket made before the cluster (one replica) gets the replicas asked for now: on a
        cluster, a bucket on one node stops the service whenever that node is down."""
        js = self.broker.connection.jetstream()
        info = await js.stream_info(f"KV_{self.name}")
        if (info.config.num_replicas or 1) < self.replicas:
            info.config.num_replicas = self.replicas
            await js.update_stream(info.config)
        self._replicated = True

    async def get(self, key: str) -> dict[str, Any] | None:
        return (await self.read(key))[0]

    async def read(self, key: str) -> tuple[dict[str, Any] | None, int]:
        """The value and its revision (0: none yet), for a `modify` that follows."""
        try:
            entry = await (await self.kv()).get(key)
        except NotFoundError:  # never written, or deleted
            return None, 0
        return (json.loads(entry.value) if entry.value else None), entry.revision or 0

    async def put(self, key: str, value: dict[str, Any]) -> None:
        await (await self.kv()).put(key, json.dumps(value, default=str).encode())

    async def modify(
        self,
        key: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        seen: tuple[dict[str, Any] | None, int] | None = None,
    ) -> bool:
        """Read, change, write back only if nobody wrote in between (else again): safe with
        concurrent handlers and replicas. `change` returns None to leave the key alone. `seen`
        is a `read` just made: the first try starts from it (a write since fails, as above)."""
        kv = await self.kv()
        while True:
            current, revision = seen or await self.read(key)
            seen = None
            new = change(current)
            if new is None:
                return False
            try:
                data = json.dumps(new, default=str).encode()
                if revision:
                    await kv.update(key, data, last=revision)
                else:
                    await kv.create(key, data)
            except KeyWrongLastSequenceError:
                continue
            return True

    async def create(self, key: str, value: dict[str, Any]) -> bool:
        """Put only if absent; False if the key exists (so replicas do things once)."""
        try:
            await (await self.kv()).create(key, json.dumps(value, default=str).encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def delete(self, key: str) -> bool:
        if await self.get(key) is None:
            return False
        await (await self.kv()).delete(key)
        return True

    async def items(self) -> dict[str, dict[str, Any]]:
        """Every live key and its value. The key list comes from the bucket's stream (a KV
        watcher may report "caught up" before the first entries arrive, and miss them)."""
        kv = await self.kv()
        js = self.broker.connection.jetstream()
        prefix = f"$KV.{self.name}."
        info = await js.stream_info(f"KV_{self.name}", subjects_filter=f"{prefix}>")
        keys = [subject[len(prefix) :] for subject in (info.state.subjects or {})]

        async def value(key: str) -> dict[str, Any] | None:
            try:
                entry = await kv.get(key)
            except NotFoundError:  # deleted or purged since
                return None
            return json.loads(entry.value) if entry.value else None

        values = await asyncio.gather(*(value(k) for k in keys))
        return {k: v for k, v in zip(keys, values, strict=True) if v is not None}
