import pytest

from deal_pipeline.application import DealsApp


def sqlite_env(path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "deals.sqlite"


@pytest.fixture
def deals(store_path):
    app = DealsApp(env=sqlite_env(store_path), managers=["m1", "m2"])
    yield app
    app.close()
