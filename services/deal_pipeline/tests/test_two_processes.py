"""Two processes on one PostgreSQL store hammer the same deal: the store's conflict check and
the retry keep every update, and the final history is one consistent chain."""

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from deal_pipeline.main import use_cases
from tests.support.nats import env_without_service_settings
from tests.support.net import wait_until

MOVES = 40
STARTERS = 6


def test_two_processes_on_one_postgres_store_lose_no_update(postgres_server, tmp_path):
    name = postgres_server.create_database()
    env = postgres_server.env(name)
    app = use_cases(env, managers=["m1"], snapshot_interval=50)
    try:
        deal_id = app.opening.by_hand("contested").id
        go = tmp_path / "go"
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).with_name("hammer.py")),
                    str(deal_id),
                    *stages,
                    str(MOVES),
                    str(tmp_path / f"ready-{i}"),
                    str(go),
                ],
                env=env_without_service_settings() | env,
            )
            for i, stages in enumerate((("qualified", "proposal"), ("invoice", "new")))
        ]
        wait_until(  # two interpreters importing the service: slow on a loaded machine
            lambda: all((tmp_path / f"ready-{i}").exists() for i in range(2)),
            timeout=120,
            what="workers",
        )
        go.touch()
        assert [w.wait(timeout=240) for w in workers] == [0, 0]

        history = app.deals.history(deal_id)
        print(f"history length: {len(history)}")
        assert [e.originator_version for e in history] == list(range(1, 4 * MOVES + 2))
        moves = [e for e in history if type(e).__name__ == "StageChanged"]
        payments = [e for e in history if type(e).__name__ == "PaymentReceived"]
        assert len(moves) == len(payments) == 2 * MOVES
        for before, after in zip(moves, moves[1:], strict=False):
            assert after.from_stage == before.to_stage
            assert after.from_stage_entered_version == before.originator_version
        assert [p.paid_total for p in payments] == [Decimal(n) for n in range(1, 2 * MOVES + 1)]
        deal = app.deals.get(deal_id)  # through the snapshots taken on the way
        assert deal.paid_total == 2 * MOVES and deal.version == 4 * MOVES + 1
        assert [s.originator_version for s in app.store.snapshots.get(deal_id)] == [50, 100, 150]
        # Both processes really were writing at the same time: their moves interleave.
        owner = ["a" if m.to_stage in ("qualified", "proposal") else "b" for m in moves]
        switches = sum(x != y for x, y in zip(owner, owner[1:], strict=False))
        print(f"switches between the two writers: {switches}")
        assert switches > 1
    finally:
        app.close()
        postgres_server.drop_database(name)


def test_replicas_starting_together_on_a_fresh_database_all_come_up(postgres_server):
    # Both create the store's tables and types at once: PostgreSQL refuses one of two racing
    # CREATE ... IF NOT EXISTS, and the loser must try again rather than exit.
    name = postgres_server.create_database()
    env = postgres_server.env(name)
    gate = threading.Barrier(STARTERS)

    def start(_: int) -> int | None:
        gate.wait()
        app = use_cases(env, managers=["m1"])
        try:
            return app.store.recorder.max_notification_id()
        finally:
            app.close()

    try:
        with ThreadPoolExecutor(STARTERS) as pool:
            assert list(pool.map(start, range(STARTERS))) == [None] * STARTERS
    finally:
        postgres_server.drop_database(name)
