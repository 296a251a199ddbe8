"""The tables of attribution's paths (domain/projection/paths.py keeps them as events come):
`lead_owners` links each lead that opened a deal to the deal's owner, `owner_paths` holds
each owner's touches, its rows of one owner united by the engine. Created and filled from the
stored deals and touches by migration 6; the same fill, for the deals an older release stored
without a link, when a replica becomes the projection writer."""

from __future__ import annotations

from analytics.adapters.clickhouse import ClickHouse

# Looked up by lead for a lead that comes after its deal: small granules, so that a batch of
# ids reads a little of the table rather than all of it.
CREATE = (
    """CREATE TABLE IF NOT EXISTS {db}.lead_owners (lead_id String, owner String)
    ENGINE = ReplacingMergeTree ORDER BY (lead_id, owner)
    SETTINGS index_granularity = 1024""",
    """CREATE TABLE IF NOT EXISTS {db}.owner_paths (
        owner String,
        touches SimpleAggregateFunction(
            groupUniqArrayArray, Array(Tuple(DateTime64(3, 'UTC'), String, String, String))
        )
    ) ENGINE = AggregatingMergeTree ORDER BY owner""",
)
OWNER = "if(client_id != '', client_id, concat('lead:', lead_id))"
# The links of the deals `{which}` selects (a condition on `deals`), then their leads'
# touches for their owners.
LINK = (
    "INSERT INTO {db}.lead_owners (lead_id, owner) SELECT DISTINCT lead_id, " + OWNER + " "
    "FROM {db}.deals WHERE lead_id != '' AND {which}"
)
PATHS = (
    """INSERT INTO {db}.owner_paths (owner, touches)
SELECT o.owner, groupUniqArray((t.touch_at, toString(t.channel), toString(t.source), t.campaign))
FROM {db}.touchpoints AS t
INNER JOIN (
    SELECT DISTINCT lead_id, """
    + OWNER
    + """ AS owner FROM {db}.deals
    WHERE lead_id != '' AND {which}
) AS o ON o.lead_id = t.lead_id
GROUP BY o.owner"""
)
UNLINKED = "lead_id NOT IN (SELECT lead_id FROM {db}.lead_owners)"


def fill_all(ch: ClickHouse) -> None:
    """Links and paths of every stored deal (migration 6)."""
    for template in (PATHS, LINK):
        ch.command(template.replace("{which}", "1"))


def fill_missing(ch: ClickHouse) -> None:
    """Links and paths of the deals stored without a link (by an older release's projection);
    one pass over the deals when none is missing. The paths first: the links mark them done."""
    for template in (PATHS, LINK):
        ch.command(template.replace("{which}", UNLINKED))
