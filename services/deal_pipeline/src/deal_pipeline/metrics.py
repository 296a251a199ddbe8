"""Every Prometheus metric of the deal pipeline (the shared ones come from crm_contracts)."""

from __future__ import annotations

from prometheus_client import Gauge

RELAY_POSITION = Gauge("crm_relay_position", "Last notification id published by the relay")
RELAY_BACKLOG = Gauge("crm_relay_backlog", "Stored events not yet published")
READ_MODEL_POSITION = Gauge("crm_read_model_position", "Last notification id in the read model")
