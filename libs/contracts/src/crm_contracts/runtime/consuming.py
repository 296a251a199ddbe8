"""How every consumer handles one message: parse, run, ack; on failure retry with backoff, and
after `max_deliver` attempts (or at once for a message that is not a valid event) park it in
the `CRM_DLQ` stream. Metrics, latency and the correlation id in logs come along."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.broker.registrator import NatsRegistrator
from faststream.nats.message import NatsMessage
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from prometheus_client import Counter
from pydantic import ValidationError

from crm_contracts import subjects
from crm_contracts.envelope import Event
from crm_contracts.runtime.logs import correlation_id
from crm_contracts.runtime.metrics import EVENTS_CONSUMED, HANDLER_SECONDS
from crm_contracts.streams import CRM, CRM_DLQ

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)

BACKOFF = (1.0, 5.0, 15.0, 60.0, 300.0)
MAX_DELIVER = 12
DEAD_LETTERED = Counter("crm_dead_lettered_total", "Messages parked in CRM_DLQ", ["consumer"])
# Where `dead_letter` parks a message, as the event catalogue names it: crmdlq.<its subject>.
DLQ_SUBJECT = f"{subjects.DLQ_PREFIX}.{{subject}}"
DLQ_HEADERS = {
    "Crm-Dlq-Consumer": "The durable consumer (or sender) that gave up on the message.",
    "Crm-Dlq-Reason": "Why: `invalid: …` for a message that is not a valid event, else the "
    "last error (at most 1000 characters).",
    "Crm-Dlq-Deliveries": "How many times it was delivered (or tried) before.",
}


def backoff_for(attempt: int) -> float:
    """Seconds to wait before delivery `attempt + 1`."""
    return BACKOFF[min(max(attempt, 1), len(BACKOFF)) - 1]


def consumer_max_deliver() -> int:
    """For the JetStream consumer config: a few more than ours, so we dead-letter first."""
    return MAX_DELIVER + 3


async def dead_letter(broker: NatsBroker, raw: Msg, consumer: str, reason: str) -> None:
    """Park a message in CRM_DLQ under `crmdlq.<its subject>`, with why and who gave up."""
    meta = raw.metadata
    headers = dict(raw.headers or {}) | {
        "Nats-Msg-Id": f"{consumer}:{meta.sequence.stream}",
        "Crm-Dlq-Consumer": consumer,
        "Crm-Dlq-Reason": reason[:1000],
        "Crm-Dlq-Deliveries": str(meta.num_delivered),
    }
    await broker.publish(
        raw.data, f"{subjects.DLQ_PREFIX}.{raw.subject}", headers=headers, stream=CRM_DLQ
    )
    DEAD_LETTERED.labels(consumer).inc()


def declare_dead_letters(
    registrar: NatsRegistrator, service: str, consumers: Collection[str]
) -> None:
    """Document (AsyncAPI) that `consumers` of `service` park messages in CRM_DLQ through
    `dead_letter`. The publisher object only describes; nothing is sent through it."""
    registrar.publisher(
        DLQ_SUBJECT,
        title=f"{service.replace('-', '_')}.dead_letters",
        description=(
            f"{service} parks here what {', '.join(sorted(consumers))} gave up on: the original "
            "message unchanged, with its headers and why."
        ),
    )


async def handle(
    consumer: str,
    message: NatsMessage | Msg,
    broker: NatsBroker,
    model: type[E],
    work: Callable[[E], Awaitable[None]],
) -> None:
    """Parse the message as `model` and run `work` on it, settling the message either way.
    `message` is FastStream's, or one raw message of a batch."""
    started = time.perf_counter()
    event_type = model.model_fields["event_type"].default
    raw = message.raw_message if isinstance(message, NatsMessage) else message
    retry = message.nack if isinstance(message, NatsMessage) else message.nak
    try:
        event = model.model_validate_json(raw.data)
    except ValidationError as exc:
        log.error("not a valid %s, dead-lettered: %s", event_type, exc)
        EVENTS_CONSUMED.labels(consumer, event_type, "invalid").inc()
        await dead_letter(broker, raw, consumer, f"invalid: {exc}")
        await message.ack()
        return
    token = correlation_id.set(event.correlation_id)
    try:
        await work(event)
    except Exception as exc:
        attempt = raw.metadata.num_delivered
        EVENTS_CONSUMED.labels(consumer, event_type, "error").inc()
        if attempt >= MAX_DELIVER:
            log.exception("giving up after %s deliveries, dead-lettered", attempt)
            await dead_letter(broker, raw, consumer, repr(exc))
            await message.ack()
        else:
            delay = backoff_for(attempt)
            log.warning("handler failed (delivery %s), retry in %ss: %r", attempt, delay, exc)
            await retry(delay=delay)
    else:
        EVENTS_CONSUMED.labels(consumer, event_type, "ok").inc()
        await message.ack()
    finally:
        HANDLER_SECONDS.labels(consumer).observe(time.perf_counter() - started)
        correlation_id.reset(token)


def work_queue(
    durable: str,
    ack_wait: float,
    batch_size: int = 20,
    timeout: float = 1.0,
    batch: bool = False,
    max_deliver: int | None = None,
) -> dict[str, Any]:
    """Subscriber options shared by every consumer of the CRM stream: a durable pull consumer
    (replicas share it, so they split the work), settled by our own code (`handle`)."""
    return {
        "stream": JStream(CRM, declare=False),
        "durable": durable,
        "pull_sub": PullSub(batch_size=batch_size, timeout=timeout, batch=batch),
        "config": ConsumerConfig(
            ack_wait=ack_wait,
            max_deliver=consumer_max_deliver() if max_deliver is None else max_deliver,
            max_ack_pending=max(1000, 4 * batch_size),
        ),
        "ack_policy": AckPolicy.MANUAL,
    }
