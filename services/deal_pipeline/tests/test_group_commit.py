"""Saves made at the same time in one process: on SQLite they share a commit
(`adapters/group_commit.py`); on either store none is lost and none runs out of retries."""

import threading
from decimal import Decimal

from eventsourcing.persistence import RecordConflictError

from deal_pipeline.adapters.group_commit import GroupCommitRecorder, PendingSave
from deal_pipeline.main import use_cases

THREADS = 16
ROUNDS = 20


def test_threads_of_one_process_saving_at_once_lose_no_update(crm):
    """Payments on two deals (each one an event, so each save collides with the others on the
    same deal) and deals opened by hand (each draws the round-robin counter) from sixteen
    threads. Without taking turns after a conflict, some of them could run out of retries."""
    deals = [crm.opening.by_hand(f"deal {i}").id for i in range(2)]
    before = {d: crm.deals.get(d).version for d in deals}
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    opened: list = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            for r in range(ROUNDS):
                crm.deals.record_payment(deals[(i + r) % 2], Decimal("1"))
                opened.append(crm.opening.by_hand(f"by hand {i}-{r}").id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    paid = sum(crm.deals.get(d).version - before[d] for d in deals)
    assert paid == THREADS * ROUNDS
    assert sum(crm.deals.get(d).paid_total for d in deals) == THREADS * ROUNDS
    assert len(set(opened)) == THREADS * ROUNDS
    managers = [crm.deals.get(d).manager_id for d in opened]
    assert {managers.count(m) for m in ("m1", "m2")} == {THREADS * ROUNDS // 2}


def test_a_conflicting_save_in_a_shared_commit_is_rolled_back_alone(tmp_path):
    app = use_cases(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "d.db")},
        managers=["m1"],
    )
    try:
        store = app.store
        recorder = store.recorder
        assert isinstance(recorder, GroupCommitRecorder)
        first, second = (app.opening.by_hand(f"deal {i}").id for i in range(2))

        def paid(deal_id):  # the stored events of one payment on a freshly loaded copy
            deal = app.deals.get(deal_id)
            deal.record_payment(Decimal("1"), deal.modified_on)
            return [store.mapper.to_stored_event(e) for e in deal.collect_events()]

        one, same_version, other = paid(first), paid(first), paid(second)
        saves = [PendingSave(one, {}), PendingSave(same_version, {}), PendingSave(other, {})]
        recorder._write(saves)
        assert [s.done for s in saves] == [True, True, True]
        assert isinstance(saves[1].error, RecordConflictError)
        assert saves[0].error is None and saves[2].error is None
        assert saves[0].notification_ids and saves[2].notification_ids
        assert [app.deals.get(d).paid_total for d in (first, second)] == [1, 1]
        assert recorder.max_notification_id() == saves[2].notification_ids[-1]
    finally:
        app.close()
