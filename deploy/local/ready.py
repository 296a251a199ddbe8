"""For `make run`: wait until every service answers /readyz, add demo data where it is missing
(never over an operator's change), print the URLs last, then stay up (honcho stops the whole
stack when any process ends)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import suppress
from datetime import date, timedelta

import httpx

from crm_contracts.pipelines import DEFAULT_PIPELINE

SERVICES = {
    "lead-intake": ("LEAD_INTAKE_PORT", 8001),
    "deal-pipeline": ("DEAL_PIPELINE_PORT", 8002),
    "notification": ("NOTIFICATION_PORT", 8003),
    "analytics": ("ANALYTICS_PORT", 8004),
}
API_KEY = os.environ.get("DEAL_PIPELINE_API_KEY", "dev-api-key")
INTEGRATION_KEY = os.environ.get("LEAD_INTAKE_INTEGRATION_API_KEY", "dev-api-key")
VIEWER_KEY = os.environ.get("ANALYTICS_VIEWER_API_KEY", "dev-viewer-key")
LOST_REASONS = ["price", "competitor", "no_budget", "no_response", "not_a_fit", "other"]
DEMO = [  # name, contact, landing page, stages to move through, amount
    (
        "Anna Petrova",
        {"phone": "+7 912 000-00-01"},
        "https://shop.example/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring&yclid=101",
        ["qualified", "proposal", "invoice", "won"],
        "120000",
    ),
    (
        "Boris Ivanov",
        {"email": "boris@example.com"},
        "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=202",
        ["proposal"],
        "45000",
    ),
    (
        "Chloe Smirnova",
        {"email": "chloe@example.com"},
        "https://shop.example/blog",
        ["qualified", "lost"],
        "30000",
    ),
    (
        "Dmitry Orlov",
        {"phone": "+7 912 000-00-04"},
        "https://shop.example/?utm_source=vk&utm_medium=social",
        [],
        "15000",
    ),
]


def url(service: str) -> str:
    env, default = SERVICES[service]
    return f"http://127.0.0.1:{os.environ.get(env, default)}"


def fully_ready(service: str) -> bool:
    """Ready with every check passing: intake answers ready while NATS is still down (its
    spool takes leads), but the demo form is stored in NATS, so seeding waits for the bus."""
    response = httpx.get(f"{url(service)}/readyz", timeout=2)
    checks = response.json().get("checks", {}) if response.status_code == 200 else {}
    passed = (v.get("ok", False) if isinstance(v, dict) else bool(v) for v in checks.values())
    return response.status_code == 200 and all(passed)


def wait_ready(timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = set(SERVICES)
    while pending and time.monotonic() < deadline:
        for service in list(pending):
            with suppress(httpx.HTTPError, ValueError):
                if fully_ready(service):
                    pending.discard(service)
        time.sleep(0.3)
    if pending:
        sys.exit(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")


def create_missing(path_url: str, body: dict, headers: dict[str, str]) -> bool:
    """PUT `body` only where nothing is stored yet: what an operator changed since an earlier
    `make run` (a form's origins, a manager's name or Telegram id, a plan) stays as it is."""
    found = httpx.get(path_url, headers=headers)
    if found.status_code != 404:
        found.raise_for_status()
        return False
    httpx.put(path_url, json=body, headers=headers).raise_for_status()
    return True


def seed_form() -> None:
    """The form of README's "Embedding a form", open to any origin, with a fixed key."""
    form = {
        "title": "Contact us",
        "fields": [
            {"name": "name", "type": "string", "required": True, "max_length": 100},
            {"name": "phone", "type": "phone"},
            {"name": "email", "type": "email"},
            {"name": "city", "type": "choice", "choices": ["Moscow", "Kazan"]},
            {"name": "consent", "type": "bool"},
        ],
        "hidden_fields": ["product"],
        "public_key": "demo-form-key",
    }
    key = {"X-API-Key": os.environ.get("LEAD_INTAKE_API_KEY", "dev-api-key")}
    create_missing(f"{url('lead-intake')}/v1/forms/contact", form, key)


def seed_sales_team() -> None:
    """Managers (round robin gives them the demo deals), the default pipeline as data and this
    month's plans, each only when missing."""
    headers = {"X-API-Key": API_KEY}
    pipeline = url("deal-pipeline")
    month = date.today().strftime("%Y-%m")
    for manager_id, name in (("anna", "Anna Sokolova"), ("boris", "Boris Kuznetsov")):
        card = {"name": name, "email": f"{manager_id}@localhost"}
        create_missing(f"{pipeline}/v1/managers/{manager_id}", card, headers)
        plan = {"amount": "500000", "currency": "RUB"}
        create_missing(f"{pipeline}/v1/plans/{manager_id}/{month}", plan, headers)
    stages = [s.model_dump() for s in DEFAULT_PIPELINE.stages]
    definition = {"name": DEFAULT_PIPELINE.name, "stages": stages, "lost_reasons": LOST_REASONS}
    create_missing(f"{pipeline}/v1/pipelines/default", definition, headers)


