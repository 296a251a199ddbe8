"""Leads accepted while JetStream did not ack, kept in SQLite until the drainer publishes them.

A row is written (and fsynced) before the client hears 202, and deleted only after JetStream
acked it, so a kill -9 at any point leaves the lead either on the stream or in the spool (or,
briefly, both; the stream's Nats-Msg-Id dedup drops the repeat)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from lead_intake.application.ports import Spooled

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT,
    payload TEXT NOT NULL
)
"""


class Spool:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # 202 means on disk
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()  # one sqlite connection; guards SQLite only, not NATS
        self.depth = self._count()

    def _count(self) -> int:
        with self._lock:
            count: int = self._db.execute("SELECT count(*) FROM spool").fetchone()[0]
        return count

    def _add(self, lead_id: str, key: str | None, payload: str) -> None:
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO spool (lead_id, idempotency_key, payload) VALUES (?, ?, ?)",
                (lead_id, key, payload),
            )
            self.depth += cursor.rowcount

    def _oldest(self, limit: int) -> list[Spooled]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, lead_id, idempotency_key, payload FROM spool ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            if not rows:
                self.depth = 0
        return [Spooled(*row) for row in rows]

    def _remove(self, seq: int) -> None:
        with self._lock:
            cursor = self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))
            self.depth -= cursor.rowcount

    async def add(self, lead_id: str, key: str | None, payload: str) -> None:
        await asyncio.to_thread(self._add, lead_id, key, payload)

    async def oldest(self, limit: int) -> list[Spooled]:
        return await asyncio.to_thread(self._oldest, limit)

    async def remove(self, seq: int) -> None:
        await asyncio.to_thread(self._remove, seq)

    def writable(self) -> bool:
        try:
            with self._lock:
                # Takes the write lock: a read-only or locked-up file fails here, not on a lead.
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
