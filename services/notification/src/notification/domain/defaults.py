"""The rules a fresh installation starts with (seeded into an empty rules bucket). Operators
change them through the API like any other rule."""

from __future__ import annotations

from typing import Any

from notification.domain.rules import Rule

_NEW_DEAL_SUBJECT = {"en": "New deal: {{ deal.title }}", "ru": "Новая сделка: {{ deal.title }}"}
_AMOUNT = "{{ deal.amount | money(deal.currency) if deal.amount | float > 0 else %r }}"
_NEW_DEAL_BODY = {
    "en": (
        "A new deal is yours: {{ deal.title }}\n\n"
        "Stage: {{ deal.stage }}\n"
        f"Amount: {_AMOUNT % 'not set yet'}\n"
        "Opened: {{ event.occurred_at | datetime }}\n"
        "Deal: {{ deal.url }}\n"
    ),
    "ru": (
        "Новая сделка: {{ deal.title }}\n\n"
        "Этап: {{ deal.stage }}\n"
        f"Сумма: {_AMOUNT % 'не указана'}\n"
        "Открыта: {{ event.occurred_at | datetime }}\n"
        "Сделка: {{ deal.url }}\n"
    ),
}
_CLIENT_QUIET = {"start": "21:00", "end": "09:00"}


def _meeting_reminder(rule_id: str, offset: str, before: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "description": f"The client is reminded of a meeting {before} it.",
        "trigger": {"event_type": "task.scheduled", "task_kind": "meeting"},
        "audience": ["client"],
        "channel": "email",
        "timing": {"mode": "before", "offset": offset},
        "template": {
            # The time left as it really is when the reminder goes, not as the rule meant it.
            "subject": {
                "en": "Reminder: our meeting {{ task.due_at | from_now }}",
                "ru": "Напоминание: встреча {{ task.due_at | from_now }}",
            },
            "body": {
                "en": "Hello {{ client.name or '' }},\n\nthis is a reminder of our meeting "
                "«{{ task.title }}» on {{ task.due_at | datetime }}.\n",
                "ru": "Здравствуйте, {{ client.name or '' }}!\n\nНапоминаем о встрече "
                "«{{ task.title }}»: {{ task.due_at | datetime }}.\n",
            },
        },
    }


def _digest(rule_id: str, mode: str, extra: dict[str, Any]) -> dict[str, Any]:
    what = {"daily": ("daily", "за день"), "weekly": ("weekly", "за неделю")}[mode]
    days = "{{ period.first | date }}"
    if mode == "weekly":
        days += " – {{ period.last | date }}"
    return {
        "id": rule_id,
        "description": f"{what[0].capitalize()} digest of key reports to the heads of sales.",
        "trigger": {"event_type": "digest"},
        "audience": ["heads"],
        "channel": "email",
        "timing": {"mode": mode, "at": "09:00", **extra},
        "template": {
            "subject": {
                "en": f"CRM {what[0]} digest: {days}",
                "ru": f"Сводка CRM {what[1]}: {days}",
            },
            "body": {
                "en": f"Sales for {days}:\n\n"
                "Leads: {{ report.leads }}\n"
                "Won deals: {{ report.won }}\n"
                "Revenue: {{ report.revenue | money(report.currency) }}\n",
                "ru": f"Продажи за {days}:\n\n"
                "Лиды: {{ report.leads }}\n"
                "Выиграно сделок: {{ report.won }}\n"
                "Выручка: {{ report.revenue | money(report.currency) }}\n",
            },
        },
    }


DEFAULT_RULES: list[Rule] = [
    Rule.model_validate(r)
    for r in [
        {
            "id": "deal-opened-to-manager",
            "description": "A new lead's deal: its responsible manager gets an e-mail.",
            "trigger": {"event_type": "deal.opened"},
            "audience": ["manager"],
            "channel": "email",
            "template": {"subject": _NEW_DEAL_SUBJECT, "body": _NEW_DEAL_BODY},
        },
        {
            "id": "deal-opened-to-manager-telegram",
            "description": "A new lead's deal: its responsible manager gets a Telegram message.",
            "trigger": {"event_type": "deal.opened"},
            "audience": ["manager"],
            "channel": "telegram",
            "template": {"body": _NEW_DEAL_BODY},
        },
        {
            "id": "task-due-to-manager",
            "description": "A task's manager is reminded an hour before it is due.",
            "trigger": {"event_type": "task.scheduled"},
            "audience": ["manager"],
            "channel": "email",
            "timing": {"mode": "before", "offset": "PT1H"},
            "template": {
                "subject": {
                    "en": "{{ task.due_at | from_now | ucfirst }}: {{ task.title }}",
                    "ru": "{{ task.due_at | from_now | ucfirst }}: {{ task.title }}",
                },
                "body": {
                    "en": "{{ task.kind | capitalize }} «{{ task.title }}» is due "
                    "{{ task.due_at | datetime }}.\nDeal: {{ deal.url }}\n",
                    "ru": "Задача «{{ task.title }}»: {{ task.due_at | datetime }}.\n"
                    "Сделка: {{ deal.url }}\n",
                },
            },
        },
        _meeting_reminder("meeting-to-client-day-before", "P1D", "a day"),
        _meeting_reminder("meeting-to-client-hour-before", "PT1H", "an hour"),
        {
            "id": "deal-won-thank-you",
            "description": "A won deal: the client is thanked (not at night in their zone).",
            "trigger": {"event_type": "deal.won"},
            "audience": ["client"],
            "channel": "email",
            "quiet_hours": _CLIENT_QUIET,
            "template": {
                "subject": {"en": "Thank you for your order", "ru": "Спасибо за покупку"},
                "body": {
                    "en": "Hello {{ client.name or '' }},\n\nthank you for choosing us: "
                    "«{{ deal.title }}» is confirmed.\n",
                    "ru": "Здравствуйте, {{ client.name or '' }}!\n\nСпасибо, что выбрали "
                    "нас: «{{ deal.title }}» подтверждена.\n",
                },
            },
        },
        _digest("daily-digest", "daily", {}),
        _digest("weekly-digest", "weekly", {"weekday": 1}),
    ]
]
