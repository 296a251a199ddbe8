"""What a template sees (deal, client, lead, task, manager, event) and what a rule's filters
test, gathered from the trigger event and the directory."""

from __future__ import annotations

import asyncio
from typing import Any

from crm_contracts.envelope import Event
from notification.application.ports import People
from notification.settings import NotificationSettings

# Every name a template may use exists (None when unknown), so `{{ client.name or '' }}` works
# under StrictUndefined while a misspelt name still fails loudly.
SHAPES = {
    "deal": (
        "deal_id",
        "title",
        "pipeline_id",
        "stage",
        "status",
        "amount",
        "currency",
        "source",
        "manager_id",
        "client_id",
        "lead_id",
        "url",
    ),
    "client": ("id", "name", "email", "phone", "telegram_chat_id", "timezone"),
    "lead": ("id", "name", "email", "phone", "source", "utm_source", "utm_campaign", "message"),
    "task": ("task_id", "title", "kind", "due_at", "status"),
    "manager": ("id", "name", "email", "phone", "telegram_chat_id", "timezone", "role"),
}


def shaped(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    return {name: None for name in SHAPES[kind]} | {
        k: v for k, v in record.items() if not k.startswith("_")
    }


def ids_of(event: Event, deal: dict[str, Any]) -> dict[str, str | None]:
    """Manager, client and lead the event is about, from the event or else from its deal."""
    return {
        name: getattr(event, name, None) or deal.get(name)
        for name in ("manager_id", "client_id", "lead_id")
    }


async def event_context(
    event: Event, directory: People, settings: NotificationSettings
) -> dict[str, Any]:
    deal_id = getattr(event, "deal_id", None)
    deal = await directory.card("deals", deal_id)
    ids = ids_of(event, deal)
    lead, client, manager = await asyncio.gather(
        directory.card("leads", ids["lead_id"]),
        directory.card("clients", ids["client_id"]),
        directory.card("managers", ids["manager_id"]),
    )
    if not client and lead:  # a client not registered yet is still reachable through its lead
        client = {k: lead.get(k) for k in ("name", "email", "phone")} | {"id": None}
    data = event.model_dump()
    task = data if hasattr(event, "task_id") else {}
    if deal_id:
        deal = deal | {
            "deal_id": deal_id,
            "url": settings.deal_url_template.format(deal_id=deal_id),
        }
    return {
        "event": data,
        "deal": shaped("deal", deal),
        "client": shaped("client", client),
        "lead": shaped("lead", lead),
        "task": shaped("task", task),
        "manager": shaped(
            "manager", manager | ({"id": ids["manager_id"]} if ids["manager_id"] else {})
        ),
        "ids": ids,
    }


def facts(context: dict[str, Any]) -> dict[str, Any]:
    """The fields rule filters test: the event's own, else its deal's (and lead's source)."""
    event, deal = context["event"], context["deal"]
    return {
        "pipeline_id": event.get("pipeline_id") or deal.get("pipeline_id"),
        "stage": event.get("stage") or event.get("to_stage") or deal.get("stage"),
        "source": event.get("source") or deal.get("source") or context["lead"].get("source"),
        "amount": event.get("amount") if event.get("amount") is not None else deal.get("amount"),
        "kind": event.get("kind"),
    }
