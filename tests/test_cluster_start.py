"""A service started while its NATS cluster has no JetStream leader yet (one node up of three:
clients connect, stream requests fail) becomes ready once the cluster has one, and works:
it must keep trying to declare its streams and start its consumers, not give up after the
first refusal and stay unready for good."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import nats
import pytest

from tests.support.cluster import NatsCluster
from tests.support.services import ServiceProcess

INTAKE_KEY = {"X-API-Key": "dev-api-key"}


@pytest.fixture
def half_cluster(tmp_path: Path):
    """nats-1 alone: listening, without a JetStream meta leader."""
    cluster = NatsCluster(tmp_path / "nats")
    try:
        cluster.start_node(cluster.nodes[0])
        yield cluster
    finally:
        cluster.stop()


def nats_check(intake: ServiceProcess) -> object:
    """The intake's own view of the bus in /readyz (None while HTTP is not up yet)."""
    try:
        response = httpx.get(f"{intake.url}/readyz", timeout=2)
    except httpx.TransportError:
        return None
    return response.json().get("checks", {}).get("nats")


async def leads_in_stream(url: str) -> list[str]:
    nc = await nats.connect(url.split(","))
    try:
        sub = await nc.jetstream().subscribe("crm.leads.received", ordered_consumer=True)
        message = await sub.next_msg(timeout=10)
        assert message.metadata.num_pending == 0
        info = await nc.jetstream().stream_info("CRM")
        assert info.config.num_replicas == 3
        return [json.loads(message.data)["lead_id"]]
    finally:
        await nc.close()


def test_a_service_started_before_its_cluster_has_a_leader_becomes_ready_once_it_has(
    half_cluster: NatsCluster, tmp_path: Path
):
    intake = ServiceProcess(
        "lead_intake",
        {
            "LEAD_INTAKE_NATS_URL": half_cluster.url,
            "LEAD_INTAKE_DATA_DIR": str(tmp_path / "intake"),
            "LEAD_INTAKE_STREAM_REPLICAS": "3",
        },
        tmp_path / "lead_intake.log",
    ).start()
    try:
        # Up and answering, but the bus is not ready: its streams cannot be declared yet.
        deadline = time.monotonic() + 60
        while nats_check(intake) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(8)  # several refused tries (each JetStream request times out or is refused)
        assert nats_check(intake) is False, intake.log_tail()
        assert "NATS not ready yet" in intake.log_tail(200)

        for node in half_cluster.nodes[1:]:
            half_cluster.start_node(node)
        intake.wait_ready(timeout=90)

        response = httpx.post(
            f"{intake.url}/v1/leads",
            json={"name": "Early bird", "email": "early@mail.ru"},
            headers=INTAKE_KEY,
        )
        assert response.status_code == 202, response.text
        assert asyncio.run(leads_in_stream(half_cluster.url)) == [response.json()["lead_id"]]
    finally:
        intake.stop()
