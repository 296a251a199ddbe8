"""Attribution's paths as the projection keeps them (docs/reports.md "attribution"): per owner
(a deal's client, or its own lead when it has none) every touch of every lead that opened one
of its deals, as sorted parallel arrays. A report cuts each credited deal's path from its
owner's row at the deal's opening, so no touch is joined to a deal when a report runs.

The links (`owner_leads`, `lead_owners`) and the touches come straight from single events
and only ever grow, so an owner's row is recomputed from them whenever either side gains a
row: after each batch for the owners it touched, with the batch's own rows already stored
(one writer, in order). The row with the most touches wins (`ReplacingMergeTree(touches)`):
a later computation has seen at least as much."""

from __future__ import annotations

from collections.abc import Collection

from analytics.adapters.clickhouse import ClickHouse

CREATE = """CREATE TABLE IF NOT EXISTS {db}.owner_paths (
    owner String,
    touch_at Array(DateTime64(3, 'UTC')),
    channel Array(LowCardinality(String)),
    source Array(LowCardinality(String)),
    campaign Array(String),
    touches UInt32
) ENGINE = ReplacingMergeTree(touches)
ORDER BY owner"""
CREATE_LINKS = (
    """CREATE TABLE IF NOT EXISTS {db}.owner_leads (owner String, lead_id String)
    ENGINE = ReplacingMergeTree ORDER BY (owner, lead_id)""",
    """CREATE TABLE IF NOT EXISTS {db}.lead_owners (lead_id String, owner String)
    ENGINE = ReplacingMergeTree ORDER BY (lead_id, owner)""",
)

# The rows of the owners `{which}` selects (a condition on `owner_leads`), from all their
# leads' touches: oldest first, ties by channel / source / campaign, an identical touch once
# (two leads with the same one, or a touch stored twice before a merge). `{narrow}` reads
# only the touches of those owners' leads, by the touchpoints' sort key.
FILL = """INSERT INTO {db}.owner_paths (owner, touch_at, channel, source, campaign, touches)
SELECT owner, arrayMap(x -> x.1, p), arrayMap(x -> x.2, p), arrayMap(x -> x.3, p),
       arrayMap(x -> x.4, p), length(p)
FROM (
    SELECT o.owner AS owner,
           arraySort(groupUniqArray((t.touch_at, t.channel, t.source, t.campaign))) AS p
    FROM {db}.touchpoints AS t
    INNER JOIN (SELECT DISTINCT owner, lead_id FROM {db}.owner_leads WHERE {which}) AS o
        ON o.lead_id = t.lead_id
    {narrow}
    GROUP BY o.owner
)"""
# The owners given, and those of the leads given (a lead whose deal came first).
CHANGED = (
    "owner IN (SELECT arrayJoin({owners:Array(String)}) UNION ALL "
    "SELECT owner FROM {db}.lead_owners WHERE lead_id IN {leads:Array(String)})"
)
NARROW = "WHERE t.lead_id IN (SELECT lead_id FROM {db}.owner_leads WHERE " + CHANGED + ")"
# Links of deals stored without them (by a release before them), from the deals' rows.
MISSING_LINKS = """INSERT INTO {db}.{table} ({columns})
    SELECT DISTINCT {columns} FROM (
        SELECT lead_id, if(client_id != '', client_id, concat('lead:', lead_id)) AS owner
        FROM {db}.deals WHERE lead_id != '' {unlinked}
    )"""
UNLINKED = "AND lead_id NOT IN (SELECT lead_id FROM {db}.lead_owners)"


def refresh(ch: ClickHouse, owners: Collection[str], leads: Collection[str]) -> None:
    """Recompute the rows of `owners` and of the owners of `leads` (nothing when both are empty)."""
    if owners or leads:
        ch.command(
            FILL.replace("{which}", CHANGED).replace("{narrow}", NARROW),
            {"owners": sorted(owners), "leads": sorted(leads)},
        )


def fill_all(ch: ClickHouse) -> None:
    """Links from every stored deal, and every owner's row (the migration that adds them)."""
    _link(ch, "")
    ch.command(FILL.replace("{which}", "1").replace("{narrow}", ""))


def fill_missing(ch: ClickHouse) -> None:
    """Links for the deals that have none (stored by an older release's projection), and the
    rows of their owners; a no-op when every deal is linked."""
    missing = ch.rows(
        "SELECT DISTINCT if(client_id != '', client_id, concat('lead:', lead_id)) AS owner "
        "FROM {db}.deals WHERE lead_id != '' " + UNLINKED
    )
    if missing:
        _link(ch, UNLINKED)
        refresh(ch, [r["owner"] for r in missing], [])


def _link(ch: ClickHouse, unlinked: str) -> None:
    for table, columns in (("owner_leads", "owner, lead_id"), ("lead_owners", "lead_id, owner")):
        ch.command(
            MISSING_LINKS.replace("{table}", table)
            .replace("{columns}", columns)
            .replace("{unlinked}", unlinked)
        )
