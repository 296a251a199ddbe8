"""Prometheus metrics shared by name across services (each process has its own registry)."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram("crm_http_request_seconds", "HTTP request latency", ["method", "route"])
EVENTS_PUBLISHED = Counter(
    "crm_events_published_total", "Events acknowledged by JetStream", ["subject", "result"]
)
PUBLISH_SECONDS = Histogram(
    "crm_publish_seconds", "Time from publish to JetStream ack", ["subject"]
)
EVENTS_CONSUMED = Counter(
    "crm_events_consumed_total",
    "Events handled by consumers",
    ["consumer", "event_type", "outcome"],
)
HANDLER_SECONDS = Histogram("crm_handler_seconds", "Consumer handler latency", ["consumer"])
