"""Reads of the SQLite store on a connection kept by each thread (`sqlite_reads`): each read
sees every save committed before it, from this process or another, fails as the library's
reads fail, and the connections end with the store."""

import threading
from pathlib import Path

import pytest
from eventsourcing.persistence import ConnectionPoolClosedError, OperationalError

from deal_pipeline.adapters.sqlite_reads import ThreadReadsDatastore
from deal_pipeline.main import use_cases


def sqlite(name: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": name}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return sqlite(str(tmp_path / "d.db"))


def test_each_read_sees_every_save_before_it_from_this_process_or_another(env):
    here, there = use_cases(env, managers=["m1"]), use_cases(env, managers=["m1"])
    try:
        assert isinstance(here.store.recorder.datastore, ThreadReadsDatastore)
        deal_id = here.opening.by_hand("Chairs").id
        assert here.deals.get(deal_id).version == 1
        for stage in ("qualified", "proposal", "invoice"):
            there.deals.move_stage(deal_id, stage)
            # the same connection of this thread, read again: a new transaction each time
            assert here.store.repository.get(deal_id).stage == stage
        assert here.store.version(deal_id) == there.store.version(deal_id) == 4
    finally:
        here.close()
        there.close()


def test_a_failed_read_raises_the_librarys_error_and_the_next_read_works(env):
    app = use_cases(env, managers=["m1"])
    try:
        deal_id = app.opening.by_hand("Chairs").id
        with (
            pytest.raises(OperationalError),
            app.store.recorder.datastore.transaction(commit=False) as cursor,
        ):
            cursor.execute("SELECT * FROM nowhere")
        assert app.store.version(deal_id) == 1
    finally:
        app.close()


def test_threads_read_on_their_own_connections_while_saves_go_on(env):
    app = use_cases(env, managers=["m1"])
    datastore = app.store.recorder.datastore
    deal_id = app.opening.by_hand("Chairs").id
    seen: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def read() -> None:
        try:
            versions = seen.setdefault(threading.get_ident(), [])
            for _ in range(200):
                versions.append(app.store.version(deal_id))
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    try:
        for reader in readers:
            reader.start()
        for i in range(20):
            app.deals.move_stage(deal_id, ("qualified", "proposal")[i % 2])
        for reader in readers:
            reader.join()
        assert errors == []
        for versions in seen.values():
            assert versions == sorted(versions) and versions[-1] <= 21
        assert app.store.version(deal_id) == 21
        assert len(datastore._readers) == 4  # the three threads and this one
    finally:
        app.close()
    with pytest.raises(ConnectionPoolClosedError):  # as through the library's closed pool
        app.store.version(deal_id)
    assert datastore._readers == []


def test_a_read_inside_a_read_is_served_by_the_pool(env):
    app = use_cases(env, managers=["m1"])
    try:
        deal_id = app.opening.by_hand("Chairs").id
        with app.store.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT COUNT(*) AS n FROM stored_events")
            assert app.store.version(deal_id) == 1
            assert cursor.fetchone()["n"] >= 1
    finally:
        app.close()


def test_an_in_memory_store_is_read_through_the_pool():
    """Its connections share one cache, where the library keeps reads and writes apart (a
    read beside a write fails there, locked, rather than waiting): only the pool reads."""
    app = use_cases(sqlite("file:reads?mode=memory&cache=shared"), managers=["m1"])
    try:
        deal_id = app.opening.by_hand("Chairs").id
        assert app.deals.move_stage(deal_id, "proposal").version == 2
        assert app.store.version(deal_id) == 2
        assert app.store.recorder.datastore._readers == []
    finally:
        app.close()
