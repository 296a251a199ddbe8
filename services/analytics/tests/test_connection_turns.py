"""Each of the service's two connections takes one call at a time, whatever the threads: a
ClickHouse server refuses a second query in a session that is still running one. The stand-in
connections below refuse an overlap the same way (the embedded engine's handles take one call
at a time themselves, so they could not show it)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.sql_readonly import Analyst


class OneSession:
    """A session of a server: a call while another runs is refused."""

    def __init__(self) -> None:
        self._count = threading.Lock()
        self.running = 0
        self.calls = 0

    def _call(self) -> Any:
        with self._count:
            self.running += 1
            self.calls += 1
            overlapping = self.running > 1
        try:
            if overlapping:
                raise RuntimeError("Session is locked by a concurrent client")
            time.sleep(0.01)  # long enough for the other threads to try
            return SimpleNamespace(column_names=["x"], result_rows=[(1,)], result_columns=[[1]])
        finally:
            with self._count:
                self.running -= 1

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self._call()

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return self._call()

    def raw_insert(self, *args: Any, **kwargs: Any) -> Any:
        return self._call()


def hammer(*calls: Any, times: int = 20) -> None:
    with ThreadPoolExecutor(max_workers=len(calls) * 2) as pool:
        futures = [pool.submit(call) for _ in range(times) for call in calls for _ in range(2)]
        for future in futures:
            future.result(30)


def test_reports_on_the_readers_connection_take_turns() -> None:
    writer, reader = OneSession(), OneSession()
    ch = ClickHouse(writer, "crm", reader=reader)  # type: ignore[arg-type]
    hammer(lambda: ch.rows("SELECT 1"), lambda: ch.columns(SimpleNamespace(text="x", params={}), 1))
    assert reader.calls == 80 and writer.calls == 0


def test_the_projections_look_ups_and_inserts_take_turns_on_the_writers_connection() -> None:
    writer, reader = OneSession(), OneSession()
    store = ClickHouse(writer, "crm", reader=reader).for_writer()  # type: ignore[arg-type]
    hammer(
        lambda: store.rows("SELECT 1"),
        lambda: store.insert_json("t", b"[]", ["x"]),
        lambda: store.command("OPTIMIZE TABLE t"),
    )
    assert writer.calls == 120 and reader.calls == 0


def test_the_two_connections_run_at_once() -> None:
    """One report held in the middle of its call on the readers' connection; an INSERT on
    the writer's still goes through."""
    inside, release = threading.Event(), threading.Event()

    class Held(OneSession):
        def query(self, *args: Any, **kwargs: Any) -> Any:
            inside.set()
            assert release.wait(10)
            return super().query()

    writer, reader = OneSession(), Held()
    ch = ClickHouse(writer, "crm", reader=reader)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=1) as pool:
        report = pool.submit(ch.rows, "SELECT 1")
        assert inside.wait(10)
        ch.insert_json("t", b"[]", ["x"])
        assert writer.calls == 1 and not report.done()
        release.set()
        assert report.result(10) == [{"x": 1}]


def test_analysts_queries_take_turns_on_their_connection() -> None:
    session = OneSession()
    ch = ClickHouse(OneSession(), "crm")  # type: ignore[arg-type]
    analyst = Analyst(session, ch, max_rows=10)  # type: ignore[arg-type]
    hammer(lambda: analyst.query("SELECT 1", {}))
    assert session.calls == 40
