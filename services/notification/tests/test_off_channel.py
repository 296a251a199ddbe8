"""A send due now on a channel that is off ends `skipped` where it is planned, with no due
message: real nats-server, real SMTP server. Its e-mail sibling still goes through the due
stream, and a repeated event still leaves one record per send."""

import asyncio
import re
import time

import nats

from notification.adapters.reminders import DUE
from tests.support.net import wait_until

from .test_deal_opened_email import opened

TELEGRAM_RULE = "deal-opened-to-manager-telegram"


def due_subjects(nats_url: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            info = await js.stream_info("CRM_REMINDERS", subjects_filter=f"{DUE}.>")
            return dict(info.state.subjects or {})
        finally:
            await nc.close()

    return asyncio.run(read())


def metric(client, name: str, **labels: str) -> float:
    """One sample of the service's /metrics (0 when not there yet)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in client.get("/metrics").text.splitlines():
        found = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if found and ",".join(sorted(found[1].split(","))) == wanted:
            return float(found[2])
    return 0.0


def test_an_off_channel_send_is_skipped_without_a_due_message(
    nats_server, start_service, publish, smtp_server, deliveries, events_handled
):
    service = start_service(
        seed_default_rules=True,
        telegram_bot_token=None,  # Telegram off: the default rule's sends end skipped
        manager_emails={"m1": "ivan@shop.test"},
    )
    counted = {
        "planned": ("crm_notifications_planned_total", {"rule": TELEGRAM_RULE, "when": "now"}),
        "skipped": (
            "crm_notifications_skipped_total",
            {"channel": "telegram", "rule": TELEGRAM_RULE},
        ),
        "duplicate": ("crm_notifications_duplicate_total", {"rule": TELEGRAM_RULE}),
    }
    before = {k: metric(service, name, **labels) for k, (name, labels) in counted.items()}
    event = opened("d1")
    publish(event, msg_id="first")
    publish(event, msg_id="second")  # the same event again, past JetStream's dedup
    wait_until(lambda: smtp_server.messages, what="the e-mail")
    events_handled()
    time.sleep(0.5)  # room for a wrong second e-mail
    assert len(smtp_server.messages) == 1
    skipped = deliveries(service, rule_id=TELEGRAM_RULE)
    assert [(d["status"], d["recipient"], d["attempts"]) for d in skipped] == [
        ("skipped", "manager:m1", 0)
    ]
    assert "channel telegram is off" in skipped[0]["reason"]
    # Only the e-mail's send went through the due stream.
    assert due_subjects(nats_server.url) == {
        f"{DUE}.event.{event.event_id}.deal-opened-to-manager": 1
    }
    after = {k: metric(service, name, **labels) for k, (name, labels) in counted.items()}
    assert {k: after[k] - before[k] for k in counted} == {
        "planned": 2,  # planned at each delivery of the event, as before
        "skipped": 1,
        "duplicate": 1,  # the second found the first's record
    }
