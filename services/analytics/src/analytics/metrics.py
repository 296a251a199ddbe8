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
NEWEST_EVENT = Gauge(
    "crm_projection_newest_event_timestamp_seconds",
    "When the newest event projected so far happened (freshness: now minus this)",
)
# The writer election (application/writer_election.py)
WRITER = Gauge(
    "crm_analytics_projection_writer",
    "1 while this replica writes the projection through `consumer` (always, in own mode); "
    "0 while it only serves reports",
    ["consumer"],
)

# A rebuild from the stream (application/rebuild.py)
REBUILD_RUNNING = Gauge("crm_rebuild_running", "1 while a rebuild replays the stream")
REBUILD_POSITION = Gauge("crm_rebuild_position", "Stream sequence the rebuild has replayed to")
REBUILD_TARGET = Gauge("crm_rebuild_target", "Stream sequence the rebuild replays up to")

# Report answers (application/report_cache.py)
REPORT_ANSWERS = Counter(
    "crm_report_answers_total",
    "Report answers by where they came from: computed (miss), kept (hit), another request's "
    "computation (shared), or computed with nothing kept (off)",
    ["outcome"],
)

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
OLDEST_AGE = Gauge(
    "crm_consumer_oldest_unprocessed_age_seconds",
    "Age of the oldest stream message the consumer has not acknowledged (0: none)",
    ["consumer"],
)
REDELIVERED = Gauge(
    "crm_consumer_redelivered",
    "Messages the server is redelivering to the consumer (delivered more than once, unacked)",
    ["consumer"],
)
DLQ_MESSAGES = Gauge("crm_dlq_messages", "Messages parked in the CRM_DLQ stream")
STREAM_MESSAGES = Gauge("crm_stream_messages", "Messages stored in the stream", ["stream"])
STREAM_BYTES = Gauge("crm_stream_bytes", "Bytes stored in the stream", ["stream"])

# Business vitals for dashboards, from the projection, today in the report time zone
# (application/vitals.py)
LEADS_TODAY = Gauge("crm_leads_today", "Leads received today, by channel", ["channel"])
DEALS_WON_TODAY = Gauge("crm_deals_won_today", "Deals won today")
REVENUE_TODAY = Gauge("crm_revenue_today", "Payments received today, in the base currency")

__all__ = [
    "ACK_PENDING",
    "BATCH_SIZE",
    "DEALS_WON_TODAY",
    "DLQ_MESSAGES",
    "EVENTS_CONSUMED",  # shared by every consumer of every service
    "LEADS_TODAY",
    "NEWEST_EVENT",
    "OLDEST_AGE",
    "PENDING",
    "PROJECTION_FAILURES",
    "RATE",
    "REBUILD_POSITION",
    "REDELIVERED",
    "REPORT_ANSWERS",
    "REBUILD_RUNNING",
    "REBUILD_TARGET",
    "REVENUE_TODAY",
    "STREAM_BYTES",
    "STREAM_MESSAGES",
]
