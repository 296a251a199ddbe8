"""A valid lead becomes exactly one LeadReceived on the bus, or a spool row that the drainer
publishes later. Requests publish concurrently: nothing here serialises them."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from crm_contracts.envelope import utcnow
from crm_contracts.events import LeadReceived
from crm_contracts.runtime.logs import correlation_id
from lead_intake.application.ports import LeadSpool, Publisher, SubmissionKeys
from lead_intake.domain import LeadIn, build_lead_received, lead_id_for
from lead_intake.metrics import ACCEPTED, PUBLISHING, SPOOLED

log = logging.getLogger(__name__)
COUNTED = {status: ACCEPTED.labels(status) for status in ("accepted", "queued", "duplicate")}


@dataclass(frozen=True)
class Outcome:
    lead_id: str
    status: str  # "accepted" (on the stream) or "queued" (in the spool)
    duplicate: bool = False


@dataclass
class SubmitLead:
    publisher: Publisher
    spool: LeadSpool
    keys: SubmissionKeys
    phone_region: str
    publish_timeout: float
    crash_after_publish: bool = False  # tests only: die as kill -9 would, after the ack

    async def accept(
        self, lead: LeadIn, idempotency_key: str | None, referer: str | None
    ) -> Outcome:
        """Raises Invalid for a lead that cannot be accepted (nothing is published)."""
        key = idempotency_key or lead.submission_id
        scoped_key = f"{lead.form_id}/{key}" if key else None
        lead_id = lead_id_for(lead.form_id, key)
        correlation_id.set(str(lead_id))
        event = build_lead_received(lead, lead_id, utcnow(), self.phone_region, referer)
        if scoped_key and (seen := await self.keys.seen(scoped_key)):
            COUNTED["duplicate"].inc()
            return Outcome(seen.lead_id, "accepted", duplicate=True)
        outcome = await self.deliver(event, scoped_key)
        COUNTED["duplicate" if outcome.duplicate else outcome.status].inc()
        # A line per published lead costs as much as validating it; the access log has each
        # request with the lead id as its correlation id. A spooled lead is worth a line.
        level = logging.INFO if outcome.status == "queued" else logging.DEBUG
        if log.isEnabledFor(level):
            extra = {"lead_id": event.lead_id, "form_id": lead.form_id}
            log.log(level, "lead %s", outcome.status, extra=extra)
        return outcome

    async def deliver(self, event: LeadReceived, key: str | None) -> Outcome:
        """The key is stored after the ack; a crash in between is safe because the lead id is
        derived from the key: the retry publishes the same Nats-Msg-Id, which the stream drops
        (a repeat, told to the caller as such)."""
        # Not connected: spool at once rather than make the visitor wait for the timeout.
        if self.publisher.connected():
            try:
                with PUBLISHING.track_inprogress():
                    duplicate = await self.publisher.publish(event, self.publish_timeout)
            except Exception as exc:
                log.warning("no JetStream ack, spooling the lead: %r", exc)
            else:
                if self.crash_after_publish:
                    os._exit(137)  # between the ack and storing the key
                if key:
                    await self.keys.remember(key, event.lead_id)
                return Outcome(event.lead_id, "accepted", duplicate=duplicate)
        await self.spool.add(event.lead_id, key, event.model_dump_json())
        SPOOLED.inc()
        return Outcome(event.lead_id, "queued")
