"""Every Prometheus metric of the analytics service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from crm_contracts.runtime.metrics import EVENTS_CONSUMED

# The projection (handlers.py)
BATCH_SIZE = Histogram(
    "crm_projection_batch_size",
    "Events per projection batch",
    buckets=(1, 10, 100, 500, 1000, 5000),
)
PROJECTION_FAILURES = Counter("crm_projection_failures_total", "Batches ClickHouse refused")

# Consumer lag and DLQ size, refreshed from JetStream (application/lag.py)
PENDING = Gauge(
    "crm_consumer_pending", "Stream messages not yet delivered to the consumer", ["consumer"]
)
ACK_PENDING = Gauge(
    "crm_consumer_ack_pending", "Messages delivered but not yet acknowledged", ["consumer"]
)
RATE = Gauge(
    "crm_consumer_acked_per_second",
    "Stream messages acknowledged per second over the last refresh",
    ["consumer"],
)
DLQ_MESSAGES = Gauge("crm_dlq_messages", "Messages parked in the CRM_DLQ stream")

__all__ = [
    "ACK_PENDING",
    "BATCH_SIZE",
    "DLQ_MESSAGES",
    "EVENTS_CONSUMED",  # shared by every consumer of every service
    "PENDING",
    "PROJECTION_FAILURES",
    "RATE",
]
