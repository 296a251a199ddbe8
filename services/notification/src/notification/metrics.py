"""Every Prometheus metric of the notification service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PLANNED = Counter("crm_notifications_planned_total", "Sends planned", ["rule", "when"])
SENT = Counter("crm_notifications_sent_total", "Notifications sent", ["channel", "rule"])
FAILED = Counter("crm_notifications_failed_total", "Notifications failed", ["channel", "rule"])
SKIPPED = Counter(
    "crm_notifications_skipped_total",
    "Sends skipped (channel off, no address)",
    ["channel", "rule"],
)
RETRIED = Counter(
    "crm_notifications_retried_total",
    "Sends that failed for a passing reason and will be tried again",
    ["channel", "rule"],
)
DUPLICATES = Counter("crm_notifications_duplicate_total", "Sends skipped as already done", ["rule"])
LATENCY = Histogram("crm_notification_latency_seconds", "Planned time → sent", ["channel"])
