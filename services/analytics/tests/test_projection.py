"""Projection rules, pure: what each event does to the deal rows and stage intervals."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.folds import apply_deal, deal_key, fold
from analytics.domain.projection.rows import PaymentRow, StageIntervalRow
from analytics.domain.projection.tables import rows_of
from services.analytics.tests.history import DealStory

T0 = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
H = timedelta(hours=1)
CONFIG = ProjectionConfig()


def deals(events, current=None):
    return fold(events, current if current is not None else {}, deal_key, apply_deal, CONFIG)


def intervals(events):
    return [row for e in events for row in rows_of(e, CONFIG) if isinstance(row, StageIntervalRow)]


def test_opening_and_moves_fold_into_the_latest_row():
    story = DealStory("d1", T0, "1000").move("proposal", T0 + H)
    story.move("lost", T0 + 2 * H, "lost", "price")
    row = deals(story.events)["d1"]
    assert (row.stage, row.status, row.version, row.amount) == ("lost", "lost", 3, Decimal(1000))
    assert (row.lost_reason, row.lost_at_stage, row.closed_at) == ("price", "proposal", T0 + 2 * H)
    assert intervals(story.events) == [
        StageIntervalRow("d1", "default", "new", 1, T0, None, 1),
        StageIntervalRow("d1", "default", "new", 1, T0, T0 + H, 2),
        StageIntervalRow("d1", "default", "proposal", 2, T0 + H, None, 2),
        StageIntervalRow("d1", "default", "proposal", 2, T0 + H, T0 + 2 * H, 3),
        StageIntervalRow("d1", "default", "lost", 3, T0 + 2 * H, None, 3),
    ]


def test_events_not_newer_than_the_stored_state_change_no_row():
    story = DealStory("d1", T0).move("won", T0 + H, "won")
    first = deals(story.events)
    assert deals(story.events, dict(first)) == {}


def test_events_out_of_order_in_a_batch_are_applied_by_version():
    story = DealStory("d1", T0).move("qualified", T0 + H).move("won", T0 + 2 * H, "won")
    assert deals(list(reversed(story.events)))["d1"].stage == "won"


def test_reopened_deal_is_open_again_then_won():
    story = DealStory("d1", T0, "100").move("lost", T0 + H, "lost", "price")
    story.move("proposal", T0 + 2 * H)  # reopened
    reopened = deals(story.events)["d1"]
    assert (reopened.status, reopened.stage, reopened.lost_reason, reopened.closed_at) == (
        "open",
        "proposal",
        "",
        None,
    )
    assert type(story.events[-1]).__name__ == "DealReopened"
    story.win(T0 + 3 * H)
    won = deals(story.events)["d1"]
    assert (won.status, won.closed_at, won.version) == ("won", T0 + 3 * H, 4)


def test_amount_payments_and_tasks():
    from analytics.domain.projection.folds import apply_task, task_key

    story = DealStory("d1", T0, "100", client="c1").set_amount("250.50", T0 + H, cost="80")
    story.pay("100", T0 + 2 * H).pay("150.50", T0 + 3 * H)
    story.task("t1", due_at=T0 + 5 * H, at=T0 + 4 * H).complete("t1", T0 + 6 * H)
    row = deals(story.events)["d1"]
    assert (row.amount, row.cost, row.paid_total) == (
        Decimal("250.50"),
        Decimal(80),
        Decimal("250.50"),
    )
    payments = [r for e in story.events for r in rows_of(e, CONFIG) if isinstance(r, PaymentRow)]
    assert [(p.payment_id, p.amount) for p in payments] == [
        ("d1-p3", Decimal(100)),
        ("d1-p4", Decimal("150.50")),
    ]
    task = fold(story.events, {}, task_key, apply_task, CONFIG)["t1"]
    assert (task.status, task.due_at, task.closed_at, task.manager_id) == (
        "completed",
        T0 + 5 * H,
        T0 + 6 * H,
        "m1",
    )


def test_a_late_event_still_lands_when_a_newer_one_was_stored_first(clickhouse):
    """v1 and v3 are stored before v2 arrives (a redelivery after kill -9 does this): the
    deal row must end with both v2's stage and v3's amount."""
    from services.analytics.tests.reports_support import load

    story = DealStory("d1", T0, "100").move("qualified", T0 + H).set_amount("700", T0 + 2 * H)
    v1, v2, v3 = story.events
    load(clickhouse, [v1])
    load(clickhouse, [v3])
    load(clickhouse, [v2])
    load(clickhouse, [v3, v1])  # and redelivered again: no change
    rows = clickhouse.rows("SELECT stage, amount, version FROM {db}.deals FINAL")
    assert rows == [{"stage": "qualified", "amount": Decimal("700.00"), "version": 3}]
