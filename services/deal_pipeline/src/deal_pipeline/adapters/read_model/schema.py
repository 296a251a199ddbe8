"""The read model's own tables, beside the event store's. Times are microseconds since the
epoch and amounts whole minor units (BIGINT), so both databases sort them the same way."""

from __future__ import annotations

import time

from eventsourcing.persistence import PersistenceError

from deal_pipeline.adapters.read_model.sql import Database

POSITION_NAME = "deal_pipeline_read_model"
TABLES = ("dp_rm_deals", "dp_rm_clients", "dp_rm_contacts", "dp_rm_pipelines")

STATEMENTS = (
    # The last notification applied: written in the same transaction as the rows it produced.
    "CREATE TABLE IF NOT EXISTS dp_rm_position ("
    " name TEXT PRIMARY KEY, notification_id BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dp_rm_deals ("
    " id TEXT PRIMARY KEY, lead_id TEXT, client_id TEXT, pipeline_id TEXT NOT NULL,"
    " stage TEXT NOT NULL, status TEXT NOT NULL, manager_id TEXT, title TEXT NOT NULL,"
    " title_folded TEXT NOT NULL, amount TEXT NOT NULL, amount_minor BIGINT NOT NULL,"
    " currency TEXT NOT NULL, paid_total TEXT NOT NULL, opened_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL, version INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS dp_rm_deals_manager ON dp_rm_deals (manager_id, status, opened_at)",
    "CREATE INDEX IF NOT EXISTS dp_rm_deals_pipeline ON dp_rm_deals (pipeline_id, stage)",
    "CREATE INDEX IF NOT EXISTS dp_rm_deals_client ON dp_rm_deals (client_id)",
    "CREATE INDEX IF NOT EXISTS dp_rm_deals_opened ON dp_rm_deals (opened_at, id)",
    "CREATE INDEX IF NOT EXISTS dp_rm_deals_updated ON dp_rm_deals (updated_at, id)",
    "CREATE INDEX IF NOT EXISTS dp_rm_deals_amount ON dp_rm_deals (amount_minor, id)",
    "CREATE TABLE IF NOT EXISTS dp_rm_clients ("
    " id TEXT PRIMARY KEY, name TEXT, name_folded TEXT NOT NULL, phones TEXT NOT NULL,"
    " emails TEXT NOT NULL, updated_at BIGINT NOT NULL, version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dp_rm_contacts ("
    " kind TEXT NOT NULL, value TEXT NOT NULL, client_id TEXT NOT NULL,"
    " PRIMARY KEY (kind, value, client_id))",
    "CREATE INDEX IF NOT EXISTS dp_rm_contacts_client ON dp_rm_contacts (client_id)",
    "CREATE TABLE IF NOT EXISTS dp_rm_pipelines ("
    " pipeline_id TEXT PRIMARY KEY, definition TEXT NOT NULL, version INTEGER NOT NULL)",
)
ATTEMPTS = 5


def create_tables(db: Database) -> None:
    # Replicas starting together on a fresh PostgreSQL race on CREATE ... IF NOT EXISTS:
    # try again, the second time the tables exist.
    for attempt in range(ATTEMPTS):
        try:
            with db.transaction(commit=True) as tx:
                for statement in STATEMENTS:
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO dp_rm_position (name, notification_id) VALUES (?, 0)"
                    " ON CONFLICT (name) DO NOTHING",
                    (POSITION_NAME,),
                )
            return
        except PersistenceError:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
