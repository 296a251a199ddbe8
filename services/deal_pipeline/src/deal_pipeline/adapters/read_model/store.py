"""Follows the event store's notification log into the read model's tables. The position is
written in the same transaction as the rows, so a crash leaves both as they were and the next
catch-up (at start, on a save, on a poll, before each list) continues from there. Replicas
share the tables: the position row is locked first, so that they take turns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification

from deal_pipeline.adapters.event_store import EventStore
from deal_pipeline.adapters.read_model import projection, queries
from deal_pipeline.adapters.read_model.schema import POSITION_NAME, TABLES, create_tables
from deal_pipeline.adapters.read_model.sql import Database, Row, Tx
from deal_pipeline.domain.listing import After, DealQuery
from deal_pipeline.domain.search import ClientTerms


class ReadModel:
    def __init__(self, store: EventStore, batch: int = 500) -> None:
        self.store = store
        self.batch = batch
        self.db = Database(store.recorder)
        create_tables(self.db)

    # -- following the log -------------------------------------------------------------------

    def position(self) -> int:
        with self.db.transaction(commit=False) as tx:
            return self._position(tx)

    def catch_up(self) -> int:
        """Apply every stored event not applied yet; returns how many were applied."""
        applied = 0
        while True:
            count, more = self.catch_up_step()
            applied += count
            if not more:
                return applied

    def catch_up_step(self, limit: int | None = None) -> tuple[int, bool]:
        """Apply the next stored events, at most `limit` (else the batch size): (how many were
        applied, whether more may follow). For callers that must not hold their thread for
        long."""
        limit = limit or self.batch
        seen = self.position()
        notifications = self._after(seen, limit)
        if not notifications:
            return 0, False
        applied = 0
        with self.db.transaction(commit=True) as tx:
            current = self._lock(tx)
            if current >= seen:  # below: a rebuild started over meanwhile; read again
                applied = self._apply(tx, [n for n in notifications if n.id > current])
        return applied, len(notifications) >= limit

    def rebuild(self) -> int:
        """Empty the tables and apply the whole log again, in one transaction: readers see
        the old rows until the new ones are complete. Returns the position reached."""
        with self.db.transaction(commit=True) as tx:
            self._lock(tx)
            for table in TABLES:
                tx.execute(f"DELETE FROM {table}")  # names from this code only
            position = 0
            while notifications := self._after(position):
                self._apply(tx, notifications)
                position = notifications[-1].id
            self._move(tx, position)
        return position

    def _after(self, position: int, limit: int | None = None) -> Sequence[Notification]:
        return self.store.recorder.select_notifications(
            position, limit or self.batch, inclusive_of_start=False
        )

    def _apply(self, tx: Tx, notifications: Sequence[Notification]) -> int:
        for notification in notifications:
            if projection.has_rows(notification.topic):
                projection.apply(tx, self.store.domain_event(notification))
        if notifications:
            self._move(tx, notifications[-1].id)
        return len(notifications)

    @staticmethod
    def _position(tx: Tx) -> int:
        rows = tx.execute(
            "SELECT notification_id FROM dp_rm_position WHERE name = ?", (POSITION_NAME,)
        )
        return int(rows[0]["notification_id"])

    def _lock(self, tx: Tx) -> int:
        # A write first: PostgreSQL locks the row, SQLite takes its write lock before reading.
        tx.execute(
            "UPDATE dp_rm_position SET notification_id = notification_id WHERE name = ?",
            (POSITION_NAME,),
        )
        return self._position(tx)

    @staticmethod
    def _move(tx: Tx, position: int) -> None:
        tx.execute(
            "UPDATE dp_rm_position SET notification_id = ? WHERE name = ?",
            (position, POSITION_NAME),
        )

    # -- reads -------------------------------------------------------------------------------

    def deals(self, query: DealQuery) -> tuple[list[Row], After | None]:
        with self.db.transaction(commit=False) as tx:
            return queries.deals(tx, query)

    def clients(
        self, terms: ClientTerms | None, after: After | None, limit: int
    ) -> tuple[list[Row], After | None]:
        with self.db.transaction(commit=False) as tx:
            return queries.clients(tx, terms, after, limit)

    def pipelines(self) -> list[dict[str, Any]]:
        with self.db.transaction(commit=False) as tx:
            return queries.pipelines(tx)
