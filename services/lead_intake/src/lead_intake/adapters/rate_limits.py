"""The rate limits as the public form route takes them: a replica's own token buckets, or
buckets shared by every replica in NATS KV (setting `rate_limits`).

Shared buckets live in the KV bucket `intake_rate` (in memory: losing it on a NATS restart only
refills the buckets). A take reads a bucket's state and writes the state after it with an
update conditional on the revision read (compare-and-set); a conflict means another take came
first, so it re-reads and tries again. Every replica so spends from the same tokens: with a
rate near zero, a burst of N allows exactly N submissions across all replicas together.

What that costs, and why it stays cheap where it matters:
- An allowed take costs one KV round trip (two when another replica wrote the bucket since this
  one last saw it). Takes of one bucket within a replica never race each other: those that
  arrive while a write is in flight go together in the next one, so a busy form's bucket costs
  a round trip per batch, not per submission.
- A refusal costs none when this replica's last view of the bucket already says "empty":
  other replicas only ever spend tokens, never add them, so a bucket empty in an older view is
  empty now. A flood from one address is refused without touching NATS.
- Stamps are wall-clock times of the replicas; a replica whose clock lags refills nothing until
  it catches up (`RateLimiter.step`), so skew never lends tokens.
- A state unwritten for `STATE_TTL` is forgotten, i.e. the bucket is full again: exact for any
  bucket that refills within that time (the defaults refill within 20 s).

While NATS is unreachable (or a take does not settle within the KV timeout) a replica falls back
to its own buckets: leads still come in, limited per replica, as they would be with `local`."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict

from faststream.nats import NatsBroker
from nats.js.api import StorageType
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from lead_intake.adapters.kv import KV_TIMEOUT, bucket
from lead_intake.domain.abuse import Bucket, RateLimiter

log = logging.getLogger(__name__)
RATE_BUCKET = "intake_rate"
STATE_TTL = 3600.0  # seconds a bucket's state outlives its last take


class LocalRateLimit:
    """This replica's own buckets: N replicas allow N times the rate."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter  # the rule; tests change its burst

    async def take(self, key: str) -> float | None:
        return self.limiter.take(key, time.monotonic())


class SharedRateLimit:
    """Buckets shared by every replica through NATS KV (see the module's docstring)."""

    def __init__(self, broker: NatsBroker, name: str, limiter: RateLimiter, replicas: int) -> None:
        self.broker = broker
        self.name = name  # of the limit ("ip", "form"): keys of limits never meet
        self.limiter = limiter  # the rule, and the fallback buckets while NATS is away
        self.replicas = replicas
        self._seen: OrderedDict[str, tuple[Bucket, int]] = OrderedDict()  # → state, revision
        self._waiting: dict[str, list[asyncio.Future[float | None]]] = {}  # → takes in line
        self._writers: dict[str, asyncio.Task[None]] = {}  # → the one writing that bucket

    def _kv_key(self, key: str) -> str:
        return f"{self.name}.{hashlib.sha256(key.encode()).hexdigest()[:32]}"  # any text

    def _remember(self, kv_key: str, state: Bucket, revision: int) -> None:
        self._seen.pop(kv_key, None)
        self._seen[kv_key] = (state, revision)
        while len(self._seen) > self.limiter.max_keys:
            self._seen.popitem(last=False)

    async def take(self, key: str) -> float | None:
        kv_key = self._kv_key(key)
        if known := self._seen.get(kv_key):
            _, wait = self.limiter.step(known[0], time.time())
            if wait is not None:
                return wait  # empty in an older view: empty now (nothing refills but time)
        taken: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(kv_key, []).append(taken)
        if kv_key not in self._writers:
            self._writers[kv_key] = asyncio.create_task(self._write(kv_key))
        try:
            return await asyncio.wait_for(taken, KV_TIMEOUT)  # cancelled when it times out
        except Exception as exc:
            log.debug("shared rate limit unavailable, limiting locally: %r", exc)
            return self.limiter.take(key, time.monotonic())

    async def _write(self, kv_key: str) -> None:
        """Takes of one bucket that arrive while a write is in flight go together in the next
        write: one round trip for all of them, in their order."""
        try:
            while batch := self._waiting.pop(kv_key, None):
                batch = [taken for taken in batch if not taken.done()]  # not given up on
                if not batch:
                    continue
                try:
                    answers = await asyncio.wait_for(self._take(kv_key, len(batch)), KV_TIMEOUT)
                except Exception as exc:
                    for taken in batch:
                        if not taken.done():
                            taken.set_exception(exc)
                    continue
                for taken, answer in zip(batch, answers, strict=True):
                    if not taken.done():
                        taken.set_result(answer)
        finally:
            del self._writers[kv_key]

    async def _take(self, kv_key: str, wanted: int) -> list[float | None]:
        kv = await bucket(self.broker, RATE_BUCKET, STATE_TTL, self.replicas, StorageType.MEMORY)
        state, revision = self._seen.get(kv_key) or (None, 0)
        while True:
            after, allowed, wait = self.limiter.step_many(state, time.time(), wanted)
            if allowed:
                try:
                    # revision 0: the key must not exist yet (created by this take)
                    revision = await kv.update(kv_key, encode(after), last=revision)
                except KeyWrongLastSequenceError:
                    state, revision = await read(kv, kv_key)  # another replica came first
                    continue
            self._remember(kv_key, after, revision)  # a refusal spends nothing: no write
            return [None] * allowed + [wait] * (wanted - allowed)


async def read(kv: KeyValue, kv_key: str) -> tuple[Bucket | None, int]:
    try:
        entry = await kv.get(kv_key)
    except KeyNotFoundError as gone:  # never taken, forgotten after STATE_TTL, or deleted
        # (by an operator: `nats kv del`): a full bucket, written after the delete marker
        return None, gone.entry.revision if gone.entry else 0
    return decode(entry.value or b""), entry.revision or 0


def encode(state: Bucket) -> bytes:
    return f"{state[0]:.6f} {state[1]:.6f}".encode()


def decode(value: bytes) -> Bucket | None:
    try:
        tokens, stamp = value.split()
        return float(tokens), float(stamp)
    except ValueError:  # not written by this adapter: start over from a full bucket
        return None
