"""Bus consumers: every CRM event (directory + planning) and every due reminder (sending); and
what the service publishes, declared for the AsyncAPI catalogue (the adapters send through
`publish_event` and `Reminders`)."""

from __future__ import annotations

import logging

from faststream.nats import JStream, NatsBroker, NatsRouter
from faststream.nats.annotations import NatsMessage

from crm_contracts import subjects
from crm_contracts.events import BY_SUBJECT, NotificationFailed, NotificationSent
from crm_contracts.runtime.consuming import declare_dead_letters, handle, work_queue
from crm_contracts.streams import CRM_REMINDERS
from notification.adapters.reminders import DUE, SCHEDULE
from notification.application.plan_notifications import Planner
from notification.application.send_due_notification import Deliverer, RetryLater
from notification.domain.due import Due

log = logging.getLogger(__name__)
SERVICE = "notification"
EVENTS_CONSUMER = "notification_events"
DUE_CONSUMER = "notification_due"
DELIVERY = "notification_delivery"  # parks a send that ended failed (adapters/outcomes.py)


def build_router(
    broker: NatsBroker, planner: Planner, deliverer: Deliverer, due_ack_wait: float = 30.0
) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        subjects.ALL,
        # One at a time, in stream order: FastStream runs a fetched batch concurrently, and a
        # client card must be on file before the deal that names it is handled.
        **work_queue(EVENTS_CONSUMER, ack_wait=60, batch_size=1),
        title="notification.events",
        description="Feeds the directory and plans the sends of the rules an event matches.",
    )
    async def on_event(message: NatsMessage) -> None:
        model = BY_SUBJECT.get(message.raw_message.subject)
        if model is None:  # an event type this version does not know: nothing to do
            await message.ack()
            return
        await handle(EVENTS_CONSUMER, message, broker, model, planner.on_event)

    @router.subscriber(
        f"{DUE}.>",
        # One try per delivery; a retry is a redelivery (nak with delay), so the ack wait
        # covers one try, renewed by "in progress" while a slow one lasts. Our own count of
        # tries ends every send, so the server never drops a reminder on its own.
        **(
            work_queue(DUE_CONSUMER, ack_wait=due_ack_wait, max_deliver=-1)
            | {"stream": JStream(CRM_REMINDERS, declare=False)}
        ),
        title="notification.due",
        description="Sends what a rule planned, once its time (a JetStream schedule) has come.",
    )
    async def on_due(message: NatsMessage) -> None:
        # When the schedule fired (stored), not when we got to it: a digest that waited for a
        # restart past midnight still covers the right day.
        fired_at = message.raw_message.metadata.timestamp

        async def work(due: Due) -> None:
            try:
                await deliverer.on_due(due, fired_at, message.in_progress)
            except RetryLater as later:  # settled here; `handle` then leaves it alone
                await message.nack(delay=later.delay)

        await handle(DUE_CONSUMER, message, broker, Due, work)

    declare_publishers(router)
    return router


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
