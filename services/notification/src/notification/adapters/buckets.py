"""JSON documents in NATS KV buckets: the service's only state (rules, directory, log)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from faststream.nats import NatsBroker
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from notification.adapters.kv_read import last_entry
from notification.adapters.kv_watch import watch

DAY = 86400.0
HINTS = 4096  # keys whose newest known value a bucket keeps, for `modify` and `recent`
Seen = tuple[dict[str, Any] | None, int]  # a value and its revision (0: none yet)
Entry = tuple[dict[str, Any] | None, int, float]  # and when it was written (epoch seconds)


def _encoded(value: dict[str, Any]) -> bytes:
    return json.dumps(value, default=str).encode()


class JsonBucket:
    def __init__(
        self,
        broker: NatsBroker,
        name: str,
        ttl_days: float | None = None,
        replicas: int = 1,
        watched: bool = False,
    ) -> None:
        self.broker = broker
        self.name = name
        self.ttl = ttl_days * DAY if ttl_days else None
        self.replicas = replicas
        self._replicated = replicas == 1
        self._kv: KeyValue | None = None
        self._declaring = asyncio.Lock()
        # The newest of a key this process has read, written or (`watched`) been told of, with
        # when it was written: where a `modify` starts instead of a read, and what `recent`
        # answers. A write from it is still a compare-and-set, and a decision not to write is
        # made again on a fresh read.
        self._hints: OrderedDict[str, Entry] = OrderedDict()
        self.watched = watched

    async def kv(self) -> KeyValue:
        # Kept once declared: even FastStream's cached lookup costs as much as a get.
        if self._kv is None:
            async with self._declaring:  # one watch, however many ask first
                if self._kv is None:
                    self._kv = await self._declare()
        return self._kv

    async def _declare(self) -> KeyValue:
        kv = await self.broker.key_value(self.name, ttl=self.ttl, replicas=self.replicas)
        if not self._replicated:
            await self._replicate()
        if self.watched:  # before anything is kept: every later write is then told
            await watch(self.broker.connection, self.name, self.written)
        return kv

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
            value, revision, at = await last_entry(self.broker.connection, self.name, key)
        except NotFoundError:  # never written, or deleted
            return self._hint(key, (None, 0), time.time())
        return self._hint(key, ((json.loads(value) if value else None), revision), at)

    def _hint(self, key: str, seen: Seen, at: float) -> Seen:
        """Keeps `seen`, written at `at` (for a write of ours, when it was sent: never later
        than the server's stamp), unless something newer is kept; returns it as given."""
        kept = self._hints.get(key)
        if kept is not None and seen[1] < kept[1]:
            if not seen[1]:  # not found, yet known written: deleted since, or read before
                del self._hints[key]
            return seen
        self._hints[key] = (*seen, at)
        self._hints.move_to_end(key)
        if len(self._hints) > HINTS:
            self._hints.popitem(last=False)
        return seen

    def written(self, key: str, value: bytes | None, revision: int, at: float) -> None:
        """A write the watch was told of: news only for a key kept here (a key not kept may
        have been read since at a newer revision than the watch has reached)."""
        if key not in self._hints:
            return
        try:
            seen = ((json.loads(value) if value else None), revision)
        except ValueError:  # not ours to read: forgotten, so the next look asks the bus
            del self._hints[key]
            return
        self._hint(key, seen, at)

    def known(self, key: str) -> Seen | None:
        """What this process last read or wrote of `key` (None: nothing): maybe not current."""
        kept = self._hints.get(key)
        return None if kept is None else kept[:2]

    def recent(self, key: str) -> Seen | None:
        """The newest of `key` this process has read or written since the watch started, with
        every later write the watch has told of (None: not kept, or not watched): never older
        than what this process saw, nor than what the bucket held when the watch was last heard
        from. A value the bucket has expired by now is not answered."""
        kept = self._hints.get(key) if self.watched else None
        if kept is None or (self.ttl is not None and kept[2] + self.ttl <= time.time()):
            return None
        return kept[:2]

    async def put(self, key: str, value: dict[str, Any]) -> None:
        data, sent = _encoded(value), time.time()
        self._hint(key, (json.loads(data), await (await self.kv()).put(key, data)), sent)

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
            data, sent = _encoded(new), time.time()
            try:
                if revision or guessed:  # a guessed absence: no second look for a tombstone
                    revision = await kv.update(key, data, last=revision)
                else:
                    revision = await kv.create(key, data)
            except KeyWrongLastSequenceError:
                continue
            self._hint(key, (json.loads(data), revision), sent)  # as a read would give it
            return True

    async def create(self, key: str, value: dict[str, Any]) -> bool:
        """Put only if absent; False if the key exists (so replicas do things once)."""
        data, sent = _encoded(value), time.time()
        try:
            revision = await (await self.kv()).create(key, data)
        except KeyWrongLastSequenceError:
            return False
        self._hint(key, (json.loads(data), revision), sent)
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
