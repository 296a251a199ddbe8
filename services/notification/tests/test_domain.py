"""Pure rules: matching, timing and quiet hours in the recipient's zone, digest periods,
templates in a sandbox, and the tolerant reading of analytics reports."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from notification.adapters.analytics import total
from notification.domain.defaults import DEFAULT_RULES
from notification.domain.deliveries import delivery_id, recipient_hash, retry_delay
from notification.domain.rules import QuietHours, Rule, Template, Timing, matches
from notification.domain.templates import RenderError, render
from notification.domain.timing import (
    TooLate,
    after_quiet_hours,
    digest_cron,
    digest_period,
    send_time,
)

NIGHT = QuietHours(start=time(22), end=time(8))
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def rule(**trigger: object) -> Rule:
    return Rule(
        id="r",
        trigger={"event_type": "deal.opened", **trigger},
        audience=["manager"],
        channel="email",
        template={"body": {"en": "x"}},
    )


def test_filters_match_on_event_or_deal_facts():
    facts = {"pipeline_id": "b2b", "stage": "new", "source": "form", "amount": "1500"}
    assert matches(rule(), "deal.opened", facts)
    assert not matches(rule(), "deal.won", facts)
    assert matches(
        rule(pipeline="b2b", stage="new", source="form", amount_gte="1500"), "deal.opened", facts
    )
    assert not matches(rule(amount_gte="1500.01"), "deal.opened", facts)
    assert not matches(rule(pipeline="retail"), "deal.opened", facts)
    assert not matches(rule(amount_gte="1"), "deal.opened", facts | {"amount": None})
    assert not matches(rule().model_copy(update={"enabled": False}), "deal.opened", facts)


def test_send_time_immediately_after_before():
    now = T0
    assert send_time(Timing(), T0, None, now) == T0
    assert send_time(Timing(mode="after", offset="PT30M"), T0, None, now) == T0 + timedelta(
        minutes=30
    )
    due = T0 + timedelta(days=2)
    assert send_time(Timing(mode="before", offset="P1D"), T0, due, now) == T0 + timedelta(days=1)
    with pytest.raises(TooLate):
        send_time(Timing(mode="before", offset="PT1H"), T0, T0 - timedelta(seconds=1), now)


def test_quiet_hours_in_the_recipients_zone():
    # 20:30 UTC is 23:30 in Moscow: quiet there until 08:00 Moscow = 05:00 UTC next day.
    late = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)
    assert after_quiet_hours(late, NIGHT, "Europe/Moscow") == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert after_quiet_hours(late, NIGHT, "UTC") == late  # 20:30 in London-ish UTC: allowed
    early = datetime(2026, 3, 3, 4, 59, 30, tzinfo=UTC)  # 07:59:30 Moscow
    assert after_quiet_hours(early, NIGHT, "Europe/Moscow") == datetime(
        2026, 3, 3, 5, 0, tzinfo=UTC
    )
    assert after_quiet_hours(early, None, "Europe/Moscow") == early
    lunch = QuietHours(start=time(13), end=time(14))  # not spanning midnight
    assert after_quiet_hours(T0.replace(hour=10, minute=15), lunch, "Europe/Moscow") == T0.replace(
        hour=11
    )


def test_digest_clock_and_periods():
    daily = Timing(mode="daily", at="09:00")
    weekly = Timing(mode="weekly", at="09:30", weekday=1)
    assert digest_cron(daily) == "0 0 9 * * *"
    assert digest_cron(weekly) == "0 30 9 * * 1"
    assert digest_cron(Timing(mode="weekly", at="09:00", weekday=7)) == "0 0 9 * * 0"
    fired = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)  # Wednesday 09:00 in Moscow
    start, end = digest_period(daily, fired, "Europe/Moscow")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-03T00:00:00+03:00",
        "2026-03-04T00:00:00+03:00",
    )
    start, end = digest_period(weekly, fired, "Europe/Moscow")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-02-23T00:00:00+03:00",
        "2026-03-02T00:00:00+03:00",
    )


def test_templates_per_language_in_a_sandbox():
    template = Template(
        subject={"en": "Hi {{ client.name }}"},
        body={"en": "At {{ task.due_at | local }}", "ru": "В {{ task.due_at | local('%H:%M') }}"},
    )
    context = {"client": {"name": "Olga"}, "task": {"due_at": "2026-03-02T12:00:00+00:00"}}
    assert render(template, context, "en", "en", "Europe/Moscow") == (
        "Hi Olga",
        "At 2026-03-02 15:00",
    )
    assert render(template, context, "ru", "en", "UTC")[1] == "В 12:00"
    assert render(template, context, "de", "en", "UTC")[1] == "At 2026-03-02 12:00"  # fallback
    with pytest.raises(RenderError, match="nope"):
        render(Template(body={"en": "{{ client.nope }}"}), context, None, "en", "UTC")
    with pytest.raises(RenderError):  # no way out of the sandbox
        render(
            Template(body={"en": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}),
            context,
            None,
            "en",
            "UTC",
        )


def test_default_rules_cover_the_issue():
    by_id = {r.id: r for r in DEFAULT_RULES}
    assert by_id["deal-opened-to-manager"].channel == "email"
    assert by_id["deal-opened-to-manager-telegram"].channel == "telegram"
    assert by_id["task-due-to-manager"].timing.offset == timedelta(hours=1)
    assert by_id["meeting-to-client-day-before"].timing.offset == timedelta(days=1)
    assert by_id["meeting-to-client-hour-before"].trigger.task_kind == "meeting"
    assert by_id["deal-won-thank-you"].audience == ["client"]
    assert by_id["weekly-digest"].timing.weekday == 1 and by_id["daily-digest"].audience == [
        "heads"
    ]


def test_ids_hashes_and_backoff():
    assert delivery_id("e1", "r", "manager:m1") == delivery_id("e1", "r", "MANAGER:M1")
    assert delivery_id("e1", "r", "manager:m1") != delivery_id("e2", "r", "manager:m1")
    assert recipient_hash("a@b.c", "s1") != recipient_hash("a@b.c", "s2")
    assert "a@b.c" not in recipient_hash("a@b.c", "s1")
    assert [retry_delay(n, 1.0, 5.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]


def test_reports_are_read_tolerantly():
    assert total({"totals": {"won": 3}}, "won") == 3
    assert total({"current": {"totals": {"revenue": "10.5"}}}, "revenue") == Decimal("10.5")
    assert total({"buckets": [{"won_deals": 1}, {"won_deals": 2}]}, "won", "won_deals") == 3
    assert total({"leads": {"current": 7}}, "leads") == 7
    assert total({"something": "else"}, "leads") == 0


def test_a_line_break_in_a_subject_is_a_permanent_send_error_not_a_crash():
    import asyncio

    from notification.adapters.channels.email import EmailChannel
    from notification.domain.deliveries import SendError
    from notification.settings import NotificationSettings

    channel = EmailChannel(NotificationSettings(smtp_port=1))
    message = type(
        "Outgoing",
        (),
        {"to": "a@b.ru\nBcc: x@y.ru", "subject": "Big\nDeal", "delivery_id": "d1", "text": "hi"},
    )()
    try:
        asyncio.run(channel.send(message))
    except SendError as exc:
        assert not exc.transient and "cannot build the e-mail" in exc.reason
    else:
        raise AssertionError("a header with a line break must not be sent")
