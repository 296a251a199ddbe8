"""Schemathesis fuzzes every operation of the OpenAPI schema, on both stores: whatever it
sends, the answer is never a 5xx, and every refusal has the one error shape. Path ids point at
real records half the time, so that bodies reach the command rules, not only the 404."""

import pytest

from deal_pipeline.domain.people import ManagerCard
from deal_pipeline.main import create_app, use_cases_for
from deal_pipeline.settings import PipelineSettings
from tests.support.fuzz import no_input_gets_a_server_error

KEY = {"X-API-Key": "fuzz-key"}
EXAMPLES = 20


@pytest.fixture
def app(nats_server, tmp_path, monkeypatch, store):
    for name, value in store.items():
        monkeypatch.setenv(name, value)
    settings = PipelineSettings(
        nats_url=nats_server.url, data_dir=tmp_path, api_key=KEY["X-API-Key"]
    )
    core = use_cases_for(settings)
    app = create_app(settings, core)
    core.reference.put_manager("anna", ManagerCard.checked("Anna", timezone="Europe/Moscow"))
    deal = core.opening.by_hand("Seed", name="Seed", email="seed@mail.ru")
    core.deals.schedule_task(deal.id, "Call", "call", deal.created_on, task_id="t1")
    app.state.seeded = {
        "deal_id": str(deal.id),
        "client_id": deal.client_id,
        "task_id": "t1",
        "manager_id": "anna",
        "pipeline_id": "default",
    }
    yield app
    core.close()


def test_no_input_gets_a_server_error(app):
    def steer_to_real_records(case, turns) -> None:
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
