"""What people read: the whole text of every default template in Russian and English, money
and dates in the recipient's language and zone, and the time left as it really is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from notification.application.context import shaped
from notification.domain.defaults import DEFAULT_RULES
from notification.domain.templates import render
from notification.domain.wording import from_now, money
from notification.settings import NotificationSettings

NB = "\u00a0"
RULES = {r.id: r for r in DEFAULT_RULES}
NOW = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
URL = "http://127.0.0.1:8004/?page=deal&id=d1"


def context(**extra: object) -> dict:
    deal = {"deal_id": "d1", "title": "Big order", "stage": "new", "amount": "120000.00"}
    return {
        "event": {"occurred_at": NOW.isoformat()},
        "deal": shaped("deal", deal | {"currency": "RUB", "url": URL}),
        "client": shaped("client", {"name": "Olga"}),
        "lead": shaped("lead", {}),
        "manager": shaped("manager", {}),
        "task": shaped("task", {"title": "Call back", "kind": "call"}),
    } | extra


def text(rule_id: str, language: str, ctx: dict, now: datetime = NOW) -> tuple[str, str]:
    return render(RULES[rule_id].template, ctx, language, "en", "Europe/Moscow", now=now)


def test_the_deal_link_opens_the_dashboard_by_default():
    url = NotificationSettings().deal_url_template.format(deal_id="d1")
    assert url == URL


@pytest.mark.parametrize(
    ("language", "subject", "body"),
    [
        (
            "en",
            "New deal: Big order",
            "A new deal is yours: Big order\n\nStage: new\nAmount: ₽120,000\n"
            f"Opened: Mar 1, 2026, 10:00 MSK\nDeal: {URL}",
        ),
        (
            "ru",
            "Новая сделка: Big order",
            f"Новая сделка: Big order\n\nЭтап: new\nСумма: 120{NB}000{NB}₽\n"
            f"Открыта: 1 марта 2026, 10:00 MSK\nСделка: {URL}",
        ),
    ],
)
def test_new_deal_whole_text(language: str, subject: str, body: str):
    assert text("deal-opened-to-manager", language, context()) == (subject, body)
    # Telegram: the same body (its channel adds no subject line of its own)
    assert text("deal-opened-to-manager-telegram", language, context())[1] == body


def test_new_deal_without_an_amount_keeps_its_lines():
    ctx = context()
    ctx["deal"] = ctx["deal"] | {"amount": None}
    assert "Amount: not set yet\nOpened: Mar 1" in text("deal-opened-to-manager", "en", ctx)[1]
    assert "Сумма: не указана\nОткрыта: 1 марта" in text("deal-opened-to-manager", "ru", ctx)[1]


def test_task_reminder_whole_text():
    ctx = context(task=shaped("task", {"title": "Call back", "kind": "call"}))
    ctx["task"]["due_at"] = (NOW + timedelta(hours=1)).isoformat()
    assert text("task-due-to-manager", "en", ctx) == (
        "In 1 hour: Call back",
        f"Call «Call back» is due Mar 1, 2026, 11:00 MSK.\nDeal: {URL}",
    )
    assert text("task-due-to-manager", "ru", ctx) == (
        "Через 1 час: Call back",
        f"Задача «Call back»: 1 марта 2026, 11:00 MSK.\nСделка: {URL}",
    )


def test_a_task_due_in_75_seconds_is_not_in_an_hour():
    ctx = context()
    ctx["task"]["due_at"] = NOW + timedelta(seconds=75)
    assert text("task-due-to-manager", "en", ctx)[0] == "In 1 minute: Call back"
    assert text("task-due-to-manager", "ru", ctx)[0] == "Через 1 минуту: Call back"


def test_meeting_reminders_whole_text():
    ctx = context(task=shaped("task", {"title": "Demo", "kind": "meeting"}))
    ctx["task"]["due_at"] = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # tomorrow 10:00 Moscow
    assert text("meeting-to-client-day-before", "en", ctx) == (
        "Reminder: our meeting tomorrow at 10:00",
        "Hello Olga,\n\nthis is a reminder of our meeting «Demo» on Mar 2, 2026, 10:00 MSK.",
    )
    assert text("meeting-to-client-day-before", "ru", ctx) == (
        "Напоминание: встреча завтра в 10:00",
        "Здравствуйте, Olga!\n\nНапоминаем о встрече «Demo»: 2 марта 2026, 10:00 MSK.",
    )
    an_hour_before = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert text("meeting-to-client-hour-before", "en", ctx, an_hour_before)[0] == (
        "Reminder: our meeting in 1 hour"
    )
    assert text("meeting-to-client-hour-before", "ru", ctx, an_hour_before)[0] == (
        "Напоминание: встреча через 1 час"
    )


def test_thank_you_whole_text():
    assert text("deal-won-thank-you", "en", context()) == (
        "Thank you for your order",
        "Hello Olga,\n\nthank you for choosing us: «Big order» is confirmed.",
    )
    assert text("deal-won-thank-you", "ru", context()) == (
        "Спасибо за покупку",
        "Здравствуйте, Olga!\n\nСпасибо, что выбрали нас: «Big order» подтверждена.",
    )


def test_digests_whole_text():
    report = {"leads": 12, "won": 3, "revenue": Decimal("4500.50"), "currency": "RUB"}
    daily = {"period": {"first": date(2026, 2, 28), "last": date(2026, 2, 28)}, "report": report}
    assert text("daily-digest", "en", daily) == (
        "CRM daily digest: Feb 28, 2026",
        "Sales for Feb 28, 2026:\n\nLeads: 12\nWon deals: 3\nRevenue: ₽4,500.50",
    )
    assert text("daily-digest", "ru", daily) == (
        "Сводка CRM за день: 28 февраля 2026",
        f"Продажи за 28 февраля 2026:\n\nЛиды: 12\nВыиграно сделок: 3\nВыручка: 4{NB}500,50{NB}₽",
    )
    weekly = daily | {"period": {"first": date(2026, 2, 23), "last": date(2026, 3, 1)}}
    assert text("weekly-digest", "en", weekly)[0] == "CRM weekly digest: Feb 23, 2026 – Mar 1, 2026"
    assert text("weekly-digest", "ru", weekly)[0] == (
        "Сводка CRM за неделю: 23 февраля 2026 – 1 марта 2026"
    )


def test_money_per_language():
    assert money("120000", "RUB", "ru") == f"120{NB}000{NB}₽"
    assert money("120000", "RUB", "en") == "₽120,000"
    assert money("1500.5", "USD", "en") == "$1,500.50"
    assert money("1500.5", "USD", "ru") == f"1{NB}500,50{NB}$"
    assert money("5000", "KZT", "en") == f"KZT{NB}5,000"
    assert money("5000", "KZT", "ru") == f"5{NB}000{NB}KZT"
    assert money(None, "RUB", "ru") == ""


@pytest.mark.parametrize(
    ("seconds", "en", "ru"),
    [
        (20, "now", "сейчас"),
        (75, "in 1 minute", "через 1 минуту"),
        (170, "in 3 minutes", "через 3 минуты"),
        (11 * 60, "in 11 minutes", "через 11 минут"),
        (21 * 60, "in 21 minutes", "через 21 минуту"),
        (59 * 60 + 50, "in 1 hour", "через 1 час"),
        (75 * 60, "in 1 hour 15 minutes", "через 1 час 15 минут"),
        (2 * 3600, "in 2 hours", "через 2 часа"),
        (5 * 3600 + 60, "in 5 hours 1 minute", "через 5 часов 1 минуту"),
        (8 * 3600, "today at 18:00", "сегодня в 18:00"),
        (24 * 3600, "tomorrow at 10:00", "завтра в 10:00"),
        (2 * 86400, "in 2 days, Mar 3 at 10:00", "через 2 дня, 3 марта в 10:00"),
        (5 * 86400, "in 5 days, Mar 6 at 10:00", "через 5 дней, 6 марта в 10:00"),
        (21 * 86400, "in 21 days, Mar 22 at 10:00", "через 21 день, 22 марта в 10:00"),
    ],
)
def test_time_left_in_words(seconds: int, en: str, ru: str):
    now = NOW.astimezone(ZoneInfo("Europe/Moscow"))
    due = now + timedelta(seconds=seconds)
    assert from_now(due, now, "en") == en
    assert from_now(due, now, "ru") == ru
