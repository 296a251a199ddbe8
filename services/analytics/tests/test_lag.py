"""Consumer lag and DLQ size in /metrics, read from a real nats-server."""

import asyncio
import re

import nats
from fastapi.testclient import TestClient

from services.analytics.tests.live import (
    PROJECTION_WAIT,
    opened,
    publish,
    running_analytics,
    running_service,
    scalar,
)
from tests.support.net import wait_until

CONSUMER = 'consumer="analytics_projection_lag"'  # this replica's own (ANALYTICS_REPLICA)
OLDEST = "crm_consumer_oldest_unprocessed_age_seconds"


def gauge(api: TestClient, name: str, labels: str = "") -> float | None:
    text = api.get("/metrics").text
    match = re.search(rf"^{name}{{?{re.escape(labels)}}}? ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else None


def backlog(api: TestClient) -> float | None:
    pending = gauge(api, "crm_consumer_pending", CONSUMER)
    ack_pending = gauge(api, "crm_consumer_ack_pending", CONSUMER)
    return None if pending is None or ack_pending is None else pending + ack_pending


def publish_raw(url: str, subject: str, data: bytes) -> None:
    async def go() -> None:
        nc = await nats.connect(url)
        await nc.jetstream().publish(subject, data, stream="CRM")
        await nc.close()

    asyncio.run(go())


def test_the_backlog_shows_while_the_projection_is_held_and_drains_to_zero(nats_server, clickhouse):
    with running_service(nats_server.url, clickhouse, replica="lag", lag_refresh_seconds=0.1) as (
        api,
        service,
    ):
        wait_until(lambda: backlog(api) == 0, timeout=PROJECTION_WAIT, what="lag gauges at 0")
        api.portal.call(service.gate.pause)
        publish(nats_server.url, [opened(f"lag-{i}") for i in range(5)])
        # Held: the 5 events wait in the stream or in the consumer's unacked batch.
        wait_until(lambda: backlog(api) == 5, what="a backlog of 5")
        assert scalar(clickhouse, "SELECT count() FROM {db}.events") == 0
        # how long the oldest of them has waited: grows while the projection is held
        first = wait_until(lambda: gauge(api, OLDEST, CONSUMER), what="an oldest age")
        wait_until(lambda: gauge(api, OLDEST, CONSUMER) > first + 0.3, what="the age growing")
        api.portal.call(service.gate.resume)
        wait_until(lambda: backlog(api) == 0, timeout=PROJECTION_WAIT, what="the backlog drained")
        assert scalar(clickhouse, "SELECT count() FROM {db}.events FINAL") == 5
        assert gauge(api, "crm_consumer_acked_per_second", CONSUMER) is not None
        wait_until(lambda: gauge(api, OLDEST, CONSUMER) == 0, what="nothing waiting any more")


def test_the_dlq_size_counts_parked_messages(nats_server, clickhouse):
    with running_analytics(
        nats_server.url, clickhouse, replica="lag", lag_refresh_seconds=0.1
    ) as api:
        wait_until(lambda: gauge(api, "crm_dlq_messages") == 0, what="an empty DLQ")
        publish_raw(nats_server.url, "crm.leads.received", b"not an event")
        publish_raw(nats_server.url, "crm.deals.opened", b'{"event_type": 1}')
        wait_until(
            lambda: gauge(api, "crm_dlq_messages") == 2,
            timeout=PROJECTION_WAIT,
            what="2 messages in the DLQ",
        )
        wait_until(
            lambda: backlog(api) == 0, timeout=PROJECTION_WAIT, what="the invalid messages acked"
        )
        # the streams' sizes: the two invalid messages are in CRM and, parked, in CRM_DLQ
        assert gauge(api, "crm_stream_messages", 'stream="CRM_DLQ"') == 2
        assert gauge(api, "crm_stream_messages", 'stream="CRM"') == 2
        assert gauge(api, "crm_stream_bytes", 'stream="CRM"') > 0
        assert gauge(api, "crm_consumer_redelivered", CONSUMER) == 0
