"""The live projection holds the garbage collector off while it computes a batch, lets it run
again once the batch is stored, and lets it run while a failed batch waits to be retried
(a ClickHouse outage must not keep it off): the retries run with it on. Real nats-server and
engine."""

from __future__ import annotations

import gc
import threading

import pytest

from analytics.application.ingest import Projector
from services.analytics.tests.live import PROJECTION_WAIT, opened, publish, running_analytics
from tests.support.net import wait_until

pytestmark = pytest.mark.usefixtures("collector_on")


def test_the_collector_is_off_while_a_batch_is_projected_and_on_again_after(
    nats_server, clickhouse, monkeypatch
):
    seen: list[bool] = []
    fail_first = threading.Event()
    fail_first.set()
    failed = threading.Event()
    retried = threading.Event()
    project = Projector.project

    def watched(self, events, data):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        if fail_first.is_set():
            fail_first.clear()
            failed.set()
            raise RuntimeError("ClickHouse is down")
        retried.set()
        return project(self, events, data)

    monkeypatch.setattr(Projector, "project", watched)
    with running_analytics(nats_server.url, clickhouse):
        publish(nats_server.url, [opened("gc-1")])
        assert failed.wait(PROJECTION_WAIT)
        # Waiting for the retry (a second's backoff): the collector runs meanwhile.
        wait_until(lambda: gc.isenabled() or retried.is_set(), timeout=5, what="collector on")
        assert not retried.is_set() and gc.isenabled()
        assert retried.wait(PROJECTION_WAIT)
        wait_until(
            lambda: clickhouse.rows("SELECT count() AS n FROM {db}.deals")[0]["n"] == 1,
            timeout=PROJECTION_WAIT,
            what="the deal projected",
        )
        publish(nats_server.url, [opened("gc-2"), opened("gc-3")])
        wait_until(
            lambda: clickhouse.rows("SELECT count() AS n FROM {db}.deals")[0]["n"] == 3,
            timeout=PROJECTION_WAIT,
            what="the later deals projected",
        )
        wait_until(gc.isenabled, timeout=5, what="the collector on after the batch")
    # Off for the first attempt; a retry runs with it on (the pause ended at the failure);
    # off again for the later batch (or batches).
    assert seen[:2] == [False, True] and len(seen) >= 3 and not any(seen[2:])
