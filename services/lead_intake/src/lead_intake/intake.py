"""The use case: a valid lead becomes exactly one LeadReceived on the bus, or a spool row that
the drainer publishes later. Requests publish concurrently: nothing here serialises them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from faststream.nats import NatsBroker

from crm_contracts.envelope import utcnow
from crm_contracts.events import LeadReceived
from crm_contracts.runtime.bus import bus_connected, publish_event
from crm_contracts.runtime.logs import correlation_id
from lead_intake.adapters.idempotency import IdempotencyStore
from lead_intake.adapters.spool import Spool
from lead_intake.domain import LeadIn, build_lead_received, lead_id_for
from lead_intake.metrics import ACCEPTED, PUBLISHING, SPOOLED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    lead_id: str
    status: str  # "accepted" (on the stream) or "queued" (in the spool)
    duplicate: bool = False


@dataclass
class Intake:
    broker: NatsBroker
    spool: Spool
    idempotency: IdempotencyStore
    phone_region: str
    publish_timeout: float

    async def accept(
        self, lead: LeadIn, idempotency_key: str | None, referer: str | None
    ) -> Outcome:
        """Raises FieldError for a lead that cannot be accepted (nothing is published)."""
        key = idempotency_key or lead.submission_id
        scoped_key = f"{lead.form_id}/{key}" if key else None
        lead_id = lead_id_for(lead.form_id, key)
        correlation_id.set(str(lead_id))
        event = build_lead_received(lead, lead_id, utcnow(), self.phone_region, referer)
        if scoped_key and (seen := await self.idempotency.seen(scoped_key)):
            ACCEPTED.labels("duplicate").inc()
            return Outcome(seen.lead_id, "accepted", duplicate=True)
        status = await self.deliver(event, scoped_key)
        ACCEPTED.labels(status).inc()
        log.info("lead %s", status, extra={"lead_id": event.lead_id, "form_id": lead.form_id})
        return Outcome(event.lead_id, status)

    async def deliver(self, event: LeadReceived, key: str | None) -> str:
        # Not connected: spool at once rather than make the visitor wait for the timeout.
        if bus_connected(self.broker):
            try:
                with PUBLISHING.track_inprogress():
                    await publish_event(self.broker, event, timeout=self.publish_timeout)
            except Exception as exc:
                log.warning("no JetStream ack, spooling the lead: %r", exc)
            else:
                if key:
                    await self.idempotency.remember(key, event.lead_id)
                return "accepted"
        await self.spool.add(event.lead_id, key, event.model_dump_json())
        SPOOLED.inc()
        return "queued"
