"""The HTTP API and the lead consumer with a real nats-server, on both event stores."""

import asyncio
from datetime import UTC, datetime

import nats
import pytest
from fastapi.testclient import TestClient

from crm_contracts.envelope import derived_id
from crm_contracts.events import Contact, LeadReceived
from crm_contracts.pipelines import DEFAULT_PIPELINE
from crm_contracts.runtime.bus import make_broker, publish_event
from crm_contracts.streams import ensure_streams
from deal_pipeline.main import UseCases, create_app, use_cases_for
from deal_pipeline.settings import PipelineSettings
from tests.support.nats import stream_messages
from tests.support.net import wait_until

KEY = {"X-API-Key": "test-key"}
STAGES = [s.model_dump() for s in DEFAULT_PIPELINE.stages]


@pytest.fixture
def settings(nats_server, tmp_path, monkeypatch, store) -> PipelineSettings:
    for name, value in store.items():
        monkeypatch.setenv(name, value)
    return PipelineSettings(
        nats_url=nats_server.url, data_dir=tmp_path, api_key="test-key", managers=["m1", "m2"]
    )


@pytest.fixture
def core(settings) -> UseCases:
    """The service's own use cases (its app closes their store when it stops)."""
    return use_cases_for(settings)


@pytest.fixture
def client(settings, core):
    with TestClient(create_app(settings, core)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="pipeline ready")
        yield client


