"""Use cases on a real SQLite event store."""

import threading

import pytest

from deal_pipeline.application import DealsApp
from deal_pipeline.domain.errors import DealClosed, DealNotFound


def notification_count(app: DealsApp) -> int:
    return len(app.recorder.select_notifications(None, 1000))


def test_a_lead_opens_one_deal_however_often_it_arrives(deals):
    first = deals.open_deal_from_lead("lead-1", "Ann")
    second = deals.open_deal_from_lead("lead-1", "Ann")
    assert first == second
    assert deals.get_deal(first).version == 1
    assert notification_count(deals) == 1


def test_managers_are_spread_and_stable(deals):
    ids = [deals.open_deal_from_lead(f"lead-{i}", "x") for i in range(20)]
    managers = [deals.get_deal(i).manager_id for i in ids]
    assert set(managers) == {"m1", "m2"}
    assert managers == [deals.pick_manager(i) for i in ids]


def test_moves_are_stored(deals, store_path):
    deal_id = deals.open_deal_from_lead("lead-1", "Ann")
    deals.move_stage(deal_id, "proposal")
    reopened = DealsApp(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(store_path)}
    )
    assert reopened.get_deal(deal_id).stage == "proposal"
    reopened.close()


def test_unknown_deal(deals):
    from uuid import uuid4

    with pytest.raises(DealNotFound):
        deals.move_stage(uuid4(), "won")


def test_refused_command_stores_nothing(deals):
    deal_id = deals.open_deal_from_lead("lead-1", "Ann")
    deals.move_stage(deal_id, "won")
    with pytest.raises(DealClosed):
        deals.move_stage(deal_id, "new")
    assert notification_count(deals) == 2


def test_concurrent_writers_on_one_deal_lose_no_update(deals, store_path):
    """Two applications on one store move the same deal; a save that hit the other's write is
    retried on fresh state. Each thread alternates between two stages the other never uses,
    so every move changes the deal: the history must hold exactly 1 + 2 × moves events."""
    deal_id = deals.open_deal_from_lead("lead-1", "Ann")
    other = DealsApp(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(store_path)}
    )
    moves = 40
    errors: list[BaseException] = []

    def hammer(app: DealsApp, stages: tuple[str, str]) -> None:
        try:
            for i in range(moves):
                app.move_stage(deal_id, stages[i % 2])
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=hammer, args=(deals, ("qualified", "proposal"))),
        threading.Thread(target=hammer, args=(other, ("invoice", "new"))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = deals.recorder.select_notifications(None, 1000)
    versions = [deals.mapper.to_domain_event(n).originator_version for n in history]
    assert versions == list(range(1, 2 * moves + 2))
    other.close()
