"""Constants and helpers of the intake tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.nats import stream_messages
from tests.support.net import wait_until

API_KEY = "test-operator-key"
OPERATOR = {"X-API-Key": API_KEY}
INTEGRATION = {"X-API-Key": "dev-api-key"}  # the default integration key (POST /v1/leads)
ORIGIN = "https://shop.example"
CONTACT_FORM = {
    "title": "Contact us",
    "fields": [
        {"name": "name", "type": "string", "max_length": 100},
        {"name": "phone", "type": "phone"},
        {"name": "email", "type": "email"},
        {"name": "city", "type": "choice", "choices": ["Moscow", "Kazan"]},
        {"name": "budget", "type": "number"},
        {"name": "consent", "type": "bool", "required": True},
    ],
    "hidden_fields": ["product"],
    "allowed_origins": [ORIGIN],
    "thank_you_url": "https://shop.example/thanks",
    "public_key": "public-key-123",
}


def leads_on_stream(url: str) -> list:
    return [m for m in asyncio.run(stream_messages(url)) if m.subject == "crm.leads.received"]


def lead_events(url: str) -> list[dict]:
    return [json.loads(m.data) for m in leads_on_stream(url)]


def on_the_bus(get: Callable[[str], Any]) -> bool:
    """Intake is ready without NATS (its spool takes leads): tests that want leads on the
    stream at once wait for the bus too. `get` is a TestClient's or httpx's `get`."""
    ready = get("/readyz")
    return ready.status_code == 200 and ready.json()["checks"]["nats"] is True


def wait_on_the_bus(url: str) -> None:
    """For a real process at `url`, after its `wait_ready()`."""
    wait_until(lambda: on_the_bus(lambda path: httpx.get(url + path)), what="intake on NATS")
