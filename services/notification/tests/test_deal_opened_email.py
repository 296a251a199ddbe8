"""The default rule e-mails the responsible manager once per opened deal: real nats-server,
real SMTP server."""

import time
from datetime import UTC, datetime
from decimal import Decimal

from fastapi.testclient import TestClient

from crm_contracts.events import DealOpened, ManagerUpdated
from notification.main import create_app
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


def test_the_same_event_twice_sends_one_email(
    start_service, publish, smtp_server, gateway, deliveries
):
    service = start_service(
        seed_default_rules=True,
        telegram_bot_token=None,  # Telegram off: its default rule is skipped, not failed
        manager_emails={"m1": "ivan@shop.test"},
        default_manager_email="sales@shop.test",
    )
    event = opened("d1")
    publish(event, msg_id="first")
    publish(event, msg_id="second")  # same event id, new message: past JetStream's dedup
    publish(opened("d2", manager="unknown"), msg_id="third")
    wait_until(lambda: len(smtp_server.messages) >= 2, what="two e-mails")
    time.sleep(1.0)  # room for a wrong third e-mail to arrive
    assert sorted((m["To"], m["Subject"]) for m in smtp_server.messages) == [
        ("ivan@shop.test", "New deal: Deal d1"),
        ("sales@shop.test", "New deal: Deal d2"),
    ]
    body = (
        next(m for m in smtp_server.messages if m["To"] == "ivan@shop.test")
        .get_payload(decode=True)
        .decode()
    )
    # The whole text: each line on its own (no `{% endif %}` eating a break), money grouped,
    # the date in the manager's language and zone, a link to the deal's dashboard page.
    assert body.replace("\r\n", "\n").strip() == (
        "A new deal is yours: Deal d1\n\n"
        "Stage: new\n"
        "Amount: ₽1,500\n"
        "Opened: Mar 1, 2026, 07:00 UTC\n"
        "Deal: http://127.0.0.1:8004/?page=deal&id=d1"
    )
    sent = deliveries(service, rule_id="deal-opened-to-manager")
    assert sorted((d["status"], d["recipient"], d["attempts"]) for d in sent) == [
        ("sent", "manager:m1", 1),
        ("sent", "manager:unknown", 1),
    ]
    skipped = deliveries(service, rule_id="deal-opened-to-manager-telegram")
    assert [d["status"] for d in skipped] == ["skipped", "skipped"]
    assert "channel telegram is off" in skipped[0]["reason"]
    assert gateway.requests == []


def test_the_directory_address_wins_over_settings(start_service, publish, smtp_server):
    start_service(seed_default_rules=True, manager_emails={"m1": "old@shop.test"})
    publish(
        ManagerUpdated(
            aggregate_id="m1",
            producer="test",
            manager_id="m1",
            name="Ivan",
            email="ivan@new.test",
            timezone="UTC",
        )
    )
    publish(opened("d5"))
    wait_until(lambda: smtp_server.messages, what="an e-mail")
    time.sleep(0.5)
    assert [m["To"] for m in smtp_server.messages] == ["ivan@new.test"]


def test_smtp_down_then_up_delivers_once(nats_server, publish):
    """While the SMTP server refuses, the send is retried with backoff; then it goes, once."""
    smtp_server = SmtpServer()  # not listening yet
    settings = NotificationSettings(
        nats_url=nats_server.url,
        smtp_port=smtp_server.port,
        smtp_timeout=1.0,
        retry_base_seconds=0.5,
    )
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="ready")
        publish(opened("d3"), msg_id="m-3")
        time.sleep(1.5)
        assert smtp_server.messages == []
        smtp_server.start()
        try:
            wait_until(lambda: smtp_server.messages, timeout=30, what="e-mail after SMTP is back")
            time.sleep(1.0)
        finally:
            smtp_server.stop()
    assert len(smtp_server.messages) == 1