def seed_demo() -> None:
    """Idempotent: the same Idempotency-Key gives the same lead, and a lead opens one deal."""
    headers = {"X-API-Key": API_KEY}
    for i, (name, contact, landing, stages, amount) in enumerate(DEMO, start=1):
        lead = httpx.post(
            f"{url('lead-intake')}/v1/leads",
            json={"name": name, "landing_url": landing, "form_id": "demo", **contact},
            headers={"Idempotency-Key": f"demo-{i}", "X-API-Key": INTEGRATION_KEY},
        ).json()
        deal = None
        for _ in range(100):
            response = httpx.get(
                f"{url('deal-pipeline')}/v1/deals/by-lead/{lead['lead_id']}", headers=headers
            )
            if response.status_code == 200:
                deal = response.json()
                break
            time.sleep(0.1)
        if deal is None or deal["version"] > 1:
            continue  # not opened in time, or already moved by an earlier `make run`
        deal_url = f"{url('deal-pipeline')}/v1/deals/{deal['id']}"
        httpx.post(f"{deal_url}/amount", json={"amount": amount}, headers=headers)
        for stage in stages:
            if stage == "won":  # invoiced and paid in two parts before it is won
                invoice = httpx.post(
                    f"{deal_url}/invoices", json={"amount": amount}, headers=headers
                ).json()
                half = str(int(amount) // 2)
                for part in (half, str(int(amount) - int(half))):
                    payment = {"amount": part, "invoice_id": invoice["invoice_id"]}
                    httpx.post(f"{deal_url}/payments", json=payment, headers=headers)
            body = {"stage": stage} | ({"lost_reason": "price"} if stage == "lost" else {})
            httpx.post(f"{deal_url}/stage", json=body, headers=headers)


def dashboard_accounts() -> str:
    """The sign-in of deploy/local/dev.env's account when it is the one configured."""
    users = json.loads(os.environ.get("ANALYTICS_DASHBOARD_USERS") or "{}")
    if not users:
        return "none: set ANALYTICS_DASHBOARD_USERS (deploy/local/dev.env)"
    return ", ".join(f"{n} / {n}" if n in ("demo", "ops") else n for n in sorted(users))


def operator_accounts() -> str:
    """The accounts that may open /ops (the operator role)."""
    users = json.loads(os.environ.get("ANALYTICS_DASHBOARD_USERS") or "{}")
    names = sorted(name for name, user in users.items() if user.get("role") == "operator")
    return ", ".join(names) or "none: add one with role operator to ANALYTICS_DASHBOARD_USERS"


def analyst_line() -> str:
    """Where BI tools connect: ClickHouse's HTTP interface, when an analyst account is set."""
    users = json.loads(os.environ.get("ANALYTICS_CLICKHOUSE_HTTP_USERS") or "{}")
    if not users:
        return "off: set ANALYTICS_CLICKHOUSE_HTTP_USERS"
    port = os.environ.get("ANALYTICS_CLICKHOUSE_HTTP_PORT", "8123")
    who = "analyst / analyst" if "analyst" in users else ", ".join(sorted(users))
    return f"http://127.0.0.1:{port}   (ClickHouse protocol, user {who}; views crm.v_*)"


def wait_settled(timeout: float = 20) -> None:
    """Until analytics has every demo deal and the reminders they trigger have had a moment,
    so that the banner is the last thing `make run` prints."""
    today = date.today()
    period = {"from": str(today - timedelta(days=3650)), "to": str(today + timedelta(days=2))}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError, KeyError, ValueError):
            funnel = httpx.get(
                f"{url('analytics')}/v1/reports/sales-funnel",
                params=period,
                headers={"X-API-Key": VIEWER_KEY},
            ).json()
            if funnel["deals"] >= len(DEMO):
                break
        time.sleep(0.3)
    time.sleep(2)


def main() -> None:
    wait_ready()
    seed_form()
    seed_sales_team()
    seed_demo()
    wait_settled()
    lines = [f"  {name:<14} {url(name)}   (API docs: {url(name)}/docs)" for name in SERVICES]
    print("\nCRM analytics stack is up:\n" + "\n".join(lines), flush=True)
    today = date.today()
    period = f"from={today - timedelta(days=30)}&to={today + timedelta(days=1)}"
    print(f"  dashboard      {url('analytics')}/   (sign in: {dashboard_accounts()})")
    print(f"  sales funnel   {url('analytics')}/v1/reports/sales-funnel?{period}")
    print(f"                 (header X-API-Key: {VIEWER_KEY}, or signed in)")
    print(f"  operations     {url('analytics')}/ops   (operators: {operator_accounts()})")
    print(f"  SQL for tools  {analyst_line()}")
    print(f"  NATS           nats://127.0.0.1:{os.environ.get('NATS_PORT', 4222)}", end="")
    print(f"   (monitoring: http://127.0.0.1:{os.environ.get('NATS_MONITOR_PORT', 8222)}/jsz)")
    print(f"  dev accounts:  dashboard {dashboard_accounts()}; API keys {API_KEY} (commands,")
    print(f"                 operators), {VIEWER_KEY} (reports); form key demo-form-key")
    print("Ctrl-C stops everything.\n", flush=True)
    signal.pause()


if __name__ == "__main__":
    main()
