"""The baseline of the deal-command bench: a bare `eventsourcing` load-move-save loop on SQLite,
with nothing of the service around it (no HTTP, no relay, no read model, no pipeline rules)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class BareDeal(Aggregate):
    @event("Opened")
    def __init__(self, title: str) -> None:
        self.title = title
        self.stage = "new"

    @event("StageMoved")
    def move(self, stage: str) -> None:
        self.stage = stage


class BareStore(Application[UUID]):
    name = "bare_deals"


def sqlite_env(path: Path) -> dict[str, str]:
    """The variables the service's store reads (deal_pipeline.main.store_env), on `path`."""
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}


def bare_moves_per_second(path: Path, deals: int, stages: Sequence[str]) -> tuple[float, int]:
    """Opens `deals` aggregates, then moves each through `stages` with get → move → save, one
    at a time on one thread. Returns (moves/s, moves) for the timed moves only."""
    app = BareStore(sqlite_env(path))
    try:
        ids = []
        for i in range(deals):
            deal = BareDeal(title=f"deal {i}")
            app.save(deal)
            ids.append(deal.id)
        started = time.perf_counter()
        for stage in stages:
            for deal_id in ids:
                deal = app.repository.get(deal_id)
                deal.move(stage)
                app.save(deal)
        elapsed = time.perf_counter() - started
        moves = len(ids) * len(stages)
        # Every move landed: each aggregate is at version 1 (opened) + one per stage.
        for deal_id in ids:
            stored = app.repository.get(deal_id)
            assert stored.version == 1 + len(stages) and stored.stage == stages[-1]
        return moves / elapsed, moves
    finally:
        app.close()
