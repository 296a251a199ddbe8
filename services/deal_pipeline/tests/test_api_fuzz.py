"""Schemathesis fuzzes every operation of the OpenAPI schema, on both stores: whatever it
sends, the answer is never a 5xx, and every refusal has the one error shape. Path ids point at
real records half the time, so that bodies reach the command rules, not only the 404."""

import pytest

from deal_pipeline.main import create_app
from deal_pipeline.settings import PipelineSettings
from tests.support.fuzz import no_input_gets_a_server_error

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
    def steer_to_real_records(case, turns) -> None:  # type: ignore[no-untyped-def]
        for name, value in app.state.seeded.items():
            if name in (case.path_parameters or {}) and next(turns) % 2:
                case.path_parameters[name] = value

    # /readyz answers 503 by design while the bus is not connected (no lifespan here).
    no_input_gets_a_server_error(
        app,
        headers=KEY,
        skip={"/readyz"},
        at_least=21,
        examples=EXAMPLES,
        prepare=steer_to_real_records,
    )
