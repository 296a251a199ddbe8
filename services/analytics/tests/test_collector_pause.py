"""The live projection holds the garbage collector off while it computes a batch, lets it run
again once the batch is stored, and lets it run while a failed batch waits to be retried
(a ClickHouse outage must not keep it off): the retries run with it on. When the pause ends,
the batch's parsed events are gone already, so the collector's first pass does not walk them
(the live projection and a rebuild's batch alike). Real nats-server and engine."""

from __future__ import annotations

import gc
import threading
from typing import Any

import orjson
import pytest

from analytics.application.ingest import Projector
from analytics.application.rebuild import Rebuilder
from crm_contracts.envelope import Event
from crm_contracts.runtime import collector
from services.analytics.tests.live import (
    PROJECTION_WAIT,
    opened,
    publish,
    running_analytics,
    running_service,
)
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


class WatchedCollector:
    """The `gc` module as the pause sees it: each time the pause turns the collector on again,
    how many events of `ids` are still alive (tracked objects the collector would walk)."""

    def __init__(self, ids: set[str]) -> None:
        self.ids = ids
        self.alive_at_enable: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(gc, name)

    def enable(self) -> None:
        alive = sum(
            1 for o in gc.get_objects() if isinstance(o, Event) and str(o.event_id) in self.ids
        )
        self.alive_at_enable.append(alive)
        gc.enable()


def test_a_stored_batch_is_freed_before_the_collector_runs_again(
    nats_server, clickhouse, monkeypatch
):
    deals = [f"gc-free-{n}" for n in range(3)]
    watched = WatchedCollector({str(opened(d).event_id) for d in deals})
    monkeypatch.setattr(collector, "gc", watched)
    with running_service(nats_server.url, clickhouse) as (api, service):
        # Held until the publisher is done, so the only copies of the events are the batch's.
        api.portal.call(service.gate.pause)
        publish(nats_server.url, [opened(d) for d in deals])
        api.portal.call(service.gate.resume)
        wait_until(
            lambda: clickhouse.rows("SELECT count() AS n FROM {db}.deals")[0]["n"] == 3,
            timeout=PROJECTION_WAIT,
            what="the deals projected",
        )
        wait_until(gc.isenabled, timeout=5, what="the collector on after the batch")
    assert watched.alive_at_enable and not any(watched.alive_at_enable)


def test_a_rebuilds_batch_is_freed_before_the_collector_runs_again(monkeypatch):
    events = [opened(f"gc-rebuild-{n}") for n in range(3)]
    watched = WatchedCollector({str(e.event_id) for e in events})
    monkeypatch.setattr(collector, "gc", watched)
    projected: list[int] = []

    class Counting:
        def project(self, parsed: list[Event], data: list[dict[str, Any]]) -> None:
            projected.append(len(parsed))

    bodies = [orjson.dumps(e.model_dump(mode="json")) for e in events]
    del events  # only the batch's own parse remains
    assert Rebuilder._project(Counting(), bodies) == 3  # type: ignore[arg-type]
    assert projected == [3] and watched.alive_at_enable == [0]
