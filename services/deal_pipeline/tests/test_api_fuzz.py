"""Schemathesis fuzzes every operation of the OpenAPI schema, on both stores: whatever it
sends, the answer is never a 5xx, and every refusal has the one error shape. Path ids point at
real records half the time, so that bodies reach the command rules, not only the 404."""

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from deal_pipeline.main import create_app
from deal_pipeline.settings import PipelineSettings

KEY = {"X-API-Key": "fuzz-key"}
EXAMPLES = 20


@pytest.fixture
def app(nats_server, tmp_path, monkeypatch, store):  # type: ignore[no-untyped-def]
    for name, value in store.items():
        monkeypatch.setenv(name, value)
    app = create_app(
        PipelineSettings(nats_url=nats_server.url, data_dir=tmp_path, api_key=KEY["X-API-Key"])
    )
    deals = app.state.deals
    card = {"email": None, "telegram_chat_id": None, "phone": None, "timezone": "Europe/Moscow"}
    deals.put_manager("anna", name="Anna", active=True, **card)
    deal = deals.create_deal("Seed", name="Seed", email="seed@mail.ru")
    deals.schedule_task(deal.id, "Call", "call", deal.created_on, task_id="t1")
    app.state.seeded = {
        "deal_id": str(deal.id),
        "client_id": deal.client_id,
        "task_id": "t1",
        "manager_id": "anna",
        "pipeline_id": "default",
    }
    yield app
    deals.close()


def test_no_input_gets_a_server_error(app):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # /readyz answers 503 by design while the bus is not connected (no lifespan here).
    operations = [
        op for op in (r.ok() for r in schema.get_all_operations()) if op.path != "/readyz"
    ]
    assert len(operations) > 20
    turns = itertools.count()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:  # type: ignore[no-untyped-def]
            for name, value in app.state.seeded.items():
                if name in (case.path_parameters or {}) and next(turns) % 2:
                    case.path_parameters[name] = value
            response = case.call(headers=KEY)
            where = f"{case.method} {case.formatted_path} {case.body!r}"
            assert response.status_code < 500, f"{where}: {response.text}"
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error", "errors"} and body["error"], f"{where}: {body}"

        fuzz()
