"""The list routes over HTTP, on both event stores: the key, filters, 422s naming the field,
the background follower and the operator's rebuild."""

import pytest
from fastapi.testclient import TestClient

from deal_pipeline.adapters.read_model import ReadModel
from deal_pipeline.main import UseCases, create_app, use_cases, use_cases_for
from deal_pipeline.settings import PipelineSettings
from tests.support.net import wait_until

KEY = {"X-API-Key": "test-key"}


@pytest.fixture
def settings(nats_server, tmp_path, monkeypatch, store) -> PipelineSettings:
    for name, value in store.items():
        monkeypatch.setenv(name, value)
    return PipelineSettings(
        nats_url=nats_server.url,
        data_dir=tmp_path,
        api_key="test-key",
        managers=["m1", "m2"],
        read_model_idle_poll=0.1,
    )


@pytest.fixture
def core(settings) -> UseCases:
    """The service's own use cases (its app closes their store when it stops)."""
    return use_cases_for(settings)


@pytest.fixture
def client(settings, core):
    with TestClient(create_app(settings, core)) as client:
        yield client


def ok(response) -> dict | list:
    assert response.status_code == 200, response.text
    return response.json()


def open_deal(client, title: str, **fields) -> dict:
    response = client.post("/v1/deals", headers=KEY, json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_managers_open_deals_page_by_page(client):
    for i in range(5):
        open_deal(client, f"Deal {i}", name=f"c{i}", manager_id="m1", amount=str(i))
    won = open_deal(client, "Won", name="w", manager_id="m1")
    ok(client.post(f"/v1/deals/{won['id']}/win", headers=KEY))
    open_deal(client, "Other", name="o", manager_id="m2")
    params = {"manager": "m1", "status": "open", "sort": "-amount", "limit": 2}
    titles, pages = [], 0
    while True:
        page = ok(client.get("/v1/deals", params=params, headers=KEY))
        titles += [d["title"] for d in page["deals"]]
        pages += 1
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert (titles, pages) == ([f"Deal {i}" for i in (4, 3, 2, 1, 0)], 3)
    deal = ok(client.get("/v1/deals", params={"q": "won"}, headers=KEY))["deals"][0]
    assert (deal["id"], deal["status"], deal["stage"], deal["amount"]) == (
        won["id"], "won", "won", "0"
    )  # fmt: skip


def test_clients_by_phone_and_all_pipelines(client):
    open_deal(client, "Chairs", name="Ivan", phone="+79123456789")
    found = ok(client.get("/v1/clients", params={"query": "8 912 345-67-89"}, headers=KEY))
    assert [c["phones"] for c in found["clients"]] == [["+79123456789"]]
    assert found["next_cursor"] is None
    pipelines = ok(client.get("/v1/pipelines", headers=KEY))
    assert [p["pipeline_id"] for p in pipelines] == ["default"]


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("/v1/deals", {"limit": "0"}, "limit"),
        ("/v1/deals", {"limit": "501"}, "limit"),
        ("/v1/deals", {"sort": "title"}, "sort"),
        ("/v1/deals", {"status": "maybe"}, "status"),
        ("/v1/deals", {"cursor": "garbage"}, "cursor"),
        ("/v1/deals", {"opened_from": "2026-01-01T00:00:00"}, "opened_from"),  # no zone
        ("/v1/deals", {"opened_from": "9999-01-01T00:00:00Z"}, "opened_from"),
        ("/v1/deals", {"manager_id": "m1"}, "manager_id"),  # a misspelt filter
        ("/v1/clients", {"query": "x" * 201}, "query"),
        ("/v1/clients", {"cursor": "eyJ4Ijox"}, "cursor"),
    ],
)
def test_bad_parameters_are_a_422_naming_the_field(client, path, params, field):
    response = client.get(path, params=params, headers=KEY)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_lists_and_the_rebuild_need_the_key(client):
    for method, path in [
        ("GET", "/v1/deals"),
        ("GET", "/v1/clients"),
        ("GET", "/v1/pipelines"),
        ("POST", "/v1/admin/read-model/rebuild"),
    ]:
        assert client.request(method, path).status_code in (401, 403)
        assert client.request(method, path, headers={"X-API-Key": "wrong"}).status_code in (
            401,
            403,
        )


def test_the_follower_takes_in_saves_of_other_processes_and_the_rebuild_agrees(client, core, store):
    other = use_cases(store, managers=["m1"])  # another replica on the same store
    try:
        other.opening.by_hand("From elsewhere", name="Eve")
        last = other.store.recorder.max_notification_id()
    finally:
        other.close()
    read_model = ReadModel(core.store)  # the position the service's follower moves
    wait_until(lambda: read_model.position() == last, what="read model caught up")
    before = ok(client.get("/v1/deals", headers=KEY))
    assert ok(client.post("/v1/admin/read-model/rebuild", headers=KEY)) == {"position": last}
    assert ok(client.get("/v1/deals", headers=KEY)) == before
    assert [d["title"] for d in before["deals"]] == ["From elsewhere"]


@pytest.mark.parametrize(
    "path, name",
    [("/v1/deals", "q"), ("/v1/deals", "manager"), ("/v1/clients", "query")],
)
def test_a_nul_character_in_a_filter_is_a_422_not_a_500(client, path, name):
    # PostgreSQL refuses NUL in text parameters; the fuzz test found the 500 there.
    response = client.get(path, params={name: "a\x00b"}, headers=KEY)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": name, "reason": "contains a NUL character"}]


def test_a_nul_character_in_a_body_is_a_422_and_nothing_is_written(client):
    response = client.post("/v1/deals", headers=KEY, json={"title": "T", "name": "A\x00nn"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": "name", "reason": "contains a NUL character"}]
    assert ok(client.get("/v1/deals", headers=KEY))["deals"] == []


def test_a_stored_nul_does_not_stop_the_read_model(client, core):
    # Stored by an older version or another producer: PostgreSQL text cannot hold it, so the
    # read model shows the replacement character and goes on to the next event.
    core.opening.by_hand("Nul\x00title", name="A\x00nn")
    core.opening.by_hand("Next", name="Bob")
    last = core.store.recorder.max_notification_id()
    wait_until(lambda: ReadModel(core.store).position() == last, what="read model caught up")
    titles = sorted(d["title"] for d in ok(client.get("/v1/deals", headers=KEY))["deals"])
    assert titles[0] == "Next" and titles[1].replace("\ufffd", "\x00") == "Nul\x00title"
    names = {c["name"] for c in ok(client.get("/v1/clients", headers=KEY))["clients"]}
    assert "Bob" in names and len(names) == 2
