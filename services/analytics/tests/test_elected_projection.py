"""An elected replica projects only while it holds the writer lease: taken away, it stops
consuming and refuses a rebuild; given back, it resumes where the shared consumer stands."""

from __future__ import annotations

import asyncio
import json
import re
import threading

import nats
from fastapi.testclient import TestClient

from analytics.adapters.writer_lease import BUCKET, KEY
from analytics.handlers import PROJECTION_CONSUMER
from services.analytics.tests.live import KEY as API_KEY
from services.analytics.tests.live import PROJECTION_WAIT, opened, publish, running_service, scalar
from tests.support.net import wait_until

TTL = 3.0


# A newer version of a deal's row as a release before the summary of stays wrote it.
OLD_WRITER_ROW = """INSERT INTO {db}.deals SELECT * REPLACE (version + 1 AS version,
    [] AS stages_entered, [] AS closed_stay_versions, [] AS closed_stay_stages,
    [] AS closed_stay_entered_at, [] AS closed_stay_left_at)
    FROM {db}.deals FINAL WHERE deal_id = 'first-0'"""


def role(api: TestClient) -> str:
    return api.get("/readyz").json()["checks"]["projection"]["role"]


def writer_gauge(api: TestClient) -> float | None:
    text = api.get("/metrics").text
    line = rf'^crm_analytics_projection_writer{{consumer="{PROJECTION_CONSUMER}"}} ([0-9.]+)$'
    match = re.search(line, text, re.M)
    return float(match.group(1)) if match else None


class Intruder:
    """Another holder that takes the lease over (overwrites it, bumping its revision) and keeps
    it while inside the `with`; deletes it on leaving."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._stop = threading.Event()
        self._held = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)

    def __enter__(self) -> Intruder:
        self._thread.start()
        assert self._held.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    async def _hold(self) -> None:
        nc = await nats.connect(self.url)
        try:
            kv = await nc.jetstream().key_value(BUCKET)
            while not self._stop.is_set():
                await kv.put(KEY, json.dumps({"holder": "intruder"}).encode())
                self._held.set()
                await asyncio.sleep(TTL / 6)
            await kv.delete(KEY)
        finally:
            await nc.close()


def shared_consumer(url: str) -> tuple[int, int]:
    """Messages the shared consumer has not delivered, and delivered but not acked."""

    async def go() -> tuple[int, int]:
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().consumer_info("CRM", PROJECTION_CONSUMER)
            return info.num_pending or 0, info.num_ack_pending or 0
        finally:
            await nc.close()

    return asyncio.run(go())


def test_the_writer_stops_when_its_lease_is_taken_and_resumes_when_it_is_back(
    nats_server, clickhouse
):
    settings = {"projection_writer": "elected", "writer_lease_seconds": TTL}
    with running_service(nats_server.url, clickhouse, **settings) as (api, _):
        wait_until(lambda: role(api) == "writer", what="elected")
        assert writer_gauge(api) == 1
        publish(nats_server.url, [opened(f"first-{i}") for i in range(5)])
        count = "SELECT count() FROM {db}.events"
        wait_until(lambda: scalar(clickhouse, count) == 5, timeout=PROJECTION_WAIT, what="5")

        with Intruder(nats_server.url):  # its next renewal finds another revision
            wait_until(lambda: role(api) == "follower", what="deposed")
            assert writer_gauge(api) == 0
            # Meanwhile an older release, writing, stores a deal again without its summary.
            clickhouse.command(OLD_WRITER_ROW)
            rebuild = api.post("/v1/admin/rebuild", headers=API_KEY)
            assert rebuild.status_code == 409, rebuild.text
            publish(nats_server.url, [opened(f"second-{i}") for i in range(5)])
            # Nobody fetches them: all 5 wait in the stream, none delivered.
            wait_until(lambda: shared_consumer(nats_server.url) == (5, 0), what="5 pending")
            assert scalar(clickhouse, count) == 5
        # The lease deleted: it takes it again and resumes where the consumer stands.
        wait_until(lambda: role(api) == "writer", what="elected again")
        wait_until(lambda: scalar(clickhouse, count) == 10, timeout=PROJECTION_WAIT, what="10")
        deals = "SELECT count() FROM {db}.deals FINAL"  # written after the batch's events
        wait_until(lambda: scalar(clickhouse, deals) == 10, timeout=PROJECTION_WAIT, what="deals")
        # Once elected again it gives that deal its summary back.
        summary = "SELECT stages_entered FROM {db}.deals FINAL WHERE deal_id = 'first-0'"
        wait_until(lambda: scalar(clickhouse, summary) == ["new"], what="summary filled")
