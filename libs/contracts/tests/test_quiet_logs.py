"""The default log keeps what a person reads: no line per health probe, scrape or message."""

from __future__ import annotations

import asyncio
import logging

from crm_contracts.runtime.bus import make_broker
from crm_contracts.runtime.logs import setup_logging


def access_line(path: str, status: int) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", path, "1.1", status), None,
    )  # fmt: skip


def test_probe_and_scrape_lines_are_dropped_but_their_failures_kept():
    setup_logging("test")
    access = logging.getLogger("uvicorn.access")
    assert not access.filter(access_line("/readyz", 200))
    assert not access.filter(access_line("/metrics", 200))
    assert not access.filter(access_line("/healthz?x=1", 204))
    assert access.filter(access_line("/readyz", 503))
    assert access.filter(access_line("/v1/leads", 202))


def test_setting_up_twice_installs_one_filter():
    setup_logging("test")
    setup_logging("test")
    assert len(logging.getLogger("uvicorn.access").filters) == 1


def test_a_handled_message_logs_nothing_at_info(nats_server, caplog):
    async def go() -> None:
        broker = make_broker(nats_server.url, "quiet")
        seen = asyncio.Event()

        @broker.subscriber("quiet.test")
        async def handle(body: str) -> None:
            seen.set()

        async with broker:
            await broker.start()
            await broker.publish("hi", "quiet.test")
            await asyncio.wait_for(seen.wait(), 10)

    with caplog.at_level(logging.INFO):
        asyncio.run(go())
    chatter = [r.getMessage() for r in caplog.records if r.name.startswith("faststream")]
    assert not [m for m in chatter if "Received" in m or "Processed" in m], chatter
