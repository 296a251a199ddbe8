"""The rules a fresh installation starts with (seeded into an empty rules bucket). Operators
change them through the API like any other rule."""

from __future__ import annotations

from notification.domain.rules import Rule

_NEW_DEAL_SUBJECT = {"en": "New deal: {{ deal.title }}", "ru": "Новая сделка: {{ deal.title }}"}
_NEW_DEAL_BODY = {
    "en": (
        "A new deal is yours: {{ deal.title }}\n\n"
        "Stage: {{ deal.stage }}\n"
        "Amount: {% if deal.amount | float > 0 %}{{ deal.amount }} {{ deal.currency }}"
        "{% else %}not set yet{% endif %}\n"
        "Opened: {{ event.occurred_at | local('%Y-%m-%d %H:%M %Z') }}\n"
        "Deal: {{ deal.url }}\n"
    ),
    "ru": (
        "Новая сделка: {{ deal.title }}\n\n"
        "Этап: {{ deal.stage }}\n"
        "Сумма: {% if deal.amount | float > 0 %}{{ deal.amount }} {{ deal.currency }}"
        "{% else %}не указана{% endif %}\n"
        "Сделка: {{ deal.url }}\n"
    ),
}
_CLIENT_QUIET = {"start": "21:00", "end": "09:00"}


def _meeting_reminder(rule_id: str, offset: str, before: str, when_en: str, when_ru: str) -> dict:
    return {
        "id": rule_id,
        "description": f"The client is reminded of a meeting {before} it.",
        "trigger": {"event_type": "task.scheduled", "task_kind": "meeting"},
        "audience": ["client"],
        "channel": "email",
        "timing": {"mode": "before", "offset": offset},
        "template": {
            "subject": {
                "en": f"Reminder: our meeting {when_en}",
                "ru": f"Напоминание: встреча {when_ru}",
            },
            "body": {
                "en": "Hello {{ client.name or '' }},\n\nthis is a reminder of our meeting "
                "«{{ task.title }}» at {{ task.due_at | local('%Y-%m-%d %H:%M %Z') }}.\n",
                "ru": "Здравствуйте, {{ client.name or '' }}!\n\nНапоминаем о встрече "
                "«{{ task.title }}» {{ task.due_at | local('%d.%m.%Y в %H:%M') }}.\n",
            },
        },
    }


def _digest(rule_id: str, mode: str, what: str, extra: dict) -> dict:
    return {
        "id": rule_id,
        "description": f"{what.capitalize()} digest of key reports to the heads of sales.",
        "trigger": {"event_type": "digest"},
        "audience": ["heads"],
        "channel": "email",
        "timing": {"mode": mode, "at": "09:00", **extra},
        "template": {
            "subject": {"en": f"CRM {what} digest: {{{{ period.label }}}}"},
            "body": {
                "en": f"Sales for {{{{ period.label }}}} ({what}):\n\n"
                "Leads: {{ report.leads }}\n"
                "Won deals: {{ report.won }}\n"
                "Revenue: {{ report.revenue }} {{ report.currency }}\n"
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
                    "en": "In an hour: {{ task.title }}",
                    "ru": "Через час: {{ task.title }}",
                },
                "body": {
                    "en": "{{ task.kind | capitalize }} «{{ task.title }}» is due at "
                    "{{ task.due_at | local('%H:%M %Z') }}.\nDeal: {{ deal.url }}\n",
                    "ru": "Задача «{{ task.title }}» в {{ task.due_at | local('%H:%M') }}.\n"
                    "Сделка: {{ deal.url }}\n",
                },
            },
        },
        _meeting_reminder("meeting-to-client-day-before", "P1D", "a day", "tomorrow", "завтра"),
        _meeting_reminder(
            "meeting-to-client-hour-before", "PT1H", "an hour", "in an hour", "через час"
        ),
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
        _digest("daily-digest", "daily", "daily", {}),
        _digest("weekly-digest", "weekly", "weekly", {"weekday": 1}),
    ]
]
