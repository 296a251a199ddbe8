"""`known_payments`: the payments of the deals the projection knows, each with its client
(domain/projection/folds.py `known_payment` makes them as the deals are folded). Created and
filled from the stored payments and deals by migration 8; the same fill, for the payments an
older release stored without one, when a replica becomes the projection writer. Every event
of a deal has a version of its own (the pipeline's event store refuses a second one), so the
fold applies every stored payment of an opened deal once."""

from __future__ import annotations

from analytics.adapters.clickhouse import ClickHouse

# Sorted as `payments` (by the period's column), merged once an hour old like the other
# report tables (schema.SETTLED_TABLES), from the start.
CREATE = """CREATE TABLE IF NOT EXISTS {db}.known_payments (
    payment_id String,
    deal_id String,
    client_id String,
    manager_id LowCardinality(String),
    amount Decimal(18, 2),
    currency LowCardinality(String),
    paid_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (paid_at, payment_id)
SETTINGS min_age_to_force_merge_seconds = 3600"""
# Every stored payment without its row here whose deal has a row (of any version), with the
# payment's own manager, and its client, else the deal's (set when the deal opens and never
# changed; its latest row's is taken all the same). When none is missing it still reads the
# payments and this table (twice: `missing` is read where it is named).
FILL = """INSERT INTO {db}.known_payments
    (payment_id, deal_id, client_id, manager_id, amount, currency, paid_at)
WITH missing AS (
    SELECT payment_id, deal_id, client_id, manager_id, amount, currency, paid_at
    FROM {db}.payments FINAL
    WHERE (paid_at, payment_id) NOT IN (SELECT paid_at, payment_id FROM {db}.known_payments)
)
SELECT p.payment_id, p.deal_id, if(p.client_id != '', p.client_id, d.client_id), p.manager_id,
       p.amount, p.currency, p.paid_at
FROM missing AS p
INNER JOIN (
    SELECT deal_id, argMax(client_id, version) AS client_id FROM {db}.deals
    WHERE deal_id IN (SELECT deal_id FROM missing)
    GROUP BY deal_id
) AS d ON d.deal_id = p.deal_id"""


def fill_missing(ch: ClickHouse) -> None:
    """The known payments the stored payments and deals give that the table lacks: all of
    them at the migration, after that those an older release's projection left out."""
    ch.command(FILL)
