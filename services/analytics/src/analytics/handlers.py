"""The projection consumer: every event on `crm.>` into ClickHouse, in batches."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Annotated, Any

from faststream import Context
from faststream.message import StreamMessage
from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.message import NatsBatchMessage

from analytics.application.gate import ProjectionGate
from analytics.application.ingest import Parsed, Projector, parse_batch
from analytics.application.live import Pulse
from analytics.application.ordered_batches import OrderedBatches
from analytics.metrics import BATCH_SIZE, EVENTS_CONSUMED, NEWEST_EVENT, PROJECTION_FAILURES
from crm_contracts import subjects
from crm_contracts.runtime.collector import collector_paused
from crm_contracts.runtime.consuming import backoff_for, dead_letter, work_queue
from crm_contracts.runtime.nats_acks import ack_all

log = logging.getLogger(__name__)
# The shared durable of elected writers, and the name the projection dead-letters and counts
# under whatever its durable (so two own replicas park an invalid message once: same msg id).
PROJECTION_CONSUMER = "analytics_projection"
# Fewer events than this not yet delivered to the consumer after a batch: the projection is
# live, and waits for the batch to be written before it fetches the next (a stream catching
# up keeps one batch fetched ahead, up to its last thousand events).
LIVE_PENDING = 1_000


def own_consumer(replica: str) -> str:
    """The durable of a replica that keeps its own full copy."""
    return f"{PROJECTION_CONSUMER}_{replica}"


BatchMessage = Annotated[NatsBatchMessage, Context("message")]


async def raw_bodies(message: StreamMessage[Any]) -> Any:
    """The batch's bodies as they came: the handler parses each once (`parse_batch`), so
    FastStream's own decoding of every message would be work thrown away."""
    return message.body


async def ingest_until_stored(
    projector: Projector,
    parsed: Parsed,
    message: NatsBatchMessage,
    keep_alive_every: float = 10.0,
    give_up: Callable[[], bool] = lambda: False,
    failed: Callable[[], None] = lambda: None,
) -> bool:
    """Retry the same batch in place until ClickHouse takes it. Not nack-and-move-on: the
    deal rows are folded in version order, so a later batch must never land first. While it
    waits it tells JetStream it is still working, so the batch is not delivered again. False
    when `give_up()` said so between attempts (a stop: the batch is left unacked). `failed()`
    is told of each failed attempt, before the wait."""
    attempt = 0
    while True:
        try:
            await asyncio.to_thread(projector.project, parsed.events, parsed.data)
            return True
        except Exception:
            attempt += 1
            PROJECTION_FAILURES.inc()
            log.exception("projection batch failed (attempt %s); retrying", attempt)
            failed()
        deadline = asyncio.get_running_loop().time() + backoff_for(attempt)
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if give_up():
                return False
            await message.in_progress()  # keep JetStream from redelivering it
            await asyncio.sleep(min(left, keep_alive_every))
        if give_up():
            return False


def is_live(raws: list[Any]) -> bool:
    """Fewer than LIVE_PENDING events not yet delivered to the consumer after this batch."""
    return not raws or raws[-1].metadata.num_pending < LIVE_PENDING


def build_router(
    projector: Projector,
    broker: NatsBroker,
    batch_size: int,
    batch_timeout: float,
    gate: ProjectionGate | None = None,
    pulse: Pulse | None = None,
    durable: str = PROJECTION_CONSUMER,
    ack_wait: float = 30.0,
    inactive_threshold: float | None = None,
    batches: OrderedBatches | None = None,
) -> NatsRouter:
    """`durable`: the shared consumer, or a replica's own (`own_consumer`), which NATS deletes
    after `inactive_threshold` seconds without a pull (an abandoned replica's). `batches`:
    write each batch one ahead of the fetching (else within the handler)."""
    gate = gate or ProjectionGate()
    router = NatsRouter()

    newest = [0.0]  # the newest event time projected by this process
    # Unlimited redelivery: a ClickHouse outage must never drop events (invalid messages
    # are dead-lettered below, so nothing loops forever on bad input).
    options = work_queue(
        durable,
        ack_wait=ack_wait,
        batch_size=batch_size,
        timeout=batch_timeout,
        batch=True,
        max_deliver=-1,
    )
    options["config"].inactive_threshold = inactive_threshold

    keep_alive_every = ack_wait / 3

    @router.subscriber(
        subjects.ALL,
        **options,
        decoder=raw_bodies,
        title="analytics.project",
        description="Projects every CRM event into ClickHouse (batched, idempotent).",
    )
    async def project(message: BatchMessage) -> None:
        if batches is None:
            await write(message)
        else:  # written in order on its own task while the next batch is fetched
            # ... unless the stream has only a few more: see OrderedBatches.
            live = is_live(message.raw_message)
            await batches.put(lambda: write(message), message.in_progress, written=live)

    async def write(message: NatsBatchMessage) -> None:
        # A rebuild may hold the projection here between batches (application/gate.py).
        async with gate.batch():
            raws = message.raw_message
            # No collector passes over the batch while it is alive: one after it is stored
            # (crm_contracts.runtime.collector). A failed attempt lets it run while it waits.
            with collector_paused() as pause:
                # Off the event loop, like the projection itself: the API keeps answering.
                parsed = await asyncio.to_thread(parse_batch, [m.data for m in raws])
                for index, reason in parsed.rejected:
                    log.error("not an event, dead-lettered: %s", reason)
                    await dead_letter(
                        broker, raws[index], PROJECTION_CONSUMER, f"invalid: {reason}"
                    )
                stopping = (lambda: batches.stopping) if batches is not None else (lambda: False)
                if parsed.events and not await ingest_until_stored(
                    projector, parsed, message, keep_alive_every, stopping, pause.release
                ):
                    return  # stopped before it was stored: JetStream delivers it again
                by_type = Counter(e.event_type for e in parsed.events)
                latest = max((e.occurred_at.timestamp() for e in parsed.events), default=None)
                parsed.forget()  # before the pause ends (some 4 µs an event otherwise)
            # Only after ClickHouse has the rows; the batch's acks in one write.
            await ack_all(raws)
            await message.ack()
            BATCH_SIZE.observe(len(raws))
            for event_type, count in by_type.items():
                EVENTS_CONSUMED.labels(PROJECTION_CONSUMER, event_type, "ok").inc(count)
            if latest is not None:  # freshness: a late event never moves it back
                newest[0] = max(newest[0], latest)
                NEWEST_EVENT.set(newest[0])
            if pulse and by_type:
                await pulse.beat(by_type.total())  # open dashboards refresh

    return router
