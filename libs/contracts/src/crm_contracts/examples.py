"""One realistic message per event, exactly as it travels on the bus (the JSON a consumer
reads). They follow one story: Ivan leaves a lead from a Yandex Direct ad, the deal opens for
Anna, moves on, is invoiced, paid and won. The AsyncAPI catalogue shows them as the events'
examples; a contracts test parses each with its model and checks it serialises back unchanged."""

from __future__ import annotations

import copy
from typing import Any

from crm_contracts.envelope import Event
from crm_contracts.events import (
    ClientRegistered,
    ClientUpdated,
    DealAmountChanged,
    DealAssigned,
    DealInvoiceIssued,
    DealLost,
    DealOpened,
    DealPaymentReceived,
    DealReopened,
    DealStageChanged,
    DealWon,
    LeadReceived,
    ManagerUpdated,
    NotificationFailed,
    NotificationSent,
    PipelineDefined,
    PlanSet,
    TaskCancelled,
    TaskCompleted,
    TaskScheduled,
)

LEAD_ID = "3f6e2a1c-7b4d-4e8f-9a2b-5c1d0e9f8a7b"
DEAL_ID = "bf10fa55-43d5-517f-8909-857889ae78f9"  # derived from the lead id
CLIENT_ID = "a2c4e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e8f"
TASK_ID = "5d8e1f42-0c3a-4b7e-9f16-2a8d4c6b0e13"
REQUISITES = {
    "legal_name": "Acme LLC",
    "inn": "7701234567",
    "kpp": "770101001",
    "bank": "Sberbank",
    "bik": "044525225",
    "account": "40702810938000012345",
    "address": "Moscow, Tverskaya 1",
}


def _deal(event_id: str, version: int, occurred_at: str) -> dict[str, Any]:
    """The envelope of a deal-pipeline event about Ivan's deal."""
    return {
        "event_id": event_id,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "aggregate_id": DEAL_ID,
        "aggregate_version": version,
        "correlation_id": LEAD_ID,
        "causation_id": None,
        "producer": "deal-pipeline",
        "deal_id": DEAL_ID,
        "pipeline_id": "default",
    }


def _task(event_id: str, version: int, occurred_at: str) -> dict[str, Any]:
    envelope = _deal(event_id, version, occurred_at)
    del envelope["pipeline_id"]
    return envelope | {"task_id": TASK_ID, "manager_id": "anna", "client_id": CLIENT_ID}


def _reference(event_id: str, aggregate_id: str, occurred_at: str) -> dict[str, Any]:
    """The envelope of a card or definition of the deal pipeline (no lead behind it)."""
    return {
        "event_id": event_id,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "aggregate_id": aggregate_id,
        "aggregate_version": 1,
        "correlation_id": None,
        "causation_id": None,
        "producer": "deal-pipeline",
    }


def _notification(event_id: str, occurred_at: str) -> dict[str, Any]:
    key = "0d3c5b7a9e1f4a2c8b6d4e2f0a1c3e5b"
    return {
        "event_id": event_id,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "aggregate_id": key,
        "aggregate_version": 1,
        "correlation_id": LEAD_ID,
        "causation_id": None,
        "producer": "notification",
        "notification_id": key,
        "rule_id": "new-deal-manager-email",
        "channel": "email",
        "recipient_hash": "9c1f0e7d5b3a29184c6e0f2d4b8a7c6e5d3f1a0b9c8e7d6f5a4b3c2d1e0f9a8b",
        "trigger_event_id": "a129ccee-e4a7-5a33-8b5f-49f92ff5526e",
        "trigger_event_type": "deal.opened",
    }


_TOUCH_EMPTY = {
    "utm_source": None,
    "utm_medium": None,
    "utm_campaign": None,
    "utm_content": None,
    "utm_term": None,
    "referrer": None,
    "landing_url": None,
    "gclid": None,
    "yclid": None,
    "fbclid": None,
    "visitor_id": None,
    "at": None,
}

_TRANSITION = {"manager_id": "anna"}

