"""A send in flight: a crash frees it within one ack wait (kill -9 of a real process while the
SMTP server stalls), a slow send is kept by "in progress" acks and goes once, and a stuck
gateway's retries (JetStream redeliveries) do not hold up another rule's reminder."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient

from crm_contracts.events import DealOpened, ManagerUpdated
from notification.main import create_app
from notification.settings import NotificationSettings
from tests.support.gateway import Gateway
from tests.support.net import wait_until
from tests.support.services import ServiceProcess
from tests.support.smtp import SmtpServer, _Inbox

from .conftest import API_KEY, TELEGRAM, settings_for

MAIL_RULE = {
    "trigger": {"event_type": "deal.opened"},
    "audience": ["fixed"],
    "recipients": ["ops@shop.test"],
    "channel": "email",
    "template": {"subject": {"en": "New: {{ deal.title }}"}, "body": {"en": "{{ deal.title }}"}},
}


def opened(deal_id: str, **extra: object) -> DealOpened:
    return DealOpened(
        aggregate_id=deal_id,
        producer="test",
        deal_id=deal_id,
        stage="new",
        title=f"Deal {deal_id}",
        manager_id="m1",
        amount=Decimal("100"),
        **extra,
    )


class _Stalling(_Inbox):
    """Holds the first DATA for `stall` seconds and then drops it unrecorded (as a server
    that never answered); every later DATA is accepted at once."""

    def __init__(self, stall: float, keep_first: bool = False) -> None:
        super().__init__()
        self.stall = stall
        self.keep_first = keep_first
        self.stalled_at: float | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.stalled_at is None:
            self.stalled_at = time.time()
            await asyncio.sleep(self.stall)
            if not self.keep_first:
                return "451 too late"
        return await super().handle_DATA(server, session, envelope)


def stalling_smtp(stall: float, keep_first: bool = False) -> SmtpServer:
    smtp = SmtpServer()
    smtp.inbox = _Stalling(stall, keep_first)
    smtp.controller = Controller(smtp.inbox, hostname="127.0.0.1", port=smtp.port)
    return smtp.start()


def test_the_default_ack_wait_is_short():
    assert NotificationSettings().due_ack_wait_seconds == 30.0


def test_kill_9_during_a_send_mail_leaves_within_the_ack_wait_once(
    nats_server, gateway, publish, put_rule, tmp_path
):
    ack_wait = 5.0
    smtp = stalling_smtp(stall=300.0)
    env = {
        "NOTIFICATION_NATS_URL": nats_server.url,
        "NOTIFICATION_SMTP_PORT": str(smtp.port),
        "NOTIFICATION_SMTP_TIMEOUT": "600",  # the send hangs until the process dies
        "NOTIFICATION_API_KEY": API_KEY,
        "NOTIFICATION_SEED_DEFAULT_RULES": "false",
        "NOTIFICATION_DUE_ACK_WAIT_SECONDS": str(ack_wait),
    }
    service = ServiceProcess("notification", env, tmp_path / "notification.log").start()
    try:
        service.wait_ready()
        put_rule(service.url, "ops", MAIL_RULE)
        publish(opened("d1"))
        wait_until(lambda: smtp.inbox.stalled_at, what="the send in flight")
        service.stop(kill=True)
        service.start().wait_ready()
        restarted = time.time()  # up again (starting takes a while on a busy machine)
        wait_until(lambda: smtp.messages, timeout=ack_wait + 15, what="the mail after restart")
        took = time.time() - restarted
        print(f"mail left {took:.1f}s after the restart (ack wait {ack_wait}s)")
        assert took <= ack_wait + 3.0  # not the old 300 s
        time.sleep(ack_wait + 1.0)  # room for a wrong second copy
        assert [m["Subject"] for m in smtp.messages] == ["New: Deal d1"]
    finally:
        service.stop()
        smtp.stop()


def test_a_send_slower_than_the_ack_wait_goes_once(
    nats_server, gateway, put_rule, publish, deliveries
):
    """In-progress acks keep the message while the SMTP server takes 4 s (ack wait 1.5 s), so
    the other replica is not handed it meanwhile."""
    smtp = stalling_smtp(stall=4.0, keep_first=True)
    settings = settings_for(nats_server.url, smtp.port, gateway, due_ack_wait_seconds=1.5)
    try:
        with (
            TestClient(create_app(settings)) as service,
            TestClient(create_app(settings)) as replica,
        ):
            for app in (service, replica):
                wait_until(lambda a=app: a.get("/readyz").status_code == 200, what="ready")
            put_rule(service, "ops", MAIL_RULE)
            publish(opened("d2"))
            wait_until(lambda: smtp.messages, timeout=15, what="the slow mail")
            time.sleep(3.0)
            assert len(smtp.messages) == 1
            [log] = deliveries(service, rule_id="ops")
            assert (log["status"], log["attempts"]) == ("sent", 1)
    finally:
        smtp.stop()


def test_a_stuck_gateway_does_not_hold_up_another_rules_reminder(
    start_service, put_rule, publish, gateway, deliveries
):
    sms = Gateway().start()
    try:
        service = start_service(sms_gateway_url=f"{sms.url}/sms", retry_base_seconds=1.0)
        telegram = {"trigger": {"event_type": "deal.opened", "pipeline": "a"}}
        put_rule(
            service,
            "tg",
            telegram
            | {
                "audience": ["manager"],
                "channel": "telegram",
                "template": {"body": {"en": "TG {{ deal.title }}"}},
            },
        )
        put_rule(
            service,
            "sms",
            {
                "trigger": {"event_type": "deal.opened", "pipeline": "b"},
                "audience": ["manager"],
                "channel": "sms",
                "template": {"body": {"en": "SMS {{ deal.title }}"}},
            },
        )
        publish(
            ManagerUpdated(
                aggregate_id="m1",
                producer="test",
                manager_id="m1",
                name="Ivan",
                telegram_chat_id="4242",
                phone="+79120000001",
            )
        )
        gateway.fail(4, status=500)  # Telegram answers 500 for 1 + 2 + 4 + 8 s of retries
        publish(opened("d3", pipeline_id="a"))
        wait_until(lambda: gateway.to(TELEGRAM, status=500), what="Telegram failing")
        publish(opened("d4", pipeline_id="b"))
        wait_until(lambda: sms.to("/sms"), timeout=30, what="the other rule's SMS")
        wait_until(lambda: gateway.to(TELEGRAM), timeout=30, what="Telegram at last")
        # The SMS went while Telegram was still being retried (1 + 2 + 4 + 8 s), not after:
        # an order, not a stopwatch, so a slow machine cannot fail it.
        assert sms.to("/sms")[0].at < gateway.to(TELEGRAM)[0].at
        assert [r.status for r in gateway.to(TELEGRAM, status=None)] == [500] * 4 + [200]
        [log] = deliveries(service, rule_id="tg")
        assert (log["status"], log["attempts"]) == ("sent", 5)
    finally:
        sms.stop()