def post_lead(url: str, lead_id: str, **contact) -> None:
    async def go() -> None:
        broker = make_broker(url, "test")
        await broker.connect()
        lead = LeadReceived(
            event_id=derived_id("lead", lead_id),
            aggregate_id=lead_id,
            producer="test",
            lead_id=lead_id,
            form_id="site",
            received_at=datetime.now(UTC),
            contact=Contact(name="Ann", **contact),
        )
        await publish_event(broker, lead)
        await broker.stop()

    asyncio.run(go())


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def rejected(response, status: int, field: str | None = None) -> dict:
    """A 4xx in the one error shape, naming the field when there is one."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] and body["errors"] and body["errors"][0]["reason"]
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    return body


def test_a_lead_on_the_bus_opens_a_deal_once_and_moves_are_relayed(client, nats_server):
    post_lead(nats_server.url, "lead-1", phone="+79120000001")
    post_lead(nats_server.url, "lead-1", phone="+79120000001")  # the same event again
    deal = wait_until(
        lambda: (
            client.get("/v1/deals/by-lead/lead-1", headers=KEY).json()
            if client.get("/v1/deals/by-lead/lead-1", headers=KEY).status_code == 200
            else None
        ),
        what="deal",
    )
    assert (deal["stage"], deal["version"], deal["title"]) == ("new", 1, "Ann (site)")
    assert deal["id"] == str(derived_id("deal", "lead-1")) and deal["manager_id"] == "m1"
    client_card = ok(client.get(f"/v1/clients/{deal['client_id']}", headers=KEY))
    assert client_card["phones"] == ["+79120000001"]

    moved = ok(client.post(f"/v1/deals/{deal['id']}/stage", json={"stage": "invoice"}, headers=KEY))
    assert moved["stage"] == "invoice"

    def relayed() -> list[str]:
        subjects = [m.subject for m in asyncio.run(stream_messages(nats_server.url))]
        return subjects if len(subjects) >= 4 else []

    assert wait_until(relayed, what="relay") == [
        "crm.leads.received",
        "crm.clients.registered",
        "crm.deals.opened",
        "crm.deals.stage_changed",
    ]


def test_a_lead_that_fails_its_batch_holds_up_none_of_the_others(
    settings, core, nats_server, monkeypatch
):
    async def declare() -> None:
        connection = await nats.connect(nats_server.url)
        await ensure_streams(connection.jetstream())
        await connection.close()

    asyncio.run(declare())
    for i in range(6):  # on the bus before the service starts: they come as one batch
        post_lead(nats_server.url, f"lead-{i}", phone=f"+7912000000{i}")
    batches: list[int] = []
    opening = core.opening.from_leads

    def failing_on_lead_3(leads):
        batches.append(len(leads))
        if any(lead.lead_id == "lead-3" for lead in leads):
            raise RuntimeError("lead-3 cannot be opened")
        return opening(leads)

    monkeypatch.setattr(core.opening, "from_leads", failing_on_lead_3)
    with TestClient(create_app(settings, core)) as client:

        def opened() -> list[int] | None:
            found = [
                i
                for i in range(6)
                if client.get(f"/v1/deals/by-lead/lead-{i}", headers=KEY).status_code == 200
            ]
            return found if len(found) == 5 else None

        assert wait_until(opened, what="every other lead's deal") == [0, 1, 2, 4, 5]
    assert batches[0] == 6  # tried together first, then one by one


def test_a_deal_from_order_to_money_through_the_api(client):
    ok(
        client.put(
            "/v1/managers/anna", json={"name": "Anna", "email": "anna@shop.test"}, headers=KEY
        )
    )
    ok(client.put("/v1/plans/anna/2026-03", json={"amount": "300000"}, headers=KEY))
    assert ok(client.get("/v1/plans/anna/2026-03", headers=KEY))["amount"] == "300000"
    deal = ok(
        client.post(
            "/v1/deals",
            json={"title": "Chairs", "name": "Acme", "email": "buy@acme.test", "amount": "1000"},
            headers=KEY,
        ),
        201,
    )
    assert deal["manager_id"] == "anna" and deal["amount"] == "1000"
    card = ok(client.get(f"/v1/clients/{deal['client_id']}", headers=KEY))
    card["requisites"] |= {"legal_name": "Acme LLC", "inn": "7701234567"}
    edited = {k: card[k] for k in ("name", "phones", "emails", "telegram_chat_id", "requisites")}
    ok(client.put(f"/v1/clients/{deal['client_id']}", json=edited, headers=KEY))
    url = f"/v1/deals/{deal['id']}"
    ok(client.post(f"{url}/amount", json={"amount": "1200", "cost": "700"}, headers=KEY))
    task = ok(
        client.post(
            f"{url}/tasks",
            json={"title": "Call", "kind": "call", "due_at": "2026-03-02T10:00:00+03:00"},
            headers=KEY,
        ),
        201,
    )
    ok(client.post(f"{url}/tasks/{task['task_id']}/complete", headers=KEY))
    invoice = ok(client.post(f"{url}/invoices", json={"amount": "1200"}, headers=KEY), 201)
    assert invoice["number"] == "INV-000001"
    assert invoice["deal"]["invoices"][0]["requisites"]["inn"] == "7701234567"
    for amount in ("200", "1000"):
        body = {"amount": amount, "invoice_id": invoice["invoice_id"]}
        paid = ok(client.post(f"{url}/payments", json=body, headers=KEY), 201)
    assert paid["deal"]["paid_total"] == "1200"
    won = ok(client.post(f"{url}/win", headers=KEY))
    assert (won["stage"], won["status"]) == ("won", "won")
    reopened = ok(client.post(f"{url}/reopen", headers=KEY))
    assert reopened["stage"] == "new"
    lost = ok(client.post(f"{url}/lose", json={"reason": "competitor"}, headers=KEY))
    assert (lost["status"], lost["lost_reason"]) == ("lost", "competitor")
    history = ok(client.get(f"{url}/history", headers=KEY))["events"]
    assert [e["event_type"] for e in history] == [
        "deal.opened",
        "deal.amount_changed",
        "task.scheduled",
        "task.completed",
        "deal.invoice_issued",
        "deal.payment_received",
        "deal.payment_received",
        "deal.won",
        "deal.reopened",
        "deal.lost",
    ]
    assert [e["aggregate_version"] for e in history] == list(range(1, 11))


def test_pipelines_are_data(client):
    assert ok(client.get("/v1/pipelines/default", headers=KEY))["version"] == 0
    body = {"name": "B2B", "stages": STAGES[:2] + STAGES[4:], "lost_reasons": ["price"]}
    defined = ok(client.put("/v1/pipelines/b2b", json=body, headers=KEY))
    assert [s["name"] for s in defined["stages"]] == ["new", "qualified", "won", "lost"]
    assert ok(client.get("/v1/pipelines/b2b", headers=KEY))["version"] == 1
    deal = ok(client.post("/v1/deals", json={"title": "x", "pipeline_id": "b2b"}, headers=KEY), 201)
    rejected(
        client.post(f"/v1/deals/{deal['id']}/stage", json={"stage": "proposal"}, headers=KEY),
        422,
        "stage",
    )
    no_won = body | {"stages": [s for s in STAGES if s["kind"] != "won"]}
    rejected(client.put("/v1/pipelines/b2b", json=no_won, headers=KEY), 422, "stages")
    twice = body | {"stages": STAGES + STAGES[:1]}
    rejected(client.put("/v1/pipelines/b2b", json=twice, headers=KEY), 422, "stages")
    rejected(client.get("/v1/pipelines/none", headers=KEY), 404)


def test_commands_need_the_api_key(client):
    deal = derived_id("deal", "x")
    assert client.get(f"/v1/deals/{deal}").status_code == 401
    assert client.get(f"/v1/deals/{deal}", headers={"X-API-Key": "wrong"}).status_code == 403
    assert client.put("/v1/managers/anna", json={"name": "A"}).status_code == 401


def test_bad_commands_get_a_reason(client, core):
    deal_id = core.opening.from_lead("lead-9", "Bob")
    url = f"/v1/deals/{deal_id}"
    rejected(client.get("/v1/deals/not-a-uuid", headers=KEY), 422, "deal_id")
    rejected(client.get(f"/v1/deals/{derived_id('deal', 'none')}", headers=KEY), 404)
    unknown = rejected(client.post(f"{url}/stage", json={"stage": "shipped"}, headers=KEY), 422)
    assert "unknown stage" in unknown["errors"][0]["reason"]
    rejected(client.post(f"{url}/stage", json={"stage": ""}, headers=KEY), 422, "stage")
    rejected(client.post(f"{url}/stage", json={}, headers=KEY), 422, "stage")
    bad_json = client.post(
        f"{url}/stage", content=b"[", headers=KEY | {"content-type": "application/json"}
    )
    rejected(bad_json, 422)
    rejected(client.post(f"{url}/assign", json={"manager_id": "ghost"}, headers=KEY), 422)
    rejected(client.post(f"{url}/amount", json={"amount": "-1"}, headers=KEY), 422, "amount")
    rejected(
        client.post(f"{url}/amount", json={"amount": "1", "currency": "rub"}, headers=KEY), 422
    )
    for amount in ("0", "-5"):
        rejected(client.post(f"{url}/payments", json={"amount": amount}, headers=KEY), 422)
    rejected(
        client.post(f"{url}/payments", json={"amount": "5", "invoice_id": "x"}, headers=KEY), 422
    )
    naive = {"title": "Call", "due_at": "2026-03-02T10:00:00"}
    rejected(client.post(f"{url}/tasks", json=naive, headers=KEY), 422, "due_at")
    rejected(client.post(f"{url}/tasks/nope/complete", headers=KEY), 404)
    rejected(client.post(f"{url}/reopen", headers=KEY), 409)
    rejected(client.post(f"{url}/lose", json={"reason": "weather"}, headers=KEY), 422)
    rejected(client.post(f"{url}/stage", json={"stage": "lost"}, headers=KEY), 422, "lost_reason")
    ok(client.post(f"{url}/stage", json={"stage": "lost", "lost_reason": "price"}, headers=KEY))
    closed = rejected(client.post(f"{url}/stage", json={"stage": "won"}, headers=KEY), 409)
    assert closed["error"] == "DealClosed"
    lost = rejected(client.post(f"{url}/payments", json={"amount": "5"}, headers=KEY), 409)
    assert lost["error"] == "DealLost"  # the code clients know (the exception is DealIsLost)
    rejected(client.put("/v1/plans/ghost/2026-03", json={"amount": "1"}, headers=KEY), 422)
    rejected(client.put("/v1/plans/m1/2026-13", json={"amount": "1"}, headers=KEY), 422)
    rejected(
        client.put("/v1/managers/anna", json={"name": "A", "timezone": "Mars/Base"}, headers=KEY),
        422,
    )
    rejected(client.post("/v1/deals", json={"title": "x", "client_id": "nope"}, headers=KEY), 422)
    taken = {"phones": ["+79120000001"]}
    ok(client.post("/v1/clients", json=taken, headers=KEY), 201)
    rejected(client.post("/v1/clients", json=taken, headers=KEY), 409, "phone")
    assert core.deals.get(deal_id).version == 2  # only the accepted move


def moves_counted(client, status: int) -> float:
    """The request metrics' count of stage moves answered with `status`."""
    route = "/v1/deals/{deal_id}/stage"
    series = f'crm_http_requests_total{{method="POST",route="{route}",status="{status}"}}'
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_stage_moves_answer_alike_on_the_fast_path_and_through_the_route(client, core):
    """`api/fast_moves.py` takes a move with the canonical deal id; the same id in capitals is
    the same deal for the route, which answers it through FastAPI. Both answer with the same
    bytes (refusals) or the same view (moves), and are counted the same."""
    twins = [core.opening.by_hand("Twin", name="Twin one", manager_id="m1") for _ in range(2)]
    fast, routed = (f"/v1/deals/{deal.id}/stage" for deal in twins)
    routed = routed.upper().replace("/V1/DEALS/", "/v1/deals/").replace("/STAGE", "/stage")
    counted_ok, counted_refused = moves_counted(client, 200), moves_counted(client, 422)

    def same(body: dict) -> None:
        answers = [client.post(url, json=body, headers=KEY) for url in (fast, routed)]
        assert [a.status_code for a in answers] == [answers[0].status_code] * 2, body
        assert answers[0].headers["content-type"] == answers[1].headers["content-type"]
        if answers[0].status_code != 200:
            assert answers[0].content == answers[1].content, body
            return
        views = [a.json() for a in answers]
        for view, deal in zip(views, twins, strict=True):
            assert view.pop("id") == str(deal.id)
            for moment in ("created_on", "modified_on", "stage_entered_at"):
                view.pop(moment)
            view.pop("client_id")
        assert views[0] == views[1], body

    same({"stage": "proposal"})
    same({"stage": "shipped"})  # unknown stage: 422
    same({"stage": "lost"})  # without a reason: 422
    same({"stage": "new", "lost_reason": None})
    same({"stage": "lost", "lost_reason": "price"})
    same({"stage": "won"})  # closed: 409
    assert moves_counted(client, 200) == counted_ok + 6  # three moves on each path
    assert moves_counted(client, 422) == counted_refused + 4

    # Not the fast path's to take: answered by the route as before.
    unknown = f"/v1/deals/{derived_id('deal', 'none')}/stage"
    rejected(client.post(unknown, json={"stage": "won"}, headers=KEY), 404)
    rejected(client.post(fast, json={"stage": "won"}, headers={"X-API-Key": "wrong"}), 403)
    rejected(client.post(fast, json={"stage": "won"}), 401)
    rejected(client.post(fast, json={"stage": "won", "extra": 1}, headers=KEY), 422, "extra")
    as_text = KEY | {"content-type": "text/plain"}
    rejected(client.post(fast, content=b'{"stage": "won"}', headers=as_text), 422)
