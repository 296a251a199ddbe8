"""Intake's own Prometheus metrics (publish latency is the shared `crm_publish_seconds`)."""

from prometheus_client import Counter, Gauge

from crm_contracts.runtime.errors import ServiceError

RECEIVED = Counter("crm_intake_received_total", "Lead submissions received", ["endpoint"])
ACCEPTED = Counter(
    "crm_intake_accepted_total",
    "Leads answered with success: published, queued (spooled) or a repeat (duplicate)",
    ["status"],
)
REJECTED = Counter("crm_intake_rejected_total", "Submissions refused with a 4xx", ["reason"])
SPAM_DROPPED = Counter(
    "crm_intake_spam_dropped_total", "Bot submissions answered with success and dropped", ["reason"]
)
SPOOLED = Counter("crm_intake_spooled_total", "Leads written to the spool (JetStream did not ack)")
DRAINED = Counter("crm_intake_drained_total", "Spooled leads published once NATS was back")
SPOOL_DEPTH = Gauge("crm_intake_spool_depth", "Leads waiting in the spool")
PUBLISHING = Gauge(
    "crm_intake_publishes_in_flight", "Leads sent to JetStream and waiting for the ack"
)

# REJECTED counts refused submissions (form, origin, rate, body, key, media type, size) and every
# 422; API-key refusals, unknown routes and the operator API's 404/503 refuse no submission.
COUNTED_REFUSALS = frozenset(
    {
        "validation_failed",
        "form_not_found",
        "origin_not_allowed",
        "rate_limited",
        "malformed_body",
        "wrong_form_key",
        "unsupported_media_type",
        "payload_too_large",
    }
)


def count_refusal(refusal: ServiceError) -> None:
    if refusal.error in COUNTED_REFUSALS:
        REJECTED.labels(refusal.error).inc()
