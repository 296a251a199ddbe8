"""The projection writer's lease in the NATS KV bucket `analytics_writer`.

One key, `projection`. Taken by create-if-absent, renewed by compare-and-set on the revision
this holder last wrote (so a holder that lost it can never write it back), given up by a
compare-and-set delete. The bucket's TTL is the lease's: a holder that stops renewing (killed,
cut off) loses the key when that much time has passed since its last renewal."""

from __future__ import annotations

import json
from contextlib import suppress

from faststream.nats import NatsBroker
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from analytics.application.writer_election import LeaseLost

BUCKET = "analytics_writer"
KEY = "projection"


class NatsWriterLease:
    def __init__(self, broker: NatsBroker, holder: str, ttl: float, replicas: int = 1) -> None:
        self.broker, self.holder, self.ttl, self.replicas = broker, holder, ttl, replicas
        self.revision: int | None = None  # of our last write while we hold it
        self._value = json.dumps({"holder": holder}).encode()

    async def _bucket(self) -> KeyValue:
        # The broker declares a bucket once per process and keeps it.
        return await self.broker.key_value(BUCKET, ttl=self.ttl, replicas=self.replicas)

    async def acquire(self) -> bool:
        """True when it was free and is ours now."""
        try:
            self.revision = await (await self._bucket()).create(KEY, self._value)
        except KeyWrongLastSequenceError:
            return False
        except KeyNotFoundError:
            # nats-py's create found the key taken, then looked it up to see whether it was
            # a delete marker, and by then it had expired: free now, taken at the next try.
            return False
        return True

    async def renew(self) -> None:
        """Raises `LeaseLost` when someone else wrote it since (it expired and was taken);
        any other error (NATS unreachable) leaves the lease as it is, to be retried."""
        if self.revision is None:
            raise LeaseLost("not held")
        try:
            self.revision = await (await self._bucket()).update(
                KEY, self._value, last=self.revision
            )
        except KeyWrongLastSequenceError:
            self.revision = None
            raise LeaseLost("taken by another replica") from None

    async def release(self) -> None:
        """Free it at once for the next writer (only if still ours)."""
        revision, self.revision = self.revision, None
        if revision is not None:
            with suppress(Exception):
                await (await self._bucket()).delete(KEY, last=revision)

    async def holder_now(self) -> str | None:
        """Who holds it, as far as the bucket says (for the operators)."""
        with suppress(Exception):
            entry = await (await self._bucket()).get(KEY)
            if entry.value:
                return str(json.loads(entry.value).get("holder"))
        return None
