"""The operator API: rules behind an API key, validation errors in the one JSON shape, and
the delivery log with filters."""

from __future__ import annotations

from .conftest import KEY

GOOD = {
    "trigger": {"event_type": "deal.won", "pipeline": "b2b", "amount_gte": "1000"},
    "audience": ["client", "fixed"],
    "recipients": ["sales@shop.test"],
    "channel": "email",
    "timing": {"mode": "after", "offset": "P1D"},
    "quiet_hours": {"start": "22:00", "end": "08:00"},
    "template": {
        "subject": {"en": "Thanks"},
        "body": {"en": "Hi {{ client.name }}", "ru": "Привет"},
    },
}


def test_rules_crud(start_service):
    api = start_service()
    assert api.get("/v1/rules").status_code == 401
    assert api.get("/v1/rules", headers={"X-API-Key": "wrong"}).status_code == 403
    created = api.put("/v1/rules/won-thanks", json=GOOD, headers=KEY)
    assert created.status_code == 201, created.text
    assert created.json()["timing"] == {
        "mode": "after",
        "offset": "P1D",
        "at": None,
        "weekday": None,
        "timezone": None,
    }
    assert api.put("/v1/rules/won-thanks", json=GOOD, headers=KEY).status_code == 200
    assert api.get("/v1/rules/won-thanks", headers=KEY).json()["trigger"]["pipeline"] == "b2b"
    assert [r["id"] for r in api.get("/v1/rules", headers=KEY).json()["rules"]] == ["won-thanks"]
    assert api.delete("/v1/rules/won-thanks", headers=KEY).status_code == 204
    missing = api.get("/v1/rules/won-thanks", headers=KEY)
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "errors": [{"field": "rule_id", "reason": "no rule 'won-thanks'"}],
    }
    assert api.delete("/v1/rules/won-thanks", headers=KEY).status_code == 404


def test_bad_rules_are_refused_with_reasons(start_service):
    api = start_service()

    def errors(rule_id: str, body: dict) -> list[dict]:
        response = api.put(f"/v1/rules/{rule_id}", json=body, headers=KEY)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "validation_failed"
        return response.json()["errors"]

    assert (
        errors("x", GOOD | {"trigger": {"event_type": "deal.exploded"}})[0]["field"]
        == "trigger.event_type"
    )
    no_offset = errors("x", GOOD | {"timing": {"mode": "after"}})
    assert "`after` needs a non-negative `offset`" in no_offset[0]["reason"]
    before = errors("x", GOOD | {"timing": {"mode": "before", "offset": "PT1H"}})
    assert "task.scheduled" in before[0]["reason"]
    assert (
        errors("x", GOOD | {"timing": {"mode": "after", "offset": "one day"}})[0]["field"]
        == "timing.offset"
    )
    assert errors("x", GOOD | {"channel": "pigeon"})[0]["field"] == "channel"
    assert errors("x", GOOD | {"recipients": []})[0]["reason"].endswith(
        "audience `fixed` needs `recipients`"
    )
    broken = errors("x", GOOD | {"template": {"body": {"en": "{% if %}"}}})
    assert broken[0]["field"] == "template.body.en"
    assert errors("bad id!", GOOD)[0]["field"] == "rule_id"  # the path parameter
    assert errors("x", GOOD | {"id": "y"})[0] == {"field": "id", "reason": "differs from the path"}
    assert api.get("/v1/rules", headers=KEY).json()["rules"] == []


def test_delivery_log_filters(start_service):
    api = start_service()
    response = api.get("/v1/deliveries", params={"status": "sent", "limit": 5}, headers=KEY)
    assert response.status_code == 200 and response.json() == {"deliveries": [], "count": 0}
    bad = api.get("/v1/deliveries", params={"status": "lost"}, headers=KEY)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


def test_bad_rule_ids_are_422_and_the_seed_marker_is_out_of_reach(start_service):
    api = start_service()
    for method in ("get", "delete"):
        for rule_id in ("a%20b", "meta.seeded"):
            response = getattr(api, method)(f"/v1/rules/{rule_id}", headers=KEY)
            assert response.status_code == 422, (method, rule_id, response.text)
