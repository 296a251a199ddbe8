"""Migration 3: deals partitioned by the quarter they were opened in, upgraded in place from an
install of the earlier schema, with `FINAL` read one partition at a time."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from analytics.adapters import schema
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.schema import migrate
from services.analytics.tests.reports_support import schema_at

COLUMNS = ["deal_id", "pipeline_id", "stage", "status", "amount", "opened_at", "updated_at"]
COLUMNS += ["version"]
LATEST = schema.MIGRATIONS[-1][0]  # the schema version after every migration


def deal(deal_id: str, opened: datetime, version: int, stage: str = "new") -> list[Any]:
    return [deal_id, "default", stage, "open", version * 100, opened, opened, version]


JAN, MAY, NOV = (datetime(2026, m, 3, 10, tzinfo=UTC) for m in (1, 5, 11))


def partition_key(ch: ClickHouse) -> str:
    rows = ch.rows(schema.TABLE_PARTITION_KEY, {"database": ch.db, "table": "deals"})
    return str(rows[0]["partition_key"])


def latest(ch: ClickHouse) -> list[tuple[str, int, str]]:
    """Each deal's row as FINAL reads it (the session reads it a partition at a time)."""
    rows = ch.rows("SELECT deal_id, version, stage FROM {db}.deals FINAL ORDER BY deal_id")
    return [(r["deal_id"], r["version"], r["stage"]) for r in rows]


@pytest.fixture
def earlier(chdb_client, monkeypatch):  # type: ignore[no-untyped-def]
    """A database as the schema before migration 3 left it."""
    with schema_at(chdb_client, monkeypatch, 2) as ch:
        yield ch


def test_a_fresh_database_has_them_partitioned(clickhouse: ClickHouse) -> None:
    assert partition_key(clickhouse) == "toStartOfQuarter(opened_at)"


def test_an_upgrade_keeps_every_row_and_the_latest_wins(earlier: ClickHouse) -> None:
    assert partition_key(earlier) == ""
    rows = [deal("a", JAN, 1), deal("a", JAN, 3, "won"), deal("a", JAN, 2, "proposal")]
    rows += [deal("b", MAY, 1), deal("c", NOV, 2, "qualified"), deal("c", NOV, 1)]
    for row in rows:  # a part each, as batches leave them
        earlier.insert("deals", [row], COLUMNS)
    before = latest(earlier)

    assert migrate(earlier) == LATEST
    assert partition_key(earlier) == "toStartOfQuarter(opened_at)"
    assert latest(earlier) == before == [("a", 3, "won"), ("b", 1, "new"), ("c", 2, "qualified")]
    parts = earlier.rows(
        "SELECT partition, count() AS parts FROM system.parts WHERE database = {d:String}"
        " AND table = 'deals' AND active GROUP BY partition ORDER BY partition",
        {"d": earlier.db},
    )
    assert [r["parts"] for r in parts] == [1, 1, 1]  # each quarter merged into one part
    tables = earlier.rows(
        "SELECT name FROM system.tables WHERE database = {d:String} AND name LIKE 'deals%'",
        {"d": earlier.db},
    )
    assert [t["name"] for t in tables] == ["deals"]
    assert migrate(earlier) == LATEST  # again: nothing to do
    assert latest(earlier) == before