EXAMPLES: dict[type[Event], dict[str, Any]] = {
    LeadReceived: {
        "event_id": LEAD_ID,
        "event_type": "lead.received",
        "schema_version": 1,
        "occurred_at": "2026-03-02T09:15:42.118000Z",
        "aggregate_id": LEAD_ID,
        "aggregate_version": 1,
        "correlation_id": LEAD_ID,
        "causation_id": None,
        "producer": "lead-intake",
        "lead_id": LEAD_ID,
        "form_id": "contact",
        "source": "form",
        "received_at": "2026-03-02T09:15:42.118000Z",
        "contact": {"name": "Ivan Petrov", "phone": "+79123456789", "email": "ivan@example.ru"},
        "message": "Need 10 office chairs, delivery to Moscow",
        "custom_fields": {"company": "Acme", "city": "Moscow"},
        "consent": True,
        "touch": _TOUCH_EMPTY
        | {
            "utm_source": "yandex",
            "utm_medium": "cpc",
            "utm_campaign": "spring_chairs",
            "utm_content": "banner_a",
            "utm_term": "office chairs",
            "referrer": "https://yandex.ru/",
            "landing_url": "https://shop.example/chairs?utm_source=yandex&utm_medium=cpc"
            "&utm_campaign=spring_chairs&yclid=7361982213",
            "yclid": "7361982213",
            "visitor_id": "v-8f2c41d7",
            "at": "2026-03-02T09:12:05Z",
        },
        "first_touch": _TOUCH_EMPTY
        | {
            "utm_source": "vk",
            "utm_medium": "social",
            "utm_campaign": "brand",
            "landing_url": "https://shop.example/?utm_source=vk&utm_medium=social",
            "visitor_id": "v-8f2c41d7",
            "at": "2026-02-20T18:40:11Z",
        },
    },
    DealOpened: _deal("a129ccee-e4a7-5a33-8b5f-49f92ff5526e", 1, "2026-03-02T09:15:43.305000Z")
    | {
        "event_type": "deal.opened",
        "causation_id": LEAD_ID,
        "lead_id": LEAD_ID,
        "stage": "new",
        "title": "Ivan Petrov (contact)",
        "manager_id": "anna",
        "client_id": CLIENT_ID,
        "source": "form",
        "amount": "0",
        "currency": "RUB",
        "cost": "0",
        "expected_close_date": None,
    },
    DealStageChanged: _deal("8e754102-9149-51f1-a3fe-4680ad2db82a", 3, "2026-03-03T11:02:10Z")
    | _TRANSITION
    | {
        "event_type": "deal.stage_changed",
        "from_stage": "new",
        "to_stage": "proposal",
        "from_stage_entered_at": "2026-03-02T09:15:43.305000Z",
        "from_stage_entered_version": 1,
        "status": "open",
        "lost_reason": None,
    },
    DealWon: _deal("530a1bae-75d5-5750-b603-7cc85dd7cf09", 9, "2026-03-12T15:30:00Z")
    | _TRANSITION
    | {
        "event_type": "deal.won",
        "from_stage": "invoice",
        "to_stage": "won",
        "from_stage_entered_at": "2026-03-05T10:00:00Z",
        "from_stage_entered_version": 6,
        "status": "won",
        "amount": "150000.00",
        "currency": "RUB",
    },
    DealLost: _deal("ce83c7a5-1dfb-512e-ac0a-45b84ede7b8f", 4, "2026-03-04T08:45:00Z")
    | _TRANSITION
    | {
        "event_type": "deal.lost",
        "from_stage": "proposal",
        "to_stage": "lost",
        "from_stage_entered_at": "2026-03-03T11:02:10Z",
        "from_stage_entered_version": 3,
        "status": "lost",
        "lost_reason": "price",
    },
    DealReopened: _deal("9efa01e3-d94b-5a6c-9870-30279a3a37a3", 5, "2026-03-04T16:20:00Z")
    | _TRANSITION
    | {
        "event_type": "deal.reopened",
        "from_stage": "lost",
        "to_stage": "proposal",
        "from_stage_entered_at": "2026-03-04T08:45:00Z",
        "from_stage_entered_version": 4,
        "status": "open",
    },
    DealAmountChanged: _deal("4a86ae92-1142-51fe-99ee-8e9ad6d2dabc", 2, "2026-03-02T12:00:00Z")
    | {
        "event_type": "deal.amount_changed",
        "amount": "150000.00",
        "currency": "RUB",
        "cost": "90000.00",
        "previous_amount": "0",
        "expected_close_date": "2026-03-31",
    },
    DealAssigned: _deal("73f82436-7d2e-57e2-bd1b-33a1aa70d19a", 7, "2026-03-05T09:00:00Z")
    | {"event_type": "deal.assigned", "manager_id": "boris", "previous_manager_id": "anna"},
    DealInvoiceIssued: _deal("f3e7a5b2-6d72-514e-b26f-a055051b3df2", 6, "2026-03-05T10:00:00Z")
    | {
        "event_type": "deal.invoice_issued",
        "invoice_id": "INV-000001",
        "number": "INV-000001",
        "amount": "150000.00",
        "currency": "RUB",
        "client_id": CLIENT_ID,
        "requisites": REQUISITES,
        "due_date": "2026-03-15",
    },
    DealPaymentReceived: _deal("3b347bf2-96a9-5aa2-b092-fec7373b3d96", 8, "2026-03-12T15:29:58Z")
    | {
        "event_type": "deal.payment_received",
        "payment_id": "PAY-000001",
        "invoice_id": "INV-000001",
        "amount": "150000.00",
        "currency": "RUB",
        "paid_at": "2026-03-12T12:00:00Z",
        "client_id": CLIENT_ID,
        "manager_id": "anna",
        "paid_total": "150000.00",
    },
    TaskScheduled: _task("700aa43f-a9a7-576c-8347-65dca7f608a3", 4, "2026-03-03T11:05:00Z")
    | {
        "event_type": "task.scheduled",
        "title": "Demo of the chairs at the client's office",
        "kind": "meeting",
        "due_at": "2026-03-04T08:00:00Z",
    },
    TaskCompleted: _task("cc151afb-7314-561a-9308-82a5a5759424", 5, "2026-03-04T09:10:00Z")
    | {"event_type": "task.completed", "due_at": "2026-03-04T08:00:00Z"},
    TaskCancelled: _task("d05bef95-657a-51bc-9afe-467d28c5deda", 5, "2026-03-04T07:30:00Z")
    | {"event_type": "task.cancelled", "reason": "The client moved the meeting to a call"},
    ClientRegistered: _reference(
        "12f5f4f8-3ebc-5f8b-bc87-eddaed4cfe7f", CLIENT_ID, "2026-03-02T09:15:43.290000Z"
    )
    | {
        "event_type": "client.registered",
        "correlation_id": LEAD_ID,
        "client_id": CLIENT_ID,
        "name": "Ivan Petrov",
        "phone": "+79123456789",
        "email": "ivan@example.ru",
        "lead_id": LEAD_ID,
        "requisites": dict.fromkeys(REQUISITES),
    },
    ClientUpdated: _reference(
        "2e9a1589-725c-5b60-a46e-b2f4247ac03b", CLIENT_ID, "2026-03-05T09:55:00Z"
    )
    | {
        "event_type": "client.updated",
        "aggregate_version": 2,
        "client_id": CLIENT_ID,
        "name": "Acme (Ivan Petrov)",
        "phones": ["+79123456789"],
        "emails": ["ivan@example.ru", "buy@acme.example"],
        "telegram_chat_id": "5550123",
        "timezone": "Europe/Moscow",
        "requisites": REQUISITES,
    },
    ManagerUpdated: _reference(
        "e734784d-785b-5cf6-bc70-c58bda8f9813",
        "0b7e9c1a-3d5f-5a7b-9c1e-3f5a7b9d1e3f",
        "2026-03-01T07:00:00Z",
    )
    | {
        "event_type": "manager.updated",
        "manager_id": "anna",
        "name": "Anna Smirnova",
        "email": "anna@shop.example",
        "telegram_chat_id": "1001",
        "phone": "+79031234567",
        "timezone": "Europe/Moscow",
        "active": True,
        "role": "manager",
    },
    PlanSet: _reference(
        "f51ecbb1-b368-543e-908b-a4f32242821d",
        "6a8c0e2f-4b6d-5f8a-0c2e-4a6c8e0a2c4e",
        "2026-03-01T07:05:00Z",
    )
    | {
        "event_type": "plan.set",
        "manager_id": "anna",
        "month": "2026-03",
        "amount": "500000",
        "currency": "RUB",
    },
    PipelineDefined: _reference(
        "31dbcf38-f1cb-5270-95cc-21c9dcf235bf",
        "c3e5a7b9-d1f3-5b5d-7f9b-1d3f5b7d9f1b",
        "2026-03-01T07:10:00Z",
    )
    | {
        "event_type": "pipeline.defined",
        "pipeline_id": "b2b",
        "name": "B2B",
        "stages": [
            {"name": "new", "kind": "open", "probability": 0.1},
            {"name": "demo", "kind": "open", "probability": 0.4},
            {"name": "won", "kind": "won", "probability": 1.0},
            {"name": "lost", "kind": "lost", "probability": 0.0},
        ],
        "lost_reasons": ["price", "competitor"],
    },
    NotificationSent: _notification("6cc9dc8f-2777-5890-af29-2458b5884ed8", "2026-03-02T09:15:44Z")
    | {"event_type": "notification.sent", "attempts": 1, "latency_ms": 742},
    NotificationFailed: _notification(
        "bd266e7b-29d6-5906-a186-8e4debf40be1", "2026-03-02T09:31:02Z"
    )
    | {
        "event_type": "notification.failed",
        "channel": "telegram",
        "rule_id": "new-deal-manager-telegram",
        "attempts": 5,
        "reason": "telegram: 502 Bad Gateway after 5 attempts",
    },
}


def example_of(cls: type[Event]) -> dict[str, Any]:
    """The example message of an event class (a copy: callers may change it)."""
    return copy.deepcopy(EXAMPLES[cls])
