"""Bus consumers: every CRM event (directory + planning) and every due reminder (sending); and
what the service publishes, declared for the AsyncAPI catalogue (the adapters send through
`publish_event` and `Reminders`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream.nats import JStream, NatsBroker, NatsRouter
from faststream.nats.message import NatsBatchMessage
from faststream.nats.message import NatsMessage as BusMessage  # built from a raw batch message
from nats.aio.msg import Msg
from pydantic import ValidationError

from crm_contracts import subjects
from crm_contracts.envelope import Event
from crm_contracts.events import BY_SUBJECT, NotificationFailed, NotificationSent, TaskEvent
from crm_contracts.runtime.consuming import declare_dead_letters, handle, work_queue
from crm_contracts.runtime.eager_batches import eager
from crm_contracts.runtime.logs import correlation_id
from crm_contracts.streams import CRM_REMINDERS
from notification.adapters.card_memo import batch_memo
from notification.adapters.own_plans import sending
from notification.adapters.reminders import DUE, SCHEDULE
from notification.application.plan_notifications import Planner
from notification.application.send_due_notification import Deliverer, RetryLater
from notification.domain.due import Due
from notification.domain.rules import Rule

log = logging.getLogger(__name__)
SERVICE = "notification"
EVENTS_CONSUMER = "notification_events"
DUE_CONSUMER = "notification_due"
DELIVERY = "notification_delivery"  # parks a send that ended failed (adapters/outcomes.py)


@dataclass(frozen=True)
class EventsBatch:
    """The events consumer's batches: at most `size` events, waiting at most `wait` seconds
    for them (FastStream waits that long for a batch that is not full), ours for `ack_wait`."""

    size: int = 100
    wait: float = 0.1
    ack_wait: float = 60.0


def build_router(
    broker: NatsBroker,
    planner: Planner,
    deliverer: Deliverer,
    due_ack_wait: float = 30.0,
    events: EventsBatch | None = None,
    origin: str | None = None,
) -> NatsRouter:
    events = events or EventsBatch()
    router = NatsRouter()

    @router.subscriber(
        subjects.ALL,
        # A fetched batch at a time (`handle_events` below: its directory updates, then plans).
        **work_queue(
            EVENTS_CONSUMER,
            ack_wait=events.ack_wait,
            batch_size=events.size,
            timeout=events.wait,
            batch=True,
        ),
        title="notification.events",
        description="Feeds the directory and plans the sends of the rules an event matches.",
    )
    async def on_events() -> None:
        message: NatsBatchMessage = current_message(broker)
        await handle_events(EVENTS_CONSUMER, message.raw_message, broker, planner)

    @eager(  # each fetch handed over as it comes: a due send waits for no batch
        router.subscriber(
            f"{DUE}.>",
            # One try per delivery; a retry is a redelivery (nak with delay), so the ack wait
            # covers one try, renewed by "in progress" while a slow one lasts. Our own count
            # of tries ends every send, so the server never drops a reminder on its own.
            **(
                work_queue(DUE_CONSUMER, ack_wait=due_ack_wait, max_deliver=-1, batch=True)
                | {"stream": JStream(CRM_REMINDERS, declare=False)}
            ),
            title="notification.due",
            description="Sends what a rule planned, once its time (a JetStream schedule) has come.",
        )
    )
    async def on_due() -> None:
        # A fetch's sends at once, each settled on its own: as FastStream's per-message
        # subscriber ran them, without its machinery for every message (its consume, logging
        # middleware and dependency solving: 6 % of the service's CPU samples under load).
        batch: NatsBatchMessage = current_message(broker)
        await asyncio.gather(*(send_due(raw) for raw in batch.raw_message))

    async def send_due(raw: Msg) -> None:
        message = BusMessage(raw, raw.data)
        # When the schedule fired (stored), not when we got to it: a digest that waited for a
        # restart past midnight still covers the right day.
        fired_at = raw.metadata.timestamp

        async def work(due: Due) -> None:
            try:
                await deliverer.on_due(due, fired_at, message.in_progress)
            except RetryLater as later:  # settled here; `handle` then leaves it alone
                await message.nack(delay=later.delay)

        with sending(raw.headers, origin):  # planned here: from memory
            await handle(DUE_CONSUMER, message, broker, Due, work)

    declare_publishers(router)
    return router


def current_message(broker: NatsBroker) -> Any:
    """The message being handled, from the broker's context. Not a `Context` parameter:
    FastStream solves one in a worker thread, in a task group of its own, for each message."""
    return broker.context.get_local("message")


def declare_publishers(router: NatsRouter) -> None:
    """What the service puts on the bus, for the catalogue; nothing is sent through these."""
    for event in (NotificationSent, NotificationFailed):
        router.publisher(
            event.SUBJECT,
            schema=event,
            title=f"notification.outcomes.{event.__name__}",
            description="How a send ended, once it is recorded in the delivery log.",
        )
    router.publisher(
        f"{SCHEDULE}.{{key}}",
        schema=Due,
        title="notification.reminders.schedule",
        description=(
            "A delayed send as a JetStream message schedule (header `Nats-Schedule`: "
            "`@at <time>` or a cron in `Nats-Schedule-Time-Zone`); when due, the server "
            "publishes its body to `Nats-Schedule-Target`, crmrem.due.<key>. Scheduling the "
            "same key again replaces it; purging the subject cancels it."
        ),
    )
    router.publisher(
        f"{DUE}.{{key}}",
        schema=Due,
        title="notification.reminders.due_now",
        description=(
            "A send due at once, straight to the due subject (a fired schedule lands here too)."
        ),
    )
    declare_dead_letters(router, SERVICE, [EVENTS_CONSUMER, DUE_CONSUMER, DELIVERY])


# -- one fetched batch of the events consumer: every directory update of the batch first, then
# the plans, each message settled on its own by the shared `handle`.
#
# A card must be on file before an event that names it is planned: phase 1 puts every card of
# the batch on file before phase 2 plans anything (and the batches before were done before).
# Within a phase, one aggregate's events keep their stream order ("lanes"); different lanes
# run at once, as they write different cards (CAS writes, each card in version order).

# A message whose own update went in but whose batch mate's did not comes back this soon: its
# planning waits only for the other update (its own is idempotent), not for a backoff.
REPLAN_DELAY = 1.0


async def handle_events(
    consumer: str, raws: list[Msg], broker: NatsBroker, planner: Planner
) -> None:
    with batch_memo():  # the batch's plans read each card once (adapters/card_memo.py)
        await _handle_batch(consumer, raws, broker, planner)


async def _handle_batch(
    consumer: str, raws: list[Msg], broker: NatsBroker, planner: Planner
) -> None:
    events: list[tuple[BusMessage, Event]] = []
    for raw in raws:
        message = BusMessage(raw, raw.data)
        model = BY_SUBJECT.get(raw.subject)
        if model is None:  # an event type this version does not know: nothing to do
            await message.ack()
            continue
        try:
            events.append((message, model.model_validate_json(raw.data)))
        except ValidationError:  # `handle` dead-letters what does not parse
            await handle(consumer, message, broker, model, planner.on_event)
    if not events:
        return
    lanes = _lanes([event for _, event in events])
    # Phase 1: the directory. If one update fails, nothing of the batch is planned (a deal
    # planned now might name the card that failed): the failed message backs off as usual,
    # the others come back at once and are planned then.
    recorded: list[bool | Exception] = [False] * len(events)

    async def record(lane: list[int]) -> None:
        for i in lane:
            event = events[i][1]
            correlation_id.set(event.correlation_id)  # this task's own context
            try:
                recorded[i] = await planner.record(event)
            except Exception as exc:
                recorded[i] = exc

    await asyncio.gather(*(record(lane) for lane in lanes))
    failures = sum(isinstance(r, Exception) for r in recorded)
    if failures:
        log.warning("%d of %d directory updates failed: batch retried", failures, len(events))
        for (message, event), result in zip(events, recorded, strict=True):
            if isinstance(result, Exception):
                await handle(consumer, message, broker, type(event), _raising(result))
            else:
                await message.nack(delay=REPLAN_DELAY)
        return
    # Phase 2: the plans, against the rules as they are for this batch (read once, and not
    # at all for a batch of our own outcomes or stale events).
    try:
        rules = await planner.rules.all() if any(recorded) else []
    except Exception as exc:
        for message, event in events:
            await handle(consumer, message, broker, type(event), _raising(exc))
        return

    async def react(lane: list[int]) -> None:
        for i in lane:
            message, event = events[i]
            work = _reacting(planner, bool(recorded[i]), rules)
            await handle(consumer, message, broker, type(event), work)

    await asyncio.gather(*(react(lane) for lane in lanes))


def _lanes(events: list[Event]) -> list[list[int]]:
    """Indices of the events that must stay in stream order, lane by lane: one task's (a
    reschedule cancels what the schedule before it planned) and one aggregate's (its cards
    are written in version order, so the fewest land out of order). Lanes run at once."""
    lanes: dict[str, list[int]] = {}
    for i, event in enumerate(events):
        key = f"task:{event.task_id}" if isinstance(event, TaskEvent) else event.aggregate_id
        lanes.setdefault(key, []).append(i)
    return list(lanes.values())


def _raising(exc: BaseException) -> Callable[[Event], Awaitable[None]]:
    async def work(event: Event) -> None:
        raise exc

    return work


def _reacting(
    planner: Planner, in_force: bool, rules: list[Rule]
) -> Callable[[Event], Awaitable[None]]:
    async def work(event: Event) -> None:
        await planner.react(event, in_force, rules)

    return work
