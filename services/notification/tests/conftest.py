"""Fixtures of the notification tests: the service in-process against a real nats-server, a
real SMTP server and a real HTTP gateway (Telegram, SMS, webhook and analytics stand-in)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import nats
import pytest
from fastapi.testclient import TestClient

from crm_contracts.envelope import Event
from crm_contracts.runtime.bus import make_broker, publish_event
from notification.main import create_app
from notification.settings import NotificationSettings
from tests.support.gateway import Gateway
from tests.support.net import wait_until

API_KEY = "test-key"
ANALYTICS_KEY = "test-viewer-key"  # what the digests send to the analytics reports API
KEY = {"X-API-Key": API_KEY}
BOT = "test-bot-token"
TELEGRAM = f"/bot{BOT}/sendMessage"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway().start()
    yield server
    server.stop()


def settings_for(
    nats_url: str, smtp_port: int, gateway: Gateway, **extra: object
) -> NotificationSettings:
    values: dict[str, object] = {
        "nats_url": nats_url,
        "smtp_port": smtp_port,
        "api_key": API_KEY,
        "telegram_base_url": gateway.url,
        "telegram_bot_token": BOT,
        "sms_gateway_url": f"{gateway.url}/sms",
        "webhook_secret": "hook-secret",
        "analytics_url": gateway.url,
        "analytics_api_key": ANALYTICS_KEY,
        "retry_base_seconds": 0.05,
        "seed_default_rules": False,
        "default_timezone": "UTC",
    }
    return NotificationSettings(**(values | extra))


@pytest.fixture
def start_service(nats_server, smtp_server, gateway) -> Iterator[Callable[..., TestClient]]:
    """Starts the service in-process (settings overridable); stopped after the test."""
    clients: list[TestClient] = []

    def start(**extra: object) -> TestClient:
        app = create_app(settings_for(nats_server.url, smtp_server.port, gateway, **extra))
        client = TestClient(app).__enter__()
        clients.append(client)
        wait_until(lambda: client.get("/readyz").status_code == 200, what="notification ready")
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def publish(nats_server) -> Callable[..., None]:
    """Publishes events as their producers do (Nats-Msg-Id = event id), or with `msg_id`."""

    def go(*events: Event, msg_id: str | None = None) -> None:
        async def run() -> None:
            broker = make_broker(nats_server.url, "test")
            await broker.connect()
            for event in events:
                if msg_id is None:
                    await publish_event(broker, event)
                else:
                    await broker.publish(
                        event.model_dump(mode="json"),
                        event.SUBJECT,
                        headers={"Nats-Msg-Id": msg_id},
                        stream="CRM",
                    )
            await broker.stop()

        asyncio.run(run())

    return go


@pytest.fixture
def events_handled(nats_server) -> Callable[[], None]:
    """Waits until the events consumer has settled every event on the bus."""

    async def settled() -> bool:
        nc = await nats.connect(nats_server.url)
        try:
            info = await nc.jetstream().consumer_info("CRM", "notification_events")
        finally:
            await nc.close()
        return info.num_pending == 0 and info.num_ack_pending == 0

    return lambda: wait_until(lambda: asyncio.run(settled()), what="the events handled")


def _put_rule(client: TestClient | str, rule_id: str, rule: dict) -> dict:
    if isinstance(client, str):
        response = httpx.put(f"{client}/v1/rules/{rule_id}", json=rule, headers=KEY)
    else:
        response = client.put(f"/v1/rules/{rule_id}", json=rule, headers=KEY)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _deliveries(client: TestClient, **filters: str) -> list[dict]:
    response = client.get("/v1/deliveries", params=filters, headers=KEY)
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]


@pytest.fixture
def put_rule() -> Callable[..., dict]:
    """`put_rule(client or base URL, rule id, rule)` through the operator API."""
    return _put_rule


@pytest.fixture
def deliveries() -> Callable[..., list[dict]]:
    """`deliveries(client, **filters)`: the delivery log through the operator API."""
    return _deliveries
