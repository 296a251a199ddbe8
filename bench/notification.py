"""The notification service's events consumer: a burst of new clients and their deals (two
events each) published to a real nats-server while one notification process (default rules,
a real SMTP server) plans and sends the new-deal e-mails. Timed from the first publish to
the consumer's ack floor passing the last of them, and to the last e-mail received; the
baseline is the same run with one event at a time (NOTIFICATION_EVENTS_BATCH_SIZE=1). The
service's CPU per e-mail, over the same span, tells more than the rates on a busy machine."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bench.progress import Progress
from bench.record import Measurement, cpu_seconds, emit, scale
from crm_contracts.envelope import Event
from crm_contracts.events import ClientRegistered, DealOpened
from crm_contracts.runtime.bus import event_headers
from crm_contracts.streams import CRM
from tests.support.nats import NatsServer
from tests.support.services import ServiceProcess
from tests.support.smtp import SmtpServer

FULL = 2000  # deals at BENCH_SCALE=1: the cluster test's leads
BATCH = 100  # the service's default NOTIFICATION_EVENTS_BATCH_SIZE
CONSUMER = "notification_events"
BUDGET = 180.0  # issue 12: the 3-node cluster test (2000 leads) within 3 minutes


def size() -> int:
    return max(200, int(FULL * scale()))


def burst(deals: int) -> list[Event]:
    at = datetime.now(UTC)
    events: list[Event] = []
    for i in range(deals):
        client = f"bench-c{i}"
        events.append(
            ClientRegistered(
                aggregate_id=client, producer="bench", client_id=client, email=f"{client}@x.test"
            )
        )
        events.append(
            DealOpened(
                aggregate_id=f"bench-d{i}",
                producer="bench",
                deal_id=f"bench-d{i}",
                pipeline_id="default",
                stage="new",
                title=f"Bench deal {i}",
                manager_id="anna",
                client_id=client,
                amount=Decimal("100"),
                occurred_at=at,
            )
        )
    return events


async def publish(url: str, events: list[Event]) -> int:
    """The stream sequence of the last one."""
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = 0
        for start in range(0, len(events), 500):
            acks = await asyncio.gather(
                *(
                    js.publish(
                        e.SUBJECT,
                        json.dumps(e.model_dump(mode="json")).encode(),
                        headers=event_headers(e),
                        stream=CRM,
                    )
                    for e in events[start : start + 500]
                )
            )
            last = max(last, *(a.seq for a in acks))
        return last
    finally:
        await nc.close()


async def ack_floor(url: str) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(CRM, CONSUMER)
        return info.ack_floor.stream_seq if info.ack_floor else 0
    finally:
        await nc.close()


def one_run(batch: int, deals: int, work: Path) -> tuple[float, float, float]:
    """(events per second through the consumer, new-deal e-mails per second, the service's
    ms of CPU per e-mail)."""
    store = work / f"batch-{batch}"
    store.mkdir()
    nats_server = NatsServer(store / "jetstream").start()
    smtp = SmtpServer().start()
    service = ServiceProcess(
        "notification",
        {
            "NOTIFICATION_NATS_URL": nats_server.url,
            "NOTIFICATION_SMTP_PORT": str(smtp.port),
            "NOTIFICATION_MANAGER_EMAILS": '{"anna": "anna@shop.test"}',
            "NOTIFICATION_EVENTS_BATCH_SIZE": str(batch),
            "NOTIFICATION_LOG_LEVEL": "WARNING",
        },
        store / "notification.log",
    )
    try:
        service.start().wait_ready()
        events = burst(deals)
        progress = Progress(f"notification, batch {batch}", deals)
        assert service.process is not None
        cpu = cpu_seconds(service.process.pid)
        started = time.monotonic()
        last = asyncio.run(publish(nats_server.url, events))
        planned: float | None = None
        while len(smtp.messages) < deals:
            if service.process is None or service.process.poll() is not None:
                raise RuntimeError(f"notification exited; see {service.log_path}")
            if planned is None and asyncio.run(ack_floor(nats_server.url)) >= last:
                planned = time.monotonic() - started
            progress.advance(len(smtp.messages) - progress.done)
            time.sleep(0.1)
        mailed = time.monotonic() - started
        cpu_ms = round((cpu_seconds(service.process.pid) - cpu) * 1000 / deals, 3)
        progress.close()
        return len(events) / (planned or mailed), deals / mailed, cpu_ms
    finally:
        service.stop()
        smtp.stop()
        nats_server.stop()


def run() -> list[Measurement]:
    deals = size()
    with tempfile.TemporaryDirectory(prefix="bench-notification-") as tmp:
        batched = one_run(BATCH, deals, Path(tmp))
        single = one_run(1, deals, Path(tmp))
    sizes = {"deals": deals, "events": 2 * deals}
    return [
        emit(
            Measurement(
                name="notification events consumer",
                figure=batched[0],
                unit="events/s",
                size=sizes | {"batch": BATCH},
                goal="faster than one event at a time",
                met=batched[0] > single[0],
                baseline=single[0],
                baseline_name="one at a time",
                ratio=batched[0] / single[0],
            )
        ),
        emit(
            Measurement(
                name="notification new-deal e-mails",
                figure=batched[1],
                unit="e-mails/s",
                size=sizes,
                goal=f"{FULL} within {BUDGET:.0f} s (issue 12's cluster test)",
                met=batched[1] * BUDGET >= FULL,
                baseline=single[1],
                baseline_name="one at a time",
                ratio=batched[1] / single[1],
                extra={"cpu_ms_per_email": batched[2], "baseline_cpu_ms_per_email": single[2]},
            )
        ),
    ]


if __name__ == "__main__":
    run()
