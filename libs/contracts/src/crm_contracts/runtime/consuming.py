"""Bookkeeping around a consumer handler: metrics, latency and the correlation id in logs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from crm_contracts.envelope import Event
from crm_contracts.runtime.logs import correlation_id
from crm_contracts.runtime.metrics import EVENTS_CONSUMED, HANDLER_SECONDS


@contextmanager
def consumed(consumer: str, event: Event) -> Iterator[None]:
    token = correlation_id.set(event.correlation_id)
    started = time.perf_counter()
    try:
        yield
    except Exception:
        EVENTS_CONSUMED.labels(consumer, event.event_type, "error").inc()
        raise
    else:
        EVENTS_CONSUMED.labels(consumer, event.event_type, "ok").inc()
    finally:
        HANDLER_SECONDS.labels(consumer).observe(time.perf_counter() - started)
        correlation_id.reset(token)
