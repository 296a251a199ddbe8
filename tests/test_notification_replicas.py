"""Two notification replicas, as real processes, on one nats-server and one real SMTP server.
They share the events and the due consumers, and each send happens once per event × rule ×
recipient: with both up (and both doing some of the sending), for a task reminder, and with one
replica killed (-9) in the middle of the stream.

The kill comes while the SMTP server holds its answers: a process killed after the SMTP server
took a mail but before the delivery log says so is the one case where a mail can go twice (the
other replica sends it again after the lease; its Message-ID, the delivery id, lets a mail
system drop the repeat). What the service can promise is what is tested: nothing it recorded
goes twice, nothing it took is lost."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import nats
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from crm_contracts.envelope import Event
from crm_contracts.events import DealOpened, TaskScheduled
from crm_contracts.runtime.bus import event_headers
from crm_contracts.streams import CRM
from tests.support.net import wait_until
from tests.support.services import ServiceProcess, running
from tests.support.smtp import SmtpServer, _Inbox

N = 300  # deal.opened events, each one new-deal e-mail to its manager
NEW_DEAL = "deal-opened-to-manager"
ACK_WAIT = 5.0  # a killed replica's batch and sends come back to the other within this


class _Gated(_Inbox):
    """Takes mail while open; while shut, holds every DATA unanswered and not yet received,
    so a client that dies meanwhile has sent nothing (aiosmtpd cancels its handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.open.set()
        self.held = 0  # DATA commands waiting now

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.held += 1
        try:
            while not self.open.is_set():
                await asyncio.sleep(0.02)
        finally:
            self.held -= 1
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.inbox = _Gated()
    server.controller = Controller(server.inbox, hostname="127.0.0.1", port=server.port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def replicas(nats_server, smtp, tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    env = {
        "NOTIFICATION_NATS_URL": nats_server.url,
        "NOTIFICATION_SMTP_PORT": str(smtp.port),
        "NOTIFICATION_MANAGER_EMAILS": '{"anna": "anna@shop.test"}',
        "NOTIFICATION_DEFAULT_TIMEZONE": "UTC",
        "NOTIFICATION_DUE_ACK_WAIT_SECONDS": str(ACK_WAIT),
        "NOTIFICATION_EVENTS_ACK_WAIT_SECONDS": str(2 * ACK_WAIT),  # a batch under load
    }
    procs = [
        ServiceProcess("notification", dict(env), tmp_path / f"notification-{i}.log")
        for i in range(2)
    ]
    with running(procs):
        yield procs


def opened(i: int) -> DealOpened:
    return DealOpened(
        aggregate_id=f"rd-{i:03d}",
        producer="test",
        deal_id=f"rd-{i:03d}",
        pipeline_id="default",
        stage="new",
        title=f"Replica deal {i:03d}",
        manager_id="anna",
        amount=Decimal("100"),
    )


def publish(url: str, events: list[Event], pause: float = 0.0) -> None:
    """As their producers do (Nats-Msg-Id = event id), `pause` seconds apart."""

    async def go() -> None:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            for event in events:
                body = json.dumps(event.model_dump(mode="json")).encode()
                await js.publish(event.SUBJECT, body, headers=event_headers(event), stream=CRM)
                await asyncio.sleep(pause)
        finally:
            await nc.close()

    asyncio.run(go())


def sent_by(replica: ServiceProcess, rule: str = NEW_DEAL) -> int:
    """The e-mails of `rule` this replica sent (and recorded), from its /metrics."""
    metrics = httpx.get(f"{replica.url}/metrics", timeout=5).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("crm_notifications_sent_total{") and f'rule="{rule}"' in line
    )


def new_deal_subjects(smtp: SmtpServer) -> Counter[str]:
    return Counter(m["Subject"] for m in smtp.messages if "Replica deal" in m["Subject"])


def assert_each_once(smtp: SmtpServer) -> None:
    time.sleep(ACK_WAIT + 1.0)  # room for a wrong second copy (a lease running out)
    subjects = new_deal_subjects(smtp)
    twice = {s: n for s, n in subjects.items() if n > 1}
    assert not twice, f"sent more than once: {twice}"
    assert sorted(subjects) == sorted(f"New deal: Replica deal {i:03d}" for i in range(N))


def test_two_replicas_send_each_mail_once_and_share_the_work(nats_server, smtp, replicas):
    due_at = datetime.now(UTC) + timedelta(hours=1, seconds=4)  # reminded an hour before
    task = TaskScheduled(
        aggregate_id="rd-task",
        producer="test",
        task_id="rt-1",
        deal_id="rd-task",
        manager_id="anna",
        title="Call the replica client",
        kind="call",
        due_at=due_at,
    )
    publish(nats_server.url, [task, *(opened(i) for i in range(N))])
    wait_until(
        lambda: sum(new_deal_subjects(smtp).values()) >= N,
        timeout=120,
        what=f"{N} new-deal e-mails",
    )

    def reminders() -> list[str]:
        return [m["Subject"] for m in smtp.messages if task.title in m["Subject"]]

    wait_until(reminders, timeout=30, what="the task reminder")
    assert_each_once(smtp)
    assert len(reminders()) == 1, reminders()
    shares = [sent_by(r) for r in replicas]
    print(f"new-deal e-mails sent per replica: {shares}")
    assert sum(shares) == N and all(shares), shares
    assert sum(sent_by(r, "task-due-to-manager") for r in replicas) == 1


def test_a_replica_killed_mid_stream_loses_and_doubles_nothing(nats_server, smtp, replicas):
    # The events keep coming while the victim dies: some of its batch of events and some of
    # its sends are in flight, and come back to the survivor.
    stream = threading.Thread(
        target=publish, args=(nats_server.url, [opened(i) for i in range(N)], 0.02)
    )
    stream.start()
    wait_until(
        lambda: sum(new_deal_subjects(smtp).values()) >= N // 3,
        timeout=120,
        what="a third of the e-mails",
    )
    smtp.inbox.open.clear()
    # Every mail the SMTP server took is in the log: whatever the victim has in flight now is
    # held unanswered, so the kill cannot leave a mail sent but unrecorded.
    wait_until(
        lambda: sum(sent_by(r) for r in replicas) == len(smtp.messages),
        timeout=30,
        what="the sent mails recorded",
    )
    victim, survivor = replicas
    taken_before, held = sent_by(victim), smtp.inbox.held
    victim.stop(kill=True)
    smtp.inbox.open.set()
    stream.join()
    wait_until(
        lambda: sum(new_deal_subjects(smtp).values()) >= N,
        timeout=120,
        what=f"all {N} e-mails after the kill",
    )
    assert_each_once(smtp)
    print(
        f"the victim sent {taken_before} before the kill ({held} sends of both were held "
        f"at the SMTP server then), the survivor {sent_by(survivor)}"
    )
    assert taken_before + sent_by(survivor) == N
