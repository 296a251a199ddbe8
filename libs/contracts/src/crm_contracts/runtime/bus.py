"""Putting events on JetStream and connecting to it, the same way in every service."""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from functools import cache

from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js.api import PubAck
from nats.js.client import JetStreamContext
from prometheus_client import Counter, Histogram

from crm_contracts.envelope import Event
from crm_contracts.runtime import nats_fetch, nats_headers, nats_timeouts  # noqa: F401 - patched on import
from crm_contracts.runtime.metrics import EVENTS_PUBLISHED, PUBLISH_SECONDS
from crm_contracts.streams import CRM, ensure_streams

log = logging.getLogger(__name__)
STOP_TIMEOUT = 5.0  # seconds a service waits for the bus to drain on shutdown
_started: weakref.WeakSet[NatsBroker] = weakref.WeakSet()  # streams declared, subscribers on


def event_headers(event: Event) -> dict[str, str]:
    """JetStream drops a second message with the same Nats-Msg-Id inside the duplicate window."""
    headers = {"Nats-Msg-Id": str(event.event_id), "Crm-Event-Type": event.event_type}
    if event.correlation_id:
        headers["Crm-Correlation-Id"] = event.correlation_id
    return headers


async def publish_event(broker: NatsBroker, event: Event, timeout: float = 2.0) -> PubAck:
    """Publish and wait for the stream's ack; raises if JetStream does not confirm in time.

    Straight through the broker's nats-py connection, with what FastStream's own publish puts
    on the wire (the same JSON bytes, its `content-type` and `correlation_id` headers, then
    `event_headers`, to the expected stream): its publish machinery cost a fifth of a lead's
    CPU, and about as much as the publish itself for every event the relay sends."""
    subject = event.SUBJECT
    headers = {
        "content-type": "application/json",
        "correlation_id": str(uuid.uuid4()),
        **event_headers(event),
    }
    timed, counted = publish_series(subject)
    with timed.time():
        ack = await _jetstream(broker).publish(
            subject,
            event.model_dump_json().encode(),
            timeout=timeout,
            stream=CRM,
            headers=headers,
        )
    counted[bool(ack.duplicate)].inc()
    return ack


_contexts: weakref.WeakKeyDictionary[NatsBroker, tuple[Client, JetStreamContext]] = (
    weakref.WeakKeyDictionary()
)


def _jetstream(broker: NatsBroker) -> JetStreamContext:
    """The JetStream context of the broker's connection (a new one after a reconnect)."""
    connection = broker.connection
    known = _contexts.get(broker)
    if known is None or known[0] is not connection:
        known = _contexts[broker] = (connection, connection.jetstream())
    return known[1]


@cache
def publish_series(subject: str) -> tuple[Histogram, dict[bool, Counter]]:
    """The publish metrics of one subject, resolved once (duplicate → counter); also for
    publishers of their own (deal-pipeline's pipelined relay)."""
    counted = {True: EVENTS_PUBLISHED.labels(subject, "duplicate")}
    counted[False] = EVENTS_PUBLISHED.labels(subject, "new")
    return PUBLISH_SECONDS.labels(subject), counted


def make_broker(servers: str, name: str) -> NatsBroker:
    """A broker that keeps reconnecting forever once it has connected."""
    nats_headers.install()
    return NatsBroker(
        servers.split(","),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,  # type: ignore[arg-type]  # annotated int; nats-py takes seconds
        connect_timeout=2,
        graceful_timeout=10,
        logger=logging.getLogger(f"faststream.{name}"),
        log_level=logging.DEBUG,  # a "Received"/"Processed" line per message: debug only
    )


async def start_when_reachable(
    broker: NatsBroker,
    on_started: Callable[[], Awaitable[None]] | None = None,
    retry_seconds: float = 0.5,
    replicas: int = 1,
) -> None:
    """Connect, declare the streams, start subscribers, then `on_started`, each step retried
    until it succeeds: NATS may not be up yet, and a cluster without a JetStream leader (while
    its nodes start or elect one) accepts connections but refuses or times out stream and
    consumer requests. A service that gave up there would stay unready for good."""
    await _retrying("NATS not ready yet", lambda: _start_bus(broker, replicas), retry_seconds)
    _started.add(broker)
    if on_started is not None:
        await _retrying("start-up on NATS failed", on_started, retry_seconds)
    log.info("connected to NATS and started subscribers")


async def _start_bus(broker: NatsBroker, replicas: int) -> None:
    await broker.connect()
    await ensure_streams(broker.connection.jetstream(), replicas)
    try:
        await broker.start()
    except Exception:
        # Some subscribers may have started: stop them all, so the next try starts each once.
        await stop_bounded(broker)
        raise


async def _retrying(
    what: str, step: Callable[[], Awaitable[None]], first_wait: float, longest_wait: float = 5.0
) -> None:
    wait = first_wait
    while True:
        try:
            await step()
            return
        except Exception as exc:
            log.warning("%s (%r); retrying in %.1fs", what, exc, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest_wait)


def bus_connected(broker: NatsBroker) -> bool:
    """Ready for work: connected now, and streams and subscribers were set up."""
    try:
        return broker in _started and bool(broker.connection.is_connected)
    except Exception:
        return False


@asynccontextmanager
async def running_broker(
    broker: NatsBroker,
    on_started: Callable[[], Awaitable[None]] | None = None,
    replicas: int = 1,
) -> AsyncIterator[None]:
    """For a service's lifespan: connect in the background (HTTP is up meanwhile, not ready),
    and on exit stop the broker, tolerating a bus that is already gone."""
    connecting = asyncio.create_task(start_when_reachable(broker, on_started, replicas=replicas))
    try:
        yield
    finally:
        connecting.cancel()
        with suppress(BaseException):
            await connecting
        await stop_bounded(broker)


async def stop_bounded(broker: NatsBroker) -> None:
    """Bounded: draining a connection that is reconnecting to a dead server never ends. Not
    `wait_for`: it waits on for a stop that swallows its cancellation (Python 3.11)."""
    stopping = asyncio.ensure_future(broker.stop())
    done, _ = await asyncio.wait({stopping}, timeout=STOP_TIMEOUT)
    if not done:
        log.warning("the broker did not stop within %ss; leaving it", STOP_TIMEOUT)
        stopping.cancel()
    elif not stopping.cancelled():
        with suppress(Exception):
            stopping.result()
