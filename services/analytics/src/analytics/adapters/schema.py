"""Versioned schema migrations, applied in order at start (to chDB and a server alike).

A migration is never edited once released: add a new one instead."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from clickhouse_connect.driver.exceptions import DatabaseError

from analytics.adapters import known_payments, owner_paths
from analytics.adapters.clickhouse import ClickHouse

log = logging.getLogger(__name__)

Step = str | Callable[[ClickHouse], None]  # a statement, or a step that reads before it writes

# Deals by the quarter they were opened in. Every row of a deal carries its opening, so a deal
# never spans two quarters, and the session reads `FINAL` one partition at a time, taking a
# partition that is one merged part as it is (`do_not_merge_across_partitions_select_final`):
# a quarter nobody writes to any more costs a `FINAL` nothing. Quarters, not months: an
# insert may touch at most 100 partitions, and one batch can pay deals opened years apart.
# A quarter left alone for an hour is merged into one part.
PARTITIONED_DEALS = """CREATE TABLE {db}.deals_partitioned AS {db}.deals
    ENGINE = ReplacingMergeTree(version)
    PARTITION BY toStartOfQuarter(opened_at)
    ORDER BY deal_id
    SETTINGS min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1"""


TABLE_PARTITION_KEY = """SELECT partition_key FROM system.tables
    WHERE database = {database:String} AND name = {table:String}"""
# The columns an INSERT names (not those the engine computes: `stages_json`).
TABLE_COLUMNS = """SELECT name FROM system.columns
    WHERE database = {database:String} AND table = {table:String}
      AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')
    ORDER BY position"""
ACTIVE_PARTS = """SELECT name FROM system.parts
    WHERE database = {database:String} AND table = {table:String} AND active"""
# This very statement mentions the table too: it is told apart by its own text.
RUNNING_ON = """SELECT count() AS running FROM system.processes
    WHERE position(query, {table:String}) > 0 AND position(query, 'system.processes') = 0"""
CLAIM_STALE_SECONDS = 30.0  # no statement on a claimed table for this long: its node is gone
CLAIM_PAUSE_SECONDS = 1.0  # between looks at a claim another node holds
TABLE_ALREADY_EXISTS = 57  # the server's error codes
UNKNOWN_TABLE = 60


def partition_deals(ch: ClickHouse) -> None:
    """Copy the deals into a partitioned table that then takes their name. Rows written
    meanwhile (another node's projection) are in parts the first copy did not know, and are
    copied after the swap; a row copied twice collapses on its version. Safe to run again, and
    on several nodes at once (replicas of a new release starting together on one server):
    creating the new table is the claim, and a node that finds it taken waits for the deals to
    be partitioned instead of starting a copy of its own."""
    idle_since: float | None = None
    waited = False
    while not _partitioned(ch):
        try:
            ch.command(PARTITIONED_DEALS)  # the claim: refused while the table exists
        except DatabaseError as exc:
            if getattr(exc, "code", None) != TABLE_ALREADY_EXISTS:
                raise
            # Taken by another node, or left by one that died before the swap. Before the swap
            # the new table holds nothing that is not in the old one, so dropping it loses
            # nothing: done once no statement has used it for CLAIM_STALE_SECONDS.
            now = time.monotonic()
            if not waited:
                log.info("deals_partitioned exists: waiting for another node's migration 3")
                waited = True
            idle_since = None if _in_use(ch) else (idle_since or now)
            if idle_since is not None and now - idle_since >= CLAIM_STALE_SECONDS:
                log.warning("dropping deals_partitioned: left by a migration that did not finish")
                ch.command("DROP TABLE IF EXISTS {db}.deals_partitioned SYNC")
                idle_since = None
            else:
                time.sleep(CLAIM_PAUSE_SECONDS)
            continue
        _copy_and_swap(ch)
        return
    # After the swap the new table holds the old deals: a node that died before copying the
    # rows written in between, and dropping it, left them there. Copied again (any repeat
    # collapses on its version), unless the node doing it is still at it.
    if _exists(ch, "deals_partitioned") and not _in_use(ch):
        try:
            ch.command("INSERT INTO {db}.deals SELECT * FROM {db}.deals_partitioned")
        except DatabaseError as exc:
            if getattr(exc, "code", None) != UNKNOWN_TABLE:
                raise
            return  # the node that swapped dropped it between our look and the copy: done
        ch.command("DROP TABLE IF EXISTS {db}.deals_partitioned SYNC")


# The summary of stays on each deal's row (see DealRow), from which the funnels read.
STAY_SUMMARY = """ALTER TABLE {db}.deals
    ADD COLUMN IF NOT EXISTS stages_entered Array(LowCardinality(String)),
    ADD COLUMN IF NOT EXISTS closed_stay_versions Array(UInt32),
    ADD COLUMN IF NOT EXISTS closed_stay_stages Array(LowCardinality(String)),
    ADD COLUMN IF NOT EXISTS closed_stay_entered_at Array(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS closed_stay_left_at Array(DateTime64(3, 'UTC'))"""
SUMMARY_COLUMNS = (
    "stages_entered",
    "closed_stay_versions",
    "closed_stay_stages",
    "closed_stay_entered_at",
    "closed_stay_left_at",
)
# Deals whose latest row has no summary (every row the projection writes has at least the
# stage it opened in), given one from their stays as the projection folds it: each stage by
# its first entry, each completed stay once, oldest first. The row keeps its version, and of
# two rows of one version the one inserted last is kept.
FILL_SUMMARIES = """INSERT INTO {db}.deals ({columns})
SELECT {kept},
       if(empty(s.stages), [d.stage], s.stages),
       arrayMap(x -> x.1, s.closed), arrayMap(x -> x.2, s.closed),
       arrayMap(x -> x.3, s.closed), arrayMap(x -> x.4, s.closed)
FROM (SELECT * FROM {db}.deals FINAL WHERE empty(stages_entered)) AS d
LEFT JOIN (
    SELECT deal_id,
           arrayDistinct(arrayMap(x -> x.2, arraySort(groupUniqArray((entered_version, stage)))))
               AS stages,
           arraySort(groupUniqArrayIf((entered_version, stage, entered_at, assumeNotNull(left_at)),
                                      left_at IS NOT NULL)) AS closed
    FROM {db}.deal_stage_intervals
    WHERE deal_id IN (SELECT deal_id FROM {db}.deals FINAL WHERE empty(stages_entered))
    GROUP BY deal_id
) AS s ON s.deal_id = d.deal_id"""


def fill_stay_summaries(ch: ClickHouse) -> None:
    """Give a summary of stays to every deal whose latest row lacks one: rows from before the
    summary (the migration), or written by an older release's projection meanwhile. Does
    nothing, at the cost of one pass over the latest rows, when every deal has one."""
    _refill(ch, "deals", "d", FILL_SUMMARIES, SUMMARY_COLUMNS)


LEAD_TOUCH_SOURCE = """ALTER TABLE {db}.leads
    ADD COLUMN IF NOT EXISTS touch_source LowCardinality(String)"""
# Leads whose row has no `touch_source` (every row the projection writes has one: a source
# or '(direct)'), given their own touchpoint's source. A row of the same key inserted later
# is the one kept.
FILL_TOUCH_SOURCES = """INSERT INTO {db}.leads ({columns})
SELECT {kept}, t.source
FROM (SELECT * FROM {db}.leads FINAL WHERE touch_source = '') AS l
INNER JOIN (
    SELECT lead_id, source FROM {db}.touchpoints FINAL
    PREWHERE lead_id IN (SELECT lead_id FROM {db}.leads FINAL WHERE touch_source = '')
    WHERE kind = 'lead'
) AS t ON t.lead_id = l.lead_id"""


def fill_touch_sources(ch: ClickHouse) -> None:
    """Give each lead row without one its own touch's source (see FILL_TOUCH_SOURCES)."""
    _refill(ch, "leads", "l", FILL_TOUCH_SOURCES, ("touch_source",))


# Each deal's lead facts (DealRow's `lead_*`): the lead funnel reads them on the deal's row.
LEAD_FACTS = """ALTER TABLE {db}.deals
    ADD COLUMN IF NOT EXISTS lead_received_at Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS lead_channel LowCardinality(String),
    ADD COLUMN IF NOT EXISTS lead_touch_source LowCardinality(String),
    ADD COLUMN IF NOT EXISTS lead_campaign String"""
# Deals whose latest row lacks its lead's facts while the lead is stored (the rows from
# before the facts), given them by migration 9. The row keeps its version, and of two rows of
# one version the one inserted last is kept. Not run again when a replica becomes the
# writer, unlike the fills above: a deal without facts is only slower to count (the lead
# funnel joins it), while a row rewritten at the version it has could undo a re-fold another
# process wrote meanwhile. A lead stored twice (two receipt times) gives one of them.
WITHOUT_FACTS = "SELECT * FROM {db}.deals FINAL WHERE lead_id != '' AND lead_received_at IS NULL"
FILL_LEAD_FACTS = (
    """INSERT INTO {db}.deals ({columns})
SELECT {kept}, l.received_at, l.channel, l.touch_source, l.utm_campaign
FROM ("""
    + WITHOUT_FACTS
    + """) AS d
INNER JOIN (
    SELECT lead_id, received_at, channel, touch_source, utm_campaign FROM {db}.leads FINAL
    WHERE lead_id IN (SELECT lead_id FROM ("""
    + WITHOUT_FACTS
    + """))
    LIMIT 1 BY lead_id
) AS l ON l.lead_id = d.lead_id"""
)


# The stages a deal entered as one JSON text, computed by the engine as each row is written
# (an older release's rows too) and kept: the funnels group the deals by it, a few dozen
# distinct values read as a dictionary's indices, where reading the arrays themselves took
# half their grouping's time at 10 M events. `SELECT *` leaves it out.
STAGES_JSON = (
    """ALTER TABLE {db}.deals ADD COLUMN IF NOT EXISTS stages_json LowCardinality(String)
    MATERIALIZED toJSONString(stages_entered)""",
    "ALTER TABLE {db}.deals MATERIALIZE COLUMN stages_json SETTINGS mutations_sync = 2",
)


def fill_lead_facts(ch: ClickHouse) -> None:
    """Give each deal whose latest row lacks them its stored lead's facts (FILL_LEAD_FACTS)."""
    _refill(
        ch,
        "deals",
        "d",
        FILL_LEAD_FACTS,
        ("lead_received_at", "lead_channel", "lead_touch_source", "lead_campaign"),
    )


def fill_missing(ch: ClickHouse) -> None:
    """What a release before the current one left unfilled (each a no-op when all is there):
    run when a replica becomes the writer, since the writer before may have been older."""
    fill_stay_summaries(ch)
    fill_touch_sources(ch)
    owner_paths.fill_missing(ch)
    known_payments.fill_missing(ch)


def _refill(ch: ClickHouse, table: str, alias: str, template: str, filled: tuple[str, ...]) -> None:
    """Run an `INSERT INTO table ({columns}) SELECT {kept}, <the filled columns>` template:
    `{kept}` is every other column of the table, read from the template's `alias`."""
    columns = [r["name"] for r in ch.rows(TABLE_COLUMNS, {"database": ch.db, "table": table})]
    kept = [c for c in columns if c not in filled]
    ch.command(
        template.replace("{columns}", ", ".join(kept + list(filled))).replace(
            "{kept}", ", ".join(f"{alias}.{c}" for c in kept)
        )
    )


def _copy_and_swap(ch: ClickHouse) -> None:
    deals = {"database": ch.db, "table": "deals"}
    copied = [r["name"] for r in ch.rows(ACTIVE_PARTS, deals)]
    ch.command("INSERT INTO {db}.deals_partitioned SELECT * FROM {db}.deals")
    ch.command("EXCHANGE TABLES {db}.deals AND {db}.deals_partitioned")
    ch.command(
        "INSERT INTO {db}.deals SELECT * FROM {db}.deals_partitioned"
        " WHERE _part NOT IN {copied:Array(String)}",
        {"copied": copied},
    )
    ch.command("DROP TABLE {db}.deals_partitioned SYNC")
    ch.command("OPTIMIZE TABLE {db}.deals FINAL")  # each quarter one part, from the start


def _partitioned(ch: ClickHouse) -> bool:
    rows = ch.rows(TABLE_PARTITION_KEY, {"database": ch.db, "table": "deals"})
    return bool(rows[0]["partition_key"])


def _exists(ch: ClickHouse, table: str) -> bool:
    return bool(ch.rows(TABLE_PARTITION_KEY, {"database": ch.db, "table": table}))


def _in_use(ch: ClickHouse) -> bool:
    """A statement on the new table is running (another node's copy), as the server lists them."""
    rows = ch.rows(RUNNING_ON, {"table": f"{ch.db}.deals_partitioned"})
    return bool(rows[0]["running"])


# The tables the reports read with `FINAL` or group by key, merged into one part once their
# parts are an hour old: `FINAL` over one part per partition costs nothing (the session takes
# it as it is), over many it merges every key as it reads, two to four times the time of a
# report at 10 M events. Without it the engine's own merges may stop at a handful of parts
# of similar size. Not `events` or `fold_events`: the biggest, and read by
# key or by the rebuild only. `deals` has it per quarter already (PARTITIONED_DEALS).
SETTLED_TABLES = (
    "payments",
    "leads",
    "touchpoints",
    "clients",
    "deal_stage_intervals",
    "tasks",
    "owner_paths",
    "lead_owners",
    "plans",
    "currency_rates",
    "ad_spend",
    "managers",
    "pipelines",
)
# Tables created after migration 7 with the same setting in their CREATE (bench/settle.py
# merges these too).
SETTLED_SINCE_CREATED = ("known_payments",)
MERGE_AFTER_AN_HOUR = "ALTER TABLE {db}.%s MODIFY SETTING min_age_to_force_merge_seconds = 3600"

MIGRATIONS: list[tuple[int, str, list[Step]]] = [
    (
        1,
        "event log and the report tables",
        [
            # Every event as received; a redelivered event collapses on its key.
            """CREATE TABLE IF NOT EXISTS {db}.events (
                event_id UUID,
                event_type LowCardinality(String),
                schema_version UInt16,
                occurred_at DateTime64(3, 'UTC'),
                aggregate_id String,
                aggregate_version UInt32,
                correlation_id String,
                producer LowCardinality(String),
                payload String,
                ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
            ) ENGINE = ReplacingMergeTree
            PARTITION BY toYYYYMM(occurred_at)
            ORDER BY (event_type, occurred_at, event_id)""",
            # Leads with their own touch; contacts only as salted hashes.
            """CREATE TABLE IF NOT EXISTS {db}.leads (
                lead_id String,
                received_at DateTime64(3, 'UTC'),
                form_id LowCardinality(String),
                source LowCardinality(String),
                phone_hash String,
                email_hash String,
                consent UInt8,
                channel LowCardinality(String),
                utm_source LowCardinality(String),
                utm_medium LowCardinality(String),
                utm_campaign String,
                utm_content String,
                utm_term String,
                referrer_host LowCardinality(String),
                visitor_id String
            ) ENGINE = ReplacingMergeTree
            ORDER BY (received_at, lead_id)""",
            # Marketing touches: the lead's own ('lead') and the visitor's first ('first').
            """CREATE TABLE IF NOT EXISTS {db}.touchpoints (
                lead_id String,
                kind LowCardinality(String),
                touch_at DateTime64(3, 'UTC'),
                channel LowCardinality(String),
                source LowCardinality(String),
                medium LowCardinality(String),
                campaign String,
                visitor_id String
            ) ENGINE = ReplacingMergeTree
            ORDER BY (lead_id, kind)""",
            # Latest state of each deal: the row with the highest aggregate version wins.
            """CREATE TABLE IF NOT EXISTS {db}.deals (
                deal_id String,
                lead_id String,
                client_id String,
                pipeline_id LowCardinality(String),
                title String,
                source LowCardinality(String),
                stage LowCardinality(String),
                status LowCardinality(String),
                lost_reason String,
                lost_at_stage LowCardinality(String),
                manager_id LowCardinality(String),
                amount Decimal(18, 2),
                cost Decimal(18, 2),
                currency LowCardinality(String),
                paid_total Decimal(18, 2),
                opened_at DateTime64(3, 'UTC'),
                closed_at Nullable(DateTime64(3, 'UTC')),
                updated_at DateTime64(3, 'UTC'),
                version UInt32
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY deal_id""",
            # One row per stay of a deal in a stage; the row closing a stay has a higher version.
            """CREATE TABLE IF NOT EXISTS {db}.deal_stage_intervals (
                deal_id String,
                pipeline_id LowCardinality(String),
                stage LowCardinality(String),
                entered_version UInt32,
                entered_at DateTime64(3, 'UTC'),
                left_at Nullable(DateTime64(3, 'UTC')),
                version UInt32
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (deal_id, entered_version)""",
            """CREATE TABLE IF NOT EXISTS {db}.payments (
                payment_id String,
                deal_id String,
                client_id String,
                manager_id LowCardinality(String),
                pipeline_id LowCardinality(String),
                invoice_id String,
                amount Decimal(18, 2),
                currency LowCardinality(String),
                paid_at DateTime64(3, 'UTC')
            ) ENGINE = ReplacingMergeTree
            ORDER BY (paid_at, payment_id)""",
            """CREATE TABLE IF NOT EXISTS {db}.tasks (
                task_id String,
                deal_id String,
                manager_id LowCardinality(String),
                title String,
                kind LowCardinality(String),
                status LowCardinality(String),
                due_at DateTime64(3, 'UTC'),
                scheduled_at DateTime64(3, 'UTC'),
                closed_at Nullable(DateTime64(3, 'UTC')),
                version UInt32
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY task_id""",
            """CREATE TABLE IF NOT EXISTS {db}.plans (
                manager_id LowCardinality(String),
                month Date,
                amount Decimal(18, 2),
                currency LowCardinality(String),
                updated_at DateTime64(3, 'UTC')
            ) ENGINE = ReplacingMergeTree(updated_at)
            ORDER BY (manager_id, month)""",
            """CREATE TABLE IF NOT EXISTS {db}.clients (
                client_id String,
                lead_id String,
                registered_at DateTime64(3, 'UTC'),
                phone_hashes Array(String),
                email_hashes Array(String),
                updated_at DateTime64(3, 'UTC'),
                version UInt32
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY client_id""",
            """CREATE TABLE IF NOT EXISTS {db}.managers (
                manager_id String,
                name String,
                role LowCardinality(String),
                active UInt8,
                updated_at DateTime64(3, 'UTC')
            ) ENGINE = ReplacingMergeTree(updated_at)
            ORDER BY manager_id""",
            """CREATE TABLE IF NOT EXISTS {db}.pipelines (
                pipeline_id String,
                name String,
                stage_names Array(String),
                stage_kinds Array(String),
                stage_probabilities Array(Float64),
                updated_at DateTime64(3, 'UTC')
            ) ENGINE = ReplacingMergeTree(updated_at)
            ORDER BY pipeline_id""",
            """CREATE TABLE IF NOT EXISTS {db}.notifications (
                notification_id String,
                status LowCardinality(String),
                rule_id LowCardinality(String),
                channel LowCardinality(String),
                trigger_event_type LowCardinality(String),
                attempts UInt16,
                latency_ms UInt64,
                reason String,
                occurred_at DateTime64(3, 'UTC')
            ) ENGINE = ReplacingMergeTree(occurred_at)
            ORDER BY notification_id""",
            # Ad spend imported per day × source × medium × campaign; re-imports replace.
            """CREATE TABLE IF NOT EXISTS {db}.ad_spend (
                date Date,
                source LowCardinality(String),
                medium LowCardinality(String),
                campaign String,
                cost Decimal(18, 2),
                currency LowCardinality(String),
                cost_base Decimal(18, 2),
                clicks UInt64,
                impressions UInt64,
                updated_at DateTime64(3, 'UTC')
            ) ENGINE = ReplacingMergeTree(updated_at)
            ORDER BY (date, source, medium, campaign)""",
            # Units of the base currency per one unit of `currency` on `date`.
            """CREATE TABLE IF NOT EXISTS {db}.currency_rates (
                date Date,
                currency LowCardinality(String),
                rate Decimal(18, 6),
                updated_at DateTime64(3, 'UTC')
            ) ENGINE = ReplacingMergeTree(updated_at)
            ORDER BY (currency, date)""",
        ],
    ),
    (
        2,
        "history of the folded tables, by key and version",
        [
            # Each deal/task/client is re-folded from all its events on every batch that touches
            # it, so a late (redelivered, reordered) event still lands. Contacts pseudonymised.
            """CREATE TABLE IF NOT EXISTS {db}.fold_events (
                stream LowCardinality(String),
                key String,
                version UInt32,
                event_id UUID,
                payload String
            ) ENGINE = ReplacingMergeTree
            ORDER BY (stream, key, version, event_id)""",
        ],
    ),
    (3, "deals partitioned by the quarter they were opened in", [partition_deals]),
    (
        4,
        "a summary of its stays on each deal's row",
        # Merged at once (a quarter would be an hour later): until then FINAL merges the
        # filled copy of each row with the one it replaces.
        [STAY_SUMMARY, fill_stay_summaries, "OPTIMIZE TABLE {db}.deals FINAL"],
    ),
    (
        5,
        "each lead's own touch source on its row",
        [LEAD_TOUCH_SOURCE, fill_touch_sources, "OPTIMIZE TABLE {db}.leads FINAL"],
    ),
    (
        6,
        "attribution paths per owner, kept by the projection",
        [*owner_paths.CREATE, owner_paths.fill_all],
    ),
    (
        7,
        "report tables merged into one part once an hour old",
        [MERGE_AFTER_AN_HOUR % table for table in SETTLED_TABLES],
    ),
    (
        8,
        "the payments of known deals with their client, kept by the projection",
        [known_payments.CREATE, known_payments.fill_missing],
    ),
    (
        9,
        "each deal's lead facts on its row, for the lead funnel",
        [LEAD_FACTS, fill_lead_facts],
    ),
    (
        10,
        "the stages each deal entered as one text, for the funnels' grouping",
        list(STAGES_JSON),
    ),
]


def migrate(ch: ClickHouse) -> int:
    """Apply the migrations not yet recorded; returns the schema version now in force."""
    ch.command("CREATE DATABASE IF NOT EXISTS {db}")
    ch.command(
        """CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
            version UInt32, description String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
        ) ENGINE = ReplacingMergeTree ORDER BY version"""
    )
    applied = {r["version"] for r in ch.rows("SELECT version FROM {db}.schema_migrations FINAL")}
    for version, description, statements in MIGRATIONS:
        if version in applied:
            continue
        for step in statements:
            if callable(step):
                step(ch)
            else:
                ch.command(step)
        ch.insert("schema_migrations", [[version, description]], ["version", "description"])
        log.info("applied migration %s: %s", version, description)
    return max(v for v, _, _ in MIGRATIONS)
