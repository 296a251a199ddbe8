"""The four services as processes on one nats-server, with helpers to read their results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.support.nats import NatsServer
from tests.support.services import ServiceProcess

API_KEY = "e2e-key"
KEY = {"X-API-Key": API_KEY}


def start_stack(nats: NatsServer, smtp_port: int, data: Path) -> dict[str, ServiceProcess]:
    services = {
        "lead_intake": {
            "LEAD_INTAKE_NATS_URL": nats.url,
            "LEAD_INTAKE_DATA_DIR": str(data / "intake"),  # its spool: one per test, not shared
        },
        "deal_pipeline": {
            "DEAL_PIPELINE_NATS_URL": nats.url,
            "DEAL_PIPELINE_DATA_DIR": str(data / "deals"),
            "DEAL_PIPELINE_API_KEY": API_KEY,
            "DEAL_PIPELINE_MANAGERS": '["anna", "boris"]',
        },
        "notification": {
            "NOTIFICATION_NATS_URL": nats.url,
            "NOTIFICATION_SMTP_PORT": str(smtp_port),
            "NOTIFICATION_MANAGER_EMAILS": '{"anna": "anna@shop.test", "boris": "boris@shop.test"}',
        },
        "analytics": {"ANALYTICS_NATS_URL": nats.url, "ANALYTICS_CHDB_PATH": str(data / "chdb")},
    }
    procs = {
        name: ServiceProcess(name, env, data / f"{name}.log").start()
        for name, env in services.items()
    }
    for proc in procs.values():
        proc.wait_ready()
    return procs


def funnel_around_today(analytics: ServiceProcess) -> dict:
    today = datetime.now(UTC).date()
    params = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}
    response = httpx.get(f"{analytics.url}/v1/reports/sales-funnel", params=params)
    assert response.status_code == 200, response.text
    return response.json()
