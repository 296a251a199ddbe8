"""Where a use case called from the event loop runs: on SQLite in place (a hop to a worker
thread cost more than the call), on PostgreSQL in a worker thread (it waits on the network).
Either way it answers and refuses as when called directly."""

import asyncio
import threading

import pytest

from deal_pipeline.domain.errors import NotFound


def test_a_use_case_runs_in_place_on_sqlite_and_in_a_worker_on_postgres(crm, store):
    async def run() -> tuple[int, int]:
        loop_thread = threading.get_ident()
        deal_id = await crm.store.call(crm.opening.from_lead, "lead-1", "Ann")
        moved = await crm.store.call(crm.deals.move_stage, deal_id, "proposal", None)
        assert moved.stage == "proposal"
        with pytest.raises(NotFound):  # a refusal passes through as it is
            await crm.store.call(crm.deals.get, deal_id.__class__(int=1))
        return loop_thread, await crm.store.call(threading.get_ident)

    loop_thread, ran_on = asyncio.run(run())
    sqlite = store["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert crm.store.local is sqlite
    assert (ran_on == loop_thread) is sqlite
