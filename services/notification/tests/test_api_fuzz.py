"""Schemathesis over the notification operator API, the service running on a real nats-server:
whatever it sends, the answer is never a 5xx, and every refusal has the one error shape. Half
the time a rule id points at a stored (default) rule and a rule body starts from a valid rule,
so that requests reach the rule store and the checks of each field, not only the 404 and the
first missing field."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from schemathesis import Case
from schemathesis.python.asgi import get_client, shutdown_lifespans

from notification.domain.defaults import DEFAULT_RULES
from notification.main import create_app
from tests.support.fuzz import no_input_gets_a_server_error
from tests.support.net import wait_until

from .conftest import KEY, settings_for
from .test_rules_api import GOOD

STORED = DEFAULT_RULES[0].id


@pytest.fixture
def app(nats_server, smtp_server, gateway) -> Iterator[FastAPI]:
    settings = settings_for(nats_server.url, smtp_server.port, gateway, seed_default_rules=True)
    app = create_app(settings)
    # Schemathesis runs the app's lifespan (the bus connection) on its own event loop, the one
    # that serves the requests, until told to stop: started here so the fuzz begins when ready.
    with get_client(app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="notification ready")
    yield app
    shutdown_lifespans()  # before the nats-server stops


def steer_to_stored_rules(case: Case, turns: Iterator[int]) -> None:
    turn = next(turns)  # its two lowest bits: each of the four mixes in turn
    if "rule_id" in (case.path_parameters or {}) and turn % 2:
        case.path_parameters["rule_id"] = STORED
    if isinstance(case.body, dict) and turn // 2 % 2:
        case.body = GOOD | case.body  # the generated fields replace valid ones


def test_no_input_gets_a_server_error(app: FastAPI) -> None:
    no_input_gets_a_server_error(
        app, headers=KEY, at_least=8, examples=25, prepare=steer_to_stored_rules
    )
