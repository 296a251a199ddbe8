"""Fixtures shared by every test folder: real nats-server, PostgreSQL and the in-process
ClickHouse engine."""

from __future__ import annotations

import gc
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats import NatsServer

# The suite runs with a non-UTC host time zone, as many servers do: code that silently reads
# or writes local time (e.g. naive query parameters read in the engine's zone) fails here.
os.environ["TZ"] = "Europe/Moscow"
time.tzset()


@pytest.fixture
def collector_on() -> Iterator[None]:
    """The garbage collector on for the test (the pause's tests watch it), as it was after."""
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One chDB engine per test process (chDB allows a single data path per process)."""
    import clickhouse_connect

    path = tmp_path_factory.mktemp("chdb")
    from analytics.adapters.clickhouse import SESSION

    return clickhouse_connect.get_client(interface="chdb", path=str(path), settings=SESSION)


@pytest.fixture(scope="session")
def chdb_reader(chdb_client):  # type: ignore[no-untyped-def]
    """A second handle on the same engine: the reports' connection, as the service has one."""
    import clickhouse_connect

    from analytics.adapters.clickhouse import SESSION

    return clickhouse_connect.get_client(interface="chdb", path=chdb_client.path, settings=SESSION)


@pytest.fixture
def clickhouse(chdb_client, chdb_reader):  # type: ignore[no-untyped-def]
    """A fresh, migrated analytics database for one test, written and read through two
    connections as the service does."""
    from analytics.adapters.clickhouse import ClickHouse
    from analytics.adapters.schema import migrate

    ch = ClickHouse(chdb_client, f"t_{uuid.uuid4().hex[:12]}", reader=chdb_reader)
    migrate(ch)
    yield ch
    ch.command("DROP DATABASE IF EXISTS {db}")


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    from tests.support.smtp import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():  # type: ignore[no-untyped-def]
    """One PostgreSQL server per test process (Debian's package; a clear error if missing)."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()
