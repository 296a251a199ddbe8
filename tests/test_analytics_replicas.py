"""Analytics replicas as real processes on one nats-server.

Own mode (embedded chDB): each replica is a full read copy through its own durable consumer,
kept across its restarts. Elected mode: one writer at a time, chosen through the NATS KV lease;
when the writer is killed another takes over, and together they project every event once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from services.analytics.tests.live import SteadyPublisher, opened, publish
from tests.support.net import wait_until
from tests.support.services import ServiceProcess

KEY = {"X-API-Key": "replica-key"}
BATCH = 50  # the projection's batch: at most this many are in flight when a writer dies
TAKEOVER = 10.0  # the bound from a kill -9 of the writer to a new writer
STARTUP = 120.0  # two processes loading the engine at once on a busy machine


def replica(nats_url: str, data: Path, name: str, **env: str) -> ServiceProcess:
    return ServiceProcess(
        "analytics",
        {
            "ANALYTICS_NATS_URL": nats_url,
            "ANALYTICS_CHDB_PATH": str(data / f"chdb-{name}"),
            "ANALYTICS_API_KEY": KEY["X-API-Key"],
            "ANALYTICS_OPS_SERVICES": "{}",  # nothing else runs here
            "ANALYTICS_BATCH_SIZE": str(BATCH),
            **env,
        },
        data / f"analytics-{name}.log",
    )


@pytest.fixture
def pair(nats_server, tmp_path: Path, request) -> Iterator[list[ServiceProcess]]:
    """Two replicas; `request.param`: their extra settings."""
    procs = [replica(nats_server.url, tmp_path, name, **request.param) for name in "ab"]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready(timeout=STARTUP)
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def projection(proc: ServiceProcess) -> dict:
    """The replica's projection role, consumer and mode, from /readyz."""
    return httpx.get(f"{proc.url}/readyz", timeout=10).json()["checks"]["projection"]


def sql(proc: ServiceProcess, text: str) -> list[list]:
    response = httpx.post(f"{proc.url}/v1/sql", json={"sql": text}, headers=KEY, timeout=30)
    assert response.status_code == 200, response.text
    assert not response.json()["truncated"]
    return response.json()["rows"]


async def idle_limit(url: str, consumer: str) -> float | None:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().consumer_info("CRM", consumer)).config.inactive_threshold
    finally:
        await nc.close()


def stored(proc: ServiceProcess) -> Counter[str]:
    """How many times each event was inserted into this replica's store (no FINAL: a second
    insert of the same event would show before a merge collapses it)."""
    rows = sql(proc, "SELECT event_id, count() FROM events GROUP BY event_id")
    return Counter({event_id: count for event_id, count in rows})


@pytest.mark.parametrize("pair", [{}], indirect=True)
def test_own_replicas_each_keep_every_event(nats_server, pair):
    a, b = pair
    consumers = {projection(p)["consumer"] for p in pair}
    assert len(consumers) == 2 and all(c.startswith("analytics_projection_") for c in consumers)
    assert {projection(p)["role"] for p in pair} == {"writer"}  # each writes its own copy
    # NATS deletes an abandoned replica's consumer after a week without a pull.
    assert {asyncio.run(idle_limit(nats_server.url, c)) for c in consumers} == {7 * 24 * 3600}

    publish(nats_server.url, [opened(f"own-{i}") for i in range(150)])
    for proc in pair:  # each saw all 150, not a share
        wait_until(lambda p=proc: len(stored(p)) == 150, timeout=45, what="150 events")
        assert sql(proc, "SELECT count() FROM deals FINAL") == [[150]]

    # A restart resumes the same consumer: nothing is replayed, the next events arrive.
    consumer = projection(b)["consumer"]
    b.stop()
    publish(nats_server.url, [opened(f"own-late-{i}") for i in range(30)])
    b.start().wait_ready(timeout=STARTUP)
    assert projection(b)["consumer"] == consumer
    for proc in pair:
        wait_until(lambda p=proc: len(stored(p)) == 180, timeout=45, what="180 events")
        assert set(stored(proc).values()) == {1}  # each inserted once


ELECTED = {
    "ANALYTICS_PROJECTION_WRITER": "elected",
    # A dead writer's unacknowledged batch goes to the next one after this (30 s by default).
    "ANALYTICS_PROJECTION_ACK_WAIT": "5",
}


@pytest.mark.parametrize("pair", [ELECTED], indirect=True)
def test_one_elected_writer_and_a_takeover_after_kill_9(nats_server, pair):
    """Each replica has its own chDB path here, standing in for the one ClickHouse server
    elected replicas share in production (none can run on this machine): what each store
    holds is what that replica wrote, so their union is the shared store's content."""

    def roles() -> dict[str, str]:
        return {p.url: projection(p)["role"] for p in pair}

    wait_until(lambda: "writer" in roles().values(), timeout=20, what="a writer")
    assert sorted(roles().values()) == ["follower", "writer"]
    writer, follower = sorted(pair, key=lambda p: projection(p)["role"], reverse=True)
    assert {projection(p)["consumer"] for p in pair} == {"analytics_projection"}

    with SteadyPublisher(nats_server.url) as publisher:
        wait_until(lambda: len(stored(writer)) >= 2 * BATCH, timeout=45, what="some projected")
        killed_at = time.time()  # just before: the measured takeover is not shorter
        writer.stop(kill=True)
        took_over = wait_until(
            lambda: projection(follower)["writing_since"],
            timeout=30,
            interval=0.2,
            what="the follower to take over",
        )
        # The replica's own clock (the same machine's) says when it started writing.
        assert took_over - killed_at <= TAKEOVER, took_over - killed_at
        wait_until(lambda: publisher.published >= 150 + BATCH, what="more published")
    published = {str(opened(f"live-{i}").event_id) for i in range(publisher.published)}

    writer.start().wait_ready(timeout=STARTUP)  # the killed one comes back, as a follower
    assert (projection(writer)["role"], projection(follower)["role"]) == ("follower", "writer")

    def union() -> set[str]:
        return set(stored(writer)) | set(stored(follower))

    wait_until(lambda: union() >= published, timeout=30, what="every event in one store")
    assert union() == published
    old, new = stored(writer), stored(follower)
    assert set(old.values()) == set(new.values()) == {1}  # no store has an event twice
    # In both stores: at most the batch the killed writer had written but not acknowledged
    # (redelivered to the new writer; on one shared server the two inserts collapse).
    assert len(set(old) & set(new)) <= BATCH
