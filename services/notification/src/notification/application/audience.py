"""Who a rule reaches and at which address on its channel."""

from __future__ import annotations

from typing import Any

from notification.application.ports import People
from notification.domain.deliveries import Recipient
from notification.domain.rules import Rule
from notification.settings import NotificationSettings

ADDRESS_FIELD = {"email": "email", "telegram": "telegram_chat_id", "sms": "phone"}


def _address(channel: str, record: dict[str, Any], settings: NotificationSettings) -> str | None:
    if channel == "webhook":
        return settings.webhook_url
    value = record.get(ADDRESS_FIELD[channel])
    return str(value) if value else None


def _person(
    identity: str,
    channel: str,
    record: dict[str, Any],
    settings: NotificationSettings,
    fallback: str | None = None,
) -> Recipient:
    address = _address(channel, record, settings) or fallback
    return Recipient(
        identity=identity,
        address=address,
        name=record.get("name"),
        timezone=record.get("timezone"),
        language=record.get("language"),
        problem=None if address else f"unknown recipient: {identity} has no {channel} address",
    )


async def recipients(
    rule: Rule, context: dict[str, Any], directory: People, settings: NotificationSettings
) -> list[Recipient]:
    found: list[Recipient] = []
    ids = context.get("ids", {})
    for kind in rule.audience:
        if kind == "manager":
            manager_id = ids.get("manager_id")
            if not manager_id:
                found.append(Recipient("manager:?", None, problem="unknown recipient: no manager"))
                continue
            record = context["manager"]
            fallback = None
            if rule.channel == "email":  # settings-based addresses still count
                fallback = settings.manager_emails.get(manager_id, settings.default_manager_email)
            person = _person(f"manager:{manager_id}", rule.channel, record, settings, fallback)
            if record.get("active") is False:
                person = Recipient(
                    person.identity, None, problem=f"manager {manager_id} is inactive"
                )
            found.append(person)
        elif kind == "client":
            client_id, lead_id = ids.get("client_id"), ids.get("lead_id")
            identity = (
                f"client:{client_id}" if client_id else f"lead:{lead_id}" if lead_id else "client:?"
            )
            found.append(_person(identity, rule.channel, context["client"], settings))
        elif kind == "heads":
            heads = await directory.heads()
            found += [_person(f"manager:{h['id']}", rule.channel, h, settings) for h in heads]
            if not heads and rule.channel == "email":
                found += [Recipient(f"head:{a.lower()}", a) for a in settings.heads_of_sales]
            if not heads and not (rule.channel == "email" and settings.heads_of_sales):
                found.append(
                    Recipient("heads:?", None, problem="unknown recipient: no heads of sales")
                )
        else:
            found += [Recipient(f"fixed:{a}", a) for a in rule.recipients]
    return found
