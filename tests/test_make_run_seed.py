"""`make run` seeds demo data on every start, but only what is missing: a restart keeps what an
operator changed (deploy/local/ready.py against the real services)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.stack import API_KEY

READY = Path(__file__).resolve().parents[1] / "deploy" / "local" / "ready.py"


def load_ready(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """deploy/local/ready.py pointed at this test's stack (it reads ports and keys from env)."""
    for name, env in (
        ("lead_intake", "LEAD_INTAKE_PORT"),
        ("deal_pipeline", "DEAL_PIPELINE_PORT"),
        ("notification", "NOTIFICATION_PORT"),
        ("analytics", "ANALYTICS_PORT"),
    ):
        monkeypatch.setenv(env, str(stack[name].port))
    monkeypatch.setenv("DEAL_PIPELINE_API_KEY", API_KEY)
    spec = importlib.util.spec_from_file_location("make_run_ready", READY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_second_make_run_keeps_what_an_operator_changed(stack, monkeypatch):
    ready = load_ready(stack, monkeypatch)
    intake, pipeline = stack["lead_intake"].url, stack["deal_pipeline"].url
    forms_key, deals_key = {"X-API-Key": "dev-api-key"}, {"X-API-Key": API_KEY}
    ready.seed_form()
    ready.seed_sales_team()

    form = httpx.get(f"{intake}/v1/forms/contact", headers=forms_key).json()
    changed_form = {
        key: form[key] for key in ("title", "fields", "hidden_fields", "public_key")
    } | {
        "allowed_origins": ["https://shop.example"],
        "thank_you_url": "https://shop.example/thanks.html",
    }
    assert httpx.put(f"{intake}/v1/forms/contact", json=changed_form, headers=forms_key).is_success
    card = {"name": "Anna S.", "email": "anna@shop.example", "telegram_chat_id": "4242"}
    assert httpx.put(f"{pipeline}/v1/managers/anna", json=card, headers=deals_key).is_success

    ready.seed_form()  # the next `make run`
    ready.seed_sales_team()

    form = httpx.get(f"{intake}/v1/forms/contact", headers=forms_key).json()
    assert form["allowed_origins"] == ["https://shop.example"]
    assert form["thank_you_url"] == "https://shop.example/thanks.html"
    anna = httpx.get(f"{pipeline}/v1/managers/anna", headers=deals_key).json()
    assert (anna["name"], anna["email"]) == ("Anna S.", "anna@shop.example")
    assert anna.get("telegram_chat_id") == "4242"
    boris = httpx.get(f"{pipeline}/v1/managers/boris", headers=deals_key).json()
    assert boris["name"] == "Boris Kuznetsov"  # what was missing is still created
