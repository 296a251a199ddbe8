"""The analytics app on a real nats-server and the real engine, and a publisher of events."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from analytics.adapters.clickhouse import ClickHouse
from analytics.main import Service, build_service
from analytics.settings import AnalyticsSettings
from crm_contracts.envelope import derived_id
from crm_contracts.events import DealOpened
from crm_contracts.runtime.bus import make_broker, publish_event
from tests.support.net import wait_until

API_KEY = "ops-key"
# How long to wait for the projection: beyond ack_wait (30 s), because FastStream 0.7.8 lets a
# bare asyncio.TimeoutError from nats-py 2.16's fetch kill its pull task now and then; the
# restarted task sees the messages a lost pull request took only once they are redelivered.
PROJECTION_WAIT = 45.0
KEY = {"X-API-Key": API_KEY}


@contextmanager
def running_service(
    nats_url: str, clickhouse: ClickHouse, **settings: Any
) -> Iterator[tuple[TestClient, Service]]:
    """The app served, and its wiring (to hold the projection's gate)."""
    service = build_service(
        AnalyticsSettings(nats_url=nats_url, api_key=API_KEY, **settings), clickhouse
    )
    with TestClient(service.app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="analytics ready")
        yield client, service


@contextmanager
def running_analytics(
    nats_url: str, clickhouse: ClickHouse, **settings: Any
) -> Iterator[TestClient]:
    with running_service(nats_url, clickhouse, **settings) as (client, _):
        yield client


def publish(nats_url: str, events: list) -> None:
    async def go() -> None:
        broker = make_broker(nats_url, "test-publisher")
        await broker.connect()
        for event in events:
            await publish_event(broker, event)
        await broker.stop()

    asyncio.run(go())


def opened(deal_id: str, amount: str = "10.00", at: datetime | None = None) -> DealOpened:
    return DealOpened(
        event_id=derived_id("event", deal_id, 1),
        occurred_at=at or datetime(2026, 3, 5, 12, tzinfo=UTC),
        aggregate_id=deal_id,
        aggregate_version=1,
        correlation_id=f"lead-{deal_id}",
        producer="test",
        deal_id=deal_id,
        lead_id=f"lead-{deal_id}",
        pipeline_id="default",
        stage="new",
        title=deal_id,
        manager_id="m1",
        amount=Decimal(amount),
    )


class SteadyPublisher:
    """Opens deals `live-0`, `live-1`, … one every `every` seconds until stopped."""

    def __init__(self, nats_url: str, every: float = 0.03) -> None:
        self.nats_url, self.every = nats_url, every
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> SteadyPublisher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=20)

    async def _run(self) -> None:
        broker = make_broker(self.nats_url, "test-steady")
        await broker.connect()
        while not self._stop.is_set():
            await publish_event(broker, opened(f"live-{self.published}"))
            self.published += 1
            await asyncio.sleep(self.every)
        await broker.stop()


def scalar(clickhouse: ClickHouse, sql: str) -> Any:
    return next(iter(clickhouse.rows(sql)[0].values()))
