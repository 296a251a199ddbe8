"""Rebuild over a real nats-server and the real engine: corrupted tables come back exactly,
and events published while it runs are not lost."""

from datetime import UTC, datetime
from decimal import Decimal

from analytics.adapters.clickhouse import ClickHouse
from services.analytics.tests.history import DealStory
from services.analytics.tests.live import (
    KEY,
    PROJECTION_WAIT,
    SteadyPublisher,
    publish,
    running_analytics,
    running_service,
    scalar,
)
from tests.support.net import wait_until


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stories() -> list:
    d1 = DealStory("d1", utc(2026, 3, 1, 7), "1000.00").move("qualified", utc(2026, 3, 1, 8))
    d1.move("won", utc(2026, 3, 1, 16), "won")
    d2 = DealStory("d2", utc(2026, 3, 1, 9), "500.50").move("proposal", utc(2026, 3, 1, 11))
    d3 = DealStory("d3", utc(2026, 3, 1, 20, 30), "200.00")
    d3.move("lost", utc(2026, 3, 1, 21, 30), "lost", "price")
    return [e for story in (d1, d2, d3) for e in story.events]  # 3 + 2 + 2 = 7 events


def deal_ids(ch: ClickHouse) -> set[str]:
    return {r["deal_id"] for r in ch.rows("SELECT deal_id FROM {db}.deals FINAL")}


def by_status(ch: ClickHouse) -> dict:
    rows = ch.rows(
        "SELECT status, count() AS n, sum(amount) AS amount FROM {db}.deals FINAL "
        "WHERE deal_id LIKE 'd%' GROUP BY status ORDER BY status"
    )
    return {r["status"]: (r["n"], r["amount"]) for r in rows}


def test_rebuild_restores_the_tables_and_loses_nothing_published_meanwhile(nats_server, clickhouse):
    ch = clickhouse
    with running_analytics(nats_server.url, ch, rebuild_batch_size=2) as api:
        publish(nats_server.url, stories())
        wait_until(
            lambda: (
                scalar(ch, "SELECT count() FROM {db}.deals FINAL") == 3
                and scalar(ch, "SELECT count() FROM {db}.deal_stage_intervals FINAL") == 7
            ),
            timeout=PROJECTION_WAIT,
            what="projection",
        )
        spend = {
            "rows": [
                {
                    "date": "2026-03-01",
                    "source": "yandex",
                    "medium": "cpc",
                    "campaign": "c",
                    "cost": "99.90",
                    "currency": "RUB",
                }
            ]
        }
        assert api.post("/v1/ad-spend", json=spend, headers=KEY).status_code == 200

        # Corrupt: lose a deal, invent one, empty the intervals, drop events.
        ch.command("DELETE FROM {db}.deals WHERE deal_id = 'd1'")
        ch.command(
            "INSERT INTO {db}.deals (deal_id, status, amount, version) "
            "VALUES ('ghost', 'won', 123, 99)"
        )
        ch.command("TRUNCATE TABLE {db}.deal_stage_intervals")
        ch.command("DELETE FROM {db}.events WHERE aggregate_id = 'd2'")
        assert deal_ids(ch) == {"d2", "d3", "ghost"}

        with SteadyPublisher(nats_server.url) as publisher:
            wait_until(lambda: publisher.published >= 3, what="publisher running")
            response = api.post("/v1/admin/rebuild", headers=KEY)
            assert response.status_code == 202, response.text
            job_id = response.json()["job_id"]
            before = publisher.published

            def finished() -> dict | None:
                job = api.get(f"/v1/admin/rebuild/{job_id}", headers=KEY).json()
                return job if job["state"] in ("done", "failed") else None

            job = wait_until(finished, timeout=60, interval=0.05, what="rebuild")
            during = publisher.published - before
        live = publisher.published

        assert job["state"] == "done", job
        assert during >= 1  # events really were published while the rebuild ran
        assert 7 <= job["events_replayed"] <= 7 + live
        # (A batch lands table by table, so wait for the last table ingest() writes.)
        wait_until(
            lambda: (
                scalar(ch, "SELECT count() FROM {db}.events FINAL") == 7 + live
                and scalar(ch, "SELECT count() FROM {db}.deals FINAL") == 3 + live
            ),
            timeout=PROJECTION_WAIT,
            what="every event projected after the rebuild",
        )
        assert deal_ids(ch) == {"d1", "d2", "d3"} | {f"live-{i}" for i in range(live)}
        assert by_status(ch) == {
            "lost": (1, Decimal("200.00")),
            "open": (1, Decimal("500.50")),
            "won": (1, Decimal("1000.00")),
        }
        # 1000.00 + 500.50 + 200.00, plus 10.00 for each deal opened meanwhile.
        assert scalar(ch, "SELECT sum(amount) FROM {db}.deals FINAL") == (
            Decimal("1700.50") + 10 * live
        )
        # d1: new, qualified, won; d2: new, proposal; d3: new, lost; one per live deal.
        assert scalar(ch, "SELECT count() FROM {db}.deal_stage_intervals FINAL") == 7 + live
        assert (
            scalar(
                ch, "SELECT count() FROM {db}.deal_stage_intervals FINAL WHERE left_at IS NOT NULL"
            )
            == 4
        )
        # Not fed by the stream, so kept as it was.
        assert scalar(ch, "SELECT sum(cost_base) FROM {db}.ad_spend FINAL") == Decimal("99.90")
        assert (
            scalar(ch, f"SELECT count() FROM system.databases WHERE name LIKE '{ch.db}_rebuild%'")
            == 0
        )


def test_one_rebuild_at_a_time_and_unknown_jobs(nats_server, clickhouse):
    with running_service(nats_server.url, clickhouse) as (api, service):
        assert api.post("/v1/admin/rebuild").status_code == 401
        assert api.get("/v1/admin/rebuild/nope", headers=KEY).status_code == 404
        api.portal.call(service.gate.pause)  # hold the swap: the job cannot finish
        first = api.post("/v1/admin/rebuild", headers=KEY)
        assert first.status_code == 202
        second = api.post("/v1/admin/rebuild", headers=KEY)
        assert (second.status_code, second.json()["error"]) == (409, "conflict")
        api.portal.call(service.gate.resume)
        job = wait_until(
            lambda: (
                (j := api.get(f"/v1/admin/rebuild/{first.json()['job_id']}", headers=KEY).json())[
                    "state"
                ]
                == "done"
                and j
            ),
            what="rebuild done",
        )
        assert job["events_replayed"] == 0