def test_rows_written_during_the_copy_are_kept(earlier: ClickHouse, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another node's projection inserts after the first copy and before the swap."""
    earlier.insert("deals", [deal("a", JAN, 1), deal("b", MAY, 1)], COLUMNS)
    command = ClickHouse.command

    def meanwhile(self: ClickHouse, sql: str, params: dict[str, Any] | None = None) -> Any:
        done = command(self, sql, params)
        if sql.startswith("INSERT INTO {db}.deals_partitioned"):
            self.insert("deals", [deal("a", JAN, 2, "won"), deal("n", NOV, 1)], COLUMNS)
        return done

    monkeypatch.setattr(ClickHouse, "command", meanwhile)
    migrate(earlier)
    monkeypatch.undo()
    assert latest(earlier) == [("a", 2, "won"), ("b", 1, "new"), ("n", 1, "new")]


def test_final_merges_a_quarter_that_has_late_rows(clickhouse: ClickHouse) -> None:
    """One quarter merged into one part (read as it is), another with a late, older version
    and a redelivery beside its latest row: FINAL still gives one row per deal."""
    clickhouse.insert("deals", [deal("a", JAN, 1), deal("a", JAN, 2, "won")], COLUMNS)
    clickhouse.insert("deals", [deal("b", MAY, 3, "lost")], COLUMNS)
    clickhouse.command("OPTIMIZE TABLE {db}.deals FINAL")
    clickhouse.command("SYSTEM STOP MERGES {db}.deals")
    clickhouse.insert("deals", [deal("b", MAY, 2, "proposal"), deal("b", MAY, 3, "lost")], COLUMNS)
    assert latest(clickhouse) == [("a", 2, "won"), ("b", 3, "lost")]
    count = clickhouse.rows("SELECT count() AS n FROM {db}.deals FINAL WHERE stage = 'proposal'")
    assert count[0]["n"] == 0


def copies(monkeypatch: pytest.MonkeyPatch, during: Any = None) -> list[str]:
    """Counts the copies into the new table (and runs `during` after the first one); a
    refused claim of the new table is counted as "refused"."""
    done: list[str] = []
    command = ClickHouse.command

    def counted(self: ClickHouse, sql: str, params: dict[str, Any] | None = None) -> Any:
        try:
            result = command(self, sql, params)
        except Exception:
            if sql == schema.PARTITIONED_DEALS:
                done.append("refused")
            raise
        if sql.startswith("INSERT INTO {db}.deals_partitioned"):
            done.append(sql)
            if during is not None and len(done) == 1:
                during()
        return result

    monkeypatch.setattr(ClickHouse, "command", counted)
    return done


def test_two_nodes_upgrading_at_once_copy_once(earlier: ClickHouse, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Replicas of a new release start together on one server: the second finds the new table
    claimed and waits for the first to finish, rather than dropping it and copying again."""
    import threading

    earlier.insert("deals", [deal("a", JAN, 1), deal("a", JAN, 2, "won")], COLUMNS)
    earlier.insert("deals", [deal("b", MAY, 1), deal("c", NOV, 3, "lost")], COLUMNS)
    before = latest(earlier)
    monkeypatch.setattr(schema, "CLAIM_PAUSE_SECONDS", 0.01)
    second: list[int] = []
    node = threading.Thread(target=lambda: second.append(migrate(earlier)))

    def other_node() -> None:
        """Starts mid-copy, and is either refused the claim or done before the first goes on."""
        node.start()
        deadline = time.monotonic() + 30
        while "refused" not in done and node.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    done = copies(monkeypatch, during=other_node)
    assert migrate(earlier) == LATEST
    node.join(timeout=30)
    assert second == [LATEST]
    assert [d for d in done if d != "refused"] == done[:1]  # one copy, by the claimant
    assert "refused" in done
    assert partition_key(earlier) == "toStartOfQuarter(opened_at)"
    assert latest(earlier) == before


def test_a_copy_left_by_a_dead_node_is_dropped_and_made_again(
    earlier: ClickHouse, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A node died mid-copy: its half-filled table holds nobody's work any more."""
    earlier.insert("deals", [deal("a", JAN, 1), deal("b", MAY, 2, "proposal")], COLUMNS)
    earlier.command(schema.PARTITIONED_DEALS)
    earlier.insert("deals_partitioned", [deal("a", JAN, 1)], COLUMNS)  # half a copy
    monkeypatch.setattr(schema, "CLAIM_STALE_SECONDS", 0.05)
    monkeypatch.setattr(schema, "CLAIM_PAUSE_SECONDS", 0.01)
    done = copies(monkeypatch)
    assert migrate(earlier) == LATEST
    assert done[0] == "refused"  # until it had been idle long enough; then dropped
    assert [d for d in done if d != "refused"] == done[-1:]  # and copied once
    assert latest(earlier) == [("a", 1, "new"), ("b", 2, "proposal")]


def test_rows_left_after_the_swap_by_a_dead_node_are_copied(earlier: ClickHouse) -> None:
    """A node died between the swap and the second copy: the rows written in between are in
    the old table, now under the new one's name, and the next start copies them over."""
    earlier.insert("deals", [deal("a", JAN, 1)], COLUMNS)
    earlier.command(schema.PARTITIONED_DEALS)
    earlier.command("INSERT INTO {db}.deals_partitioned SELECT * FROM {db}.deals")
    earlier.command("EXCHANGE TABLES {db}.deals AND {db}.deals_partitioned")
    # Written to the old table after the first copy, before the swap.
    earlier.insert("deals_partitioned", [deal("a", JAN, 2, "won"), deal("n", NOV, 1)], COLUMNS)
    assert migrate(earlier) == LATEST
    assert latest(earlier) == [("a", 2, "won"), ("n", 1, "new")]
    tables = earlier.rows(
        "SELECT name FROM system.tables WHERE database = {d:String} AND name LIKE 'deals%'",
        {"d": earlier.db},
    )
    assert [t["name"] for t in tables] == ["deals"]
