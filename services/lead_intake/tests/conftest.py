"""Intake in-process (TestClient) on a real nats-server, with a form defined for the tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lead_intake.main import Components, app_for, build
from lead_intake.settings import IntakeSettings
from services.lead_intake.tests.helpers import API_KEY, CONTACT_FORM, OPERATOR, on_the_bus
from tests.support.net import wait_until


@pytest.fixture
def settings(nats_server, tmp_path) -> IntakeSettings:
    return IntakeSettings(
        nats_url=nats_server.url,
        data_dir=tmp_path / "intake",
        publish_timeout=1.0,
        api_key=API_KEY,
        min_fill_seconds=2.0,
    )


@pytest.fixture
def parts(settings) -> Components:
    return build(settings)


@pytest.fixture
def client(parts):
    with TestClient(app_for(parts)) as client:
        wait_until(lambda: on_the_bus(client.get), what="intake on NATS")
        yield client


@pytest.fixture
def contact_form(client) -> dict:
    response = client.put("/v1/forms/contact", json=CONTACT_FORM, headers=OPERATOR)
    assert response.status_code == 200, response.text
    return response.json()
