"""The manager is e-mailed once per opened deal: real nats-server, real SMTP server."""

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from crm_contracts.events import DealOpened
from crm_contracts.runtime.bus import make_broker
from crm_contracts.streams import CRM
from notification.main import create_app
from notification.messages import deal_opened_email
from notification.settings import NotificationSettings
from tests.support.net import wait_until
from tests.support.smtp import SmtpServer


def opened(deal_id: str, manager: str = "m1") -> DealOpened:
    return DealOpened(
        aggregate_id=deal_id,
        producer="test",
        deal_id=deal_id,
        pipeline_id="default",
        stage="new",
        title=f"Deal {deal_id}",
        manager_id=manager,
        amount=Decimal("1500.00"),
        occurred_at=datetime(2026, 3, 1, 7, tzinfo=UTC),
    )


def publish_raw(url: str, event: DealOpened, msg_id: str) -> None:
    """Publish with a chosen Nats-Msg-Id, to get past JetStream's dedup like a redelivery."""

    async def go() -> None:
        broker = make_broker(url, "test")
        await broker.connect()
        await broker.publish(
            event.model_dump(mode="json"),
            event.SUBJECT,
            headers={"Nats-Msg-Id": msg_id},
            stream=CRM,
        )
        await broker.stop()

    asyncio.run(go())


@pytest.fixture
def service(nats_server, smtp_server):
    settings = NotificationSettings(
        nats_url=nats_server.url,
        smtp_port=smtp_server.port,
        manager_emails={"m1": "ivan@shop.test"},
        default_manager_email="sales@shop.test",
    )
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="notification ready")
        yield client


def test_the_same_event_twice_sends_one_email(service, nats_server, smtp_server):
    event = opened("d1")
    publish_raw(nats_server.url, event, "first")
    publish_raw(nats_server.url, event, "second")  # same event id, new message
    publish_raw(nats_server.url, opened("d2", manager="unknown"), "third")
    wait_until(lambda: len(smtp_server.messages) >= 2, what="two e-mails")
    time.sleep(1.0)  # room for a wrong third e-mail to arrive
    assert sorted((m["To"], m["Subject"]) for m in smtp_server.messages) == [
        ("ivan@shop.test", "New deal: Deal d1"),
        ("sales@shop.test", "New deal: Deal d2"),
    ]
    metrics = service.get("/metrics").text
    assert 'crm_notifications_duplicate_total{rule="deal-opened-to-manager"} 1.0' in metrics


def test_smtp_down_then_up_delivers_once(nats_server):
    """While the SMTP server refuses, the message is redelivered (nack with backoff)."""
    smtp_server = SmtpServer()  # not listening yet
    settings = NotificationSettings(
        nats_url=nats_server.url, smtp_port=smtp_server.port, smtp_timeout=1.0
    )
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="ready")
        publish_raw(nats_server.url, opened("d3"), "m-3")
        time.sleep(1.5)
        assert smtp_server.messages == []
        smtp_server.start()
        try:
            wait_until(lambda: smtp_server.messages, timeout=30, what="e-mail after SMTP is back")
            time.sleep(1.0)
        finally:
            smtp_server.stop()
    assert len(smtp_server.messages) == 1


def test_message_text():
    message = deal_opened_email(opened("d1"), "ivan@shop.test", "http://x/d1")
    assert message.subject == "New deal: Deal d1"
    assert "Amount: 1500.00 RUB" in message.body
    assert "Opened: 2026-03-01 07:00 UTC" in message.body
