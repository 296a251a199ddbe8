"""Publishes of concurrent requests are in flight together (no lock around publish + ack), and
an ack that does not come in time sends the lead to the spool; JetStream's Nats-Msg-Id dedup
then drops the late original or the drained copy. nats-server is paused with SIGSTOP: the
connection stays up, only the acks stop."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from contextlib import contextmanager

import httpx
import pytest

from services.lead_intake.tests.helpers import INTEGRATION, leads_on_stream, wait_on_the_bus
from tests.support.net import wait_until
from tests.support.services import ServiceProcess

N = 20


@contextmanager
def paused(nats_server):
    os.kill(nats_server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(nats_server.process.pid, signal.SIGCONT)


def intake_with(nats_server, tmp_path, publish_timeout: str) -> ServiceProcess:
    env = {
        "LEAD_INTAKE_NATS_URL": nats_server.url,
        "LEAD_INTAKE_DATA_DIR": str(tmp_path / "intake"),
        "LEAD_INTAKE_PUBLISH_TIMEOUT": publish_timeout,
    }
    proc = ServiceProcess("lead_intake", env, tmp_path / "intake.log").start()
    proc.wait_ready()
    wait_on_the_bus(proc.url)
    return proc


@pytest.fixture
def procs():
    started: list[ServiceProcess] = []
    yield started
    for proc in started:
        proc.stop()


async def in_flight(client: httpx.AsyncClient) -> float:
    metrics = (await client.get("/metrics")).text
    return float(re.search(r"^crm_intake_publishes_in_flight (\S+)$", metrics, re.M).group(1))


def post(client: httpx.AsyncClient, i: int):
    return client.post("/v1/leads", json={"email": f"c{i}@mail.ru"}, headers=INTEGRATION)


def test_concurrent_publishes_wait_for_their_acks_together(nats_server, tmp_path, procs):
    intake = intake_with(nats_server, tmp_path, publish_timeout="30")
    procs.append(intake)

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=intake.url, timeout=60) as client:
            with paused(nats_server):
                requests = [asyncio.create_task(post(client, i)) for i in range(N)]
                while await in_flight(client) < N:  # all N sent, none acked: none serialised
                    await asyncio.sleep(0.05)
            return await asyncio.gather(*requests)

    answers = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert [a.json()["status"] for a in answers] == ["accepted"] * N
    assert len(leads_on_stream(nats_server.url)) == N


def test_no_ack_in_time_spools_and_the_stream_keeps_one_copy(nats_server, tmp_path, procs):
    intake = intake_with(nats_server, tmp_path, publish_timeout="0.5")
    procs.append(intake)

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=intake.url, timeout=60) as client:
            return await asyncio.gather(*(post(client, i) for i in range(N)))

    with paused(nats_server):  # connected, but nothing is acked
        answers = asyncio.run(scenario())
    assert [a.json()["status"] for a in answers] == ["queued"] * N
    # the late originals are stored when the server resumes; the drained copies are dropped
    wait_until(
        lambda: httpx.get(f"{intake.url}/readyz").json()["checks"]["spool"]["depth"] == 0,
        what="spool drained",
    )
    messages = leads_on_stream(nats_server.url)
    assert sorted(m.headers["Nats-Msg-Id"] for m in messages) == sorted(
        a.json()["lead_id"] for a in answers
    )
