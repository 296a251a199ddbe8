"""The event store fixture: every test that takes `store` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from deal_pipeline.application import DealsApp

STORES = ["sqlite", "postgres"]


@pytest.fixture(params=STORES)
def store(request, tmp_path):  # type: ignore[no-untyped-def]
    """The `eventsourcing` variables of a fresh, empty event store."""
    if request.param == "sqlite":
        yield {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "d.db"),
        }
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.env(name)
    server.drop_database(name)


@pytest.fixture
def make_app(store):  # type: ignore[no-untyped-def]
    """More applications on the same store, as other replicas would be."""
    apps: list[DealsApp] = []

    def make(**kwargs) -> DealsApp:  # type: ignore[no-untyped-def]
        app = DealsApp(env=store, **({"managers": ["m1", "m2"]} | kwargs))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def deals(make_app) -> DealsApp:  # type: ignore[no-untyped-def]
    return make_app()
