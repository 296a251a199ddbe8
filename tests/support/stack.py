"""The four services as processes on one nats-server, with helpers to read their results."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx

from analytics.domain.auth.passwords import hash_password
from tests.support.services import PREFIX, ServiceProcess

API_KEY = "e2e-key"
KEY = {"X-API-Key": API_KEY}
VIEWER_KEY = {"X-API-Key": "e2e-viewer-key"}  # reads analytics reports (notification's digests)
DASHBOARD_USER = ("head", "e2e-password")  # signs in to the dashboard (a viewer)
OPERATOR_USER = ("olga", "ops-password")  # signs in to the operators' page /ops


class Bus(Protocol):
    """One nats-server or a cluster: `url` may name several servers, comma-separated."""

    @property
    def url(self) -> str: ...

    @property
    def monitor_url(self) -> str: ...


def start_stack(
    nats: Bus, smtp_port: int, data: Path, replicas: int = 1
) -> dict[str, ServiceProcess]:
    """`replicas`: of every stream the services declare (3 on a cluster)."""
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
            "NOTIFICATION_ANALYTICS_API_KEY": VIEWER_KEY["X-API-Key"],
        },
        "analytics": {
            "ANALYTICS_NATS_URL": nats.url,
            "ANALYTICS_CHDB_PATH": str(data / "chdb"),
            "ANALYTICS_REPLICA": "stack",  # its consumer: analytics_projection_stack
            "ANALYTICS_VIEWER_API_KEY": VIEWER_KEY["X-API-Key"],
            "ANALYTICS_DASHBOARD_USERS": json.dumps(
                {
                    DASHBOARD_USER[0]: {"password": hash_password(DASHBOARD_USER[1])},
                    OPERATOR_USER[0]: {
                        "password": hash_password(OPERATOR_USER[1]),
                        "role": "operator",
                    },
                }
            ),
        },
    }
    procs = {
        name: ServiceProcess(name, env, data / f"{name}.log") for name, env in services.items()
    }
    for name, proc in procs.items():
        proc.env[f"{PREFIX[name]}STREAM_REPLICAS"] = str(replicas)
    # Digests read this stack's reports, not whatever listens on the default port.
    procs["notification"].env["NOTIFICATION_ANALYTICS_URL"] = procs["analytics"].url
    # The ops page reads this stack's services and nats-server, not the default local ports.
    names = {"lead_intake": "lead-intake", "deal_pipeline": "deal-pipeline"}
    procs["analytics"].env["ANALYTICS_OPS_SERVICES"] = json.dumps(
        {names.get(name, name): proc.url for name, proc in procs.items()}
    )
    procs["analytics"].env["ANALYTICS_NATS_MONITOR_URL"] = nats.monitor_url
    try:
        for proc in procs.values():
            proc.start()
        for proc in procs.values():
            proc.wait_ready()
    except BaseException:  # one did not come up: the caller never gets the others to stop
        for proc in procs.values():
            proc.stop()
        raise
    return procs


def funnel_around_today(analytics: ServiceProcess) -> dict:
    today = datetime.now(UTC).date()
    params = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}
    response = httpx.get(
        f"{analytics.url}/v1/reports/sales-funnel", params=params, headers=VIEWER_KEY
    )
    assert response.status_code == 200, response.text
    return response.json()
