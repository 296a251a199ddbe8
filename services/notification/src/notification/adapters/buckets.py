"""JSON documents in NATS KV buckets: the service's only state (rules, directory, log)."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from faststream.nats import NatsBroker
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from notification.adapters.kv_read import last_value

DAY = 86400.0
HINTS = 4096  # keys whose last known value and revision a bucket keeps for `modify`
Seen = tuple[dict[str, Any] | None, int]  # a value and its revision (0: none yet)


def _encoded(value: dict[str, Any]) -> bytes:
    return json.dumps(value, default=str).encode()


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
        # What this process last read or wrote of a key: where a `modify` starts instead of a
        # read. Only a guess (another replica may have written since): a write from it is a
        # compare-and-set, and a decision not to write is made again on a fresh read.
        self._hints: OrderedDict[str, Seen] = OrderedDict()

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

    async def read(self, key: str) -> Seen:
        """The value and its revision (0: none yet), for a `modify` that follows."""
        await self.kv()  # declared
        try:
            value, revision = await last_value(self.broker.connection, self.name, key)
        except NotFoundError:  # never written, or deleted
            return self._hint(key, (None, 0))
        return self._hint(key, ((json.loads(value) if value else None), revision))

    def _hint(self, key: str, seen: Seen) -> Seen:
        self._hints[key] = seen
        self._hints.move_to_end(key)
        if len(self._hints) > HINTS:
            self._hints.popitem(last=False)
        return seen

    def known(self, key: str) -> Seen | None:
        """What this process last read or wrote of `key` (None: nothing): maybe not current."""
        return self._hints.get(key)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        data = _encoded(value)
        self._hint(key, (json.loads(data), await (await self.kv()).put(key, data)))

    async def modify(
        self,
        key: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        seen: Seen | None = None,
        absent: bool = False,
    ) -> bool:
        """Read, change, write back only if nobody wrote in between (else again): safe with
        concurrent handlers and replicas. `change` returns None to leave the key alone. `seen`
        is a `read` just made: the first try starts from it (a write since fails, as above).
        Without it, the first try starts from what this process last knew of the key, or, if
        nothing and the caller expects the key `absent`, from no value (a create); a write
        from such a guess is checked as above, a None from it is asked again of a fresh read."""
        kv = await self.kv()
        guess = None if seen else self.known(key) or ((None, 0) if absent else None)
        while True:
            current, revision = seen or guess or await self.read(key)
            guessed, seen, guess = guess is not None, None, None
            new = change(current)
            if new is None:
                if guessed:
                    continue
                return False
            data = _encoded(new)
            try:
                if revision or guessed:  # a guessed absence: no second look for a tombstone
                    revision = await kv.update(key, data, last=revision)
                else:
                    revision = await kv.create(key, data)
            except KeyWrongLastSequenceError:
                continue
            self._hint(key, (json.loads(data), revision))  # as a read would give it
            return True

    async def create(self, key: str, value: dict[str, Any]) -> bool:
        """Put only if absent; False if the key exists (so replicas do things once)."""
        data = _encoded(value)
        try:
            revision = await (await self.kv()).create(key, data)
        except KeyWrongLastSequenceError:
            return False
        self._hint(key, (json.loads(data), revision))
        return True

    async def delete(self, key: str) -> bool:
        if await self.get(key) is None:
            return False
        await (await self.kv()).delete(key)
        self._hints.pop(key, None)
        return True

    async def items(self) -> dict[str, dict[str, Any]]:
        """Every live key and its value. The key list comes from the bucket's stream (a KV
        watcher may report "caught up" before the first entries arrive, and miss them)."""
        await self.kv()
        js = self.broker.connection.jetstream()
        prefix = f"$KV.{self.name}."
        info = await js.stream_info(f"KV_{self.name}", subjects_filter=f"{prefix}>")
        keys = [subject[len(prefix) :] for subject in (info.state.subjects or {})]
        # None for a key deleted or purged since
        values = await asyncio.gather(*(self.get(k) for k in keys))
        return {k: v for k, v in zip(keys, values, strict=True) if v is not None}
