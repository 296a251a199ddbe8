"""The SQLite store's connections keep their compiled statements (`sqlite_statements`): the
library's own pool opened them with a cache of one statement."""

import sqlite3
from pathlib import Path

import pytest

from deal_pipeline.adapters import sqlite_statements
from deal_pipeline.adapters.read_model import ReadModel
from deal_pipeline.main import use_cases


def test_saves_reads_and_the_read_model_run_on_connections_that_keep_statements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    made: list[sqlite3.Connection] = []
    ours = sqlite_statements.connect

    def connect(db_name: str, lock_timeout: int | None) -> sqlite3.Connection:
        made.append(ours(db_name, lock_timeout))
        return made[-1]

    monkeypatch.setattr("deal_pipeline.adapters.sqlite_statements.connect", connect)
    monkeypatch.setattr("deal_pipeline.adapters.sqlite_reads.connect", connect)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "d.db")}
    crm = use_cases(env, managers=["m1"])
    try:
        read_model = ReadModel(crm.store)
        deal_id = crm.opening.from_lead("lead-1", "Ann (api)", phone="+79130000001")
        crm.deals.move_stage(deal_id, "proposal")
        assert read_model.catch_up() > 0
        pool = crm.store.recorder.datastore.pool
        in_pool = [connection._sqlite_conn for connection in pool._pool]
        assert in_pool and all(connection in made for connection in in_pool)
        journal = sqlite3.connect(env["SQLITE_DBNAME"]).execute("PRAGMA journal_mode")
        assert journal.fetchone()[0] == "wal"  # as the library's first connection set it
    finally:
        crm.close()
