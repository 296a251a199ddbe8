"""HTML form posts end to end in-process: a real nats-server, the form in NATS KV."""

import time

import pytest

from services.lead_intake.tests.helpers import CONTACT_FORM, OPERATOR, ORIGIN, lead_events

BROWSER = {"Origin": ORIGIN, "Referer": f"{ORIGIN}/contact"}
JSON = BROWSER | {"Accept": "application/json"}


def fields(**extra) -> dict:
    rendered = int((time.time() - 10) * 1000)  # the page was rendered 10 s ago
    base = {
        "name": "  Ann  ",
        "phone": "8 (912) 345-67-89",
        "consent": "on",
        "_form_key": "public-key-123",
        "_rendered_at": str(rendered),
    }
    return {k: v for k, v in (base | extra).items() if v is not None}


def test_urlencoded_post_redirects_to_the_thank_you_page_and_publishes(
    client, nats_server, contact_form
):
    response = client.post(
        "/v1/forms/contact/submit",
        data=fields(
            city="Kazan",
            budget="1500,50",
            product="sofa-42",
            ignored_button="Send",
            utm_source="yandex",
            utm_medium="cpc",
            yclid="123",
            landing_url="https://shop.example/?utm_campaign=spring",
            visitor_id="v-1",
            first_utm_source="google",
            first_at="2026-11-01T09:00:00.000Z",
        ),
        headers=BROWSER,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "https://shop.example/thanks"
    assert response.headers["access-control-allow-origin"] == ORIGIN
    [event] = lead_events(nats_server.url)
    assert event["form_id"] == "contact" and event["source"] == "form"
    assert event["contact"] == {"name": "Ann", "phone": "+79123456789", "email": None}
    assert event["consent"] is True
    assert event["custom_fields"] == {"city": "Kazan", "budget": "1500,50", "product": "sofa-42"}
    touch = event["touch"]
    assert (touch["utm_source"], touch["utm_medium"], touch["utm_campaign"]) == (
        "yandex",
        "cpc",
        "spring",
    )
    assert (touch["yclid"], touch["visitor_id"]) == ("123", "v-1")
    assert touch["referrer"] is None  # the form's own page is not a referrer
    assert event["first_touch"]["utm_source"] == "google"
    assert event["first_touch"]["at"].startswith("2026-11-01T09:00:00")


def test_multipart_post_answers_json_when_asked(client, nats_server, contact_form):
    response = client.post(
        "/v1/forms/contact/submit",
        data=fields(email="Ann@Mail.RU", phone=None),
        files={"unused": (None, "")},  # forces multipart/form-data
        headers=JSON,
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted"
    [event] = lead_events(nats_server.url)
    assert event["lead_id"] == response.json()["lead_id"]
    assert event["contact"]["email"] == "ann@mail.ru"


def test_a_plain_form_on_a_tagged_landing_page_keeps_its_utm(client, nats_server, contact_form):
    referer = f"{ORIGIN}/promo?utm_source=vk&utm_medium=social&fbclid=f1"
    response = client.post(
        "/v1/forms/contact/submit",
        data=fields(),
        headers={"Origin": ORIGIN, "Referer": referer, "Accept": "application/json"},
    )
    assert response.status_code == 202
    [event] = lead_events(nats_server.url)
    assert event["touch"]["landing_url"] == referer
    assert (event["touch"]["utm_source"], event["touch"]["fbclid"]) == ("vk", "f1")


def test_submission_id_makes_a_double_click_one_lead(client, nats_server, contact_form):
    data = fields(_submission_id="sub-1")
    first = client.post("/v1/forms/contact/submit", data=data, headers=JSON).json()
    second = client.post("/v1/forms/contact/submit", data=data, headers=JSON).json()
    assert first["lead_id"] == second["lead_id"]
    assert len(lead_events(nats_server.url)) == 1


@pytest.mark.parametrize(
    "data, errors",
    [
        (fields(consent=None), [("consent", "required")]),
        (fields(phone="12", email="nobody@"), [("phone", None), ("email", None)]),
        (fields(city="Paris", budget="lots"), [("city", None), ("budget", "not a number")]),
        (fields(name="x" * 101), [("name", "longer than 100 characters")]),
        (fields(phone=None), [("contact", "give at least a phone or an email")]),
        (fields(consent="maybe"), [("consent", "not a yes/no value")]),
        (fields(name="A\x00nn", utm_source="\x00"), [("name", None), ("utm_source", None)]),
    ],
)
def test_bad_fields_are_422_naming_each_field(client, nats_server, contact_form, data, errors):
    response = client.post("/v1/forms/contact/submit", data=data, headers=JSON)
    assert response.status_code == 422
    got = [(e["field"], e["reason"]) for e in response.json()["errors"]]
    assert [field for field, _ in got] == [field for field, _ in errors]
    for (_, reason), (_, expected) in zip(got, errors, strict=True):
        assert expected is None or reason == expected
    assert lead_events(nats_server.url) == []


def test_unknown_or_disabled_form_is_404(client, contact_form):
    assert client.post("/v1/forms/nope/submit", data=fields(), headers=JSON).status_code == 404
    assert client.get("/v1/forms/nope/embed.js").status_code == 404
    client.put("/v1/forms/contact", json=CONTACT_FORM | {"enabled": False}, headers=OPERATOR)
    response = client.post("/v1/forms/contact/submit", data=fields(), headers=JSON)
    assert response.status_code == 404
    assert response.json()["error"] == "form_not_found"


def test_wrong_origin_or_key_is_403(client, nats_server, contact_form):
    other = {"Origin": "https://evil.example", "Accept": "application/json"}
    response = client.post("/v1/forms/contact/submit", data=fields(), headers=other)
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "origin"
    assert "access-control-allow-origin" not in response.headers
    for key in ("wrong", None):
        response = client.post("/v1/forms/contact/submit", data=fields(_form_key=key), headers=JSON)
        assert response.status_code == 403
        assert response.json()["errors"][0]["field"] == "_form_key"
    assert lead_events(nats_server.url) == []


def test_cors_preflight(client, contact_form):
    ok = client.options(
        "/v1/forms/contact/submit",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert "Idempotency-Key" in ok.headers["access-control-allow-headers"]
    bad = client.options("/v1/forms/contact/submit", headers={"Origin": "https://evil.example"})
    assert bad.status_code == 403


@pytest.mark.parametrize(
    "spam, reason",
    [({"_hp": "http://casino.example"}, "honeypot"), ({"_rendered_at": None}, "too_fast")],
)
def test_bots_get_a_success_answer_but_nothing_is_published(
    client, nats_server, contact_form, spam, reason
):
    data = fields(**spam)
    if reason == "too_fast":
        data["_rendered_at"] = str(int(time.time() * 1000) - 500)  # half a second to fill
    response = client.post("/v1/forms/contact/submit", data=data, headers=JSON)
    assert response.status_code == 202 and response.json()["status"] == "accepted"
    redirect = client.post(
        "/v1/forms/contact/submit", data=data, headers=BROWSER, follow_redirects=False
    )
    assert redirect.status_code == 303
    assert lead_events(nats_server.url) == []
    assert f'crm_intake_spam_dropped_total{{reason="{reason}"}}' in client.get("/metrics").text


def test_rate_limit_per_ip_is_429_with_retry_after(client, contact_form):
    statuses = [
        client.post("/v1/forms/contact/submit", data=fields(_hp="x"), headers=JSON).status_code
        for _ in range(12)
    ]
    assert statuses[:10] == [202] * 10  # the burst
    assert statuses[10:] == [429, 429]
    limited = client.post("/v1/forms/contact/submit", data=fields(), headers=JSON)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    assert limited.json()["errors"][0]["field"] == "ip"


@pytest.mark.parametrize(
    "content, content_type, status, field",
    [
        (b"a=1", "text/plain", 415, "content-type"),
        (b"x" * 70_000, "application/x-www-form-urlencoded", 413, "body"),
        (b"[1, 2]", "application/json", 400, "body"),
        (b"--zz\r\nbroken", "multipart/form-data", 400, "body"),  # no boundary
    ],
)
def test_malformed_bodies_are_4xx_json(client, contact_form, content, content_type, status, field):
    response = client.post(
        "/v1/forms/contact/submit", content=content, headers=JSON | {"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field


def test_file_uploads_are_refused(client, contact_form):
    response = client.post(
        "/v1/forms/contact/submit",
        data=fields(),
        files={"cv": ("cv.txt", b"hello", "text/plain")},
        headers=JSON,
    )
    assert response.status_code == 400


def test_rate_limit_per_form_is_429_naming_the_form(client, parts, contact_form):
    parts.per_ip.limiter.burst = 1000
    parts.per_form.limiter.burst = 3
    statuses = [
        client.post("/v1/forms/contact/submit", data=fields(_hp="x"), headers=JSON).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    limited = client.post("/v1/forms/contact/submit", data=fields(), headers=JSON)
    assert limited.json()["errors"][0]["field"] == "form_id"
    assert int(limited.headers["retry-after"]) >= 1


def urlencoded(values: dict, charset: str) -> bytes:
    """The body a browser sends from a page in `charset` (raw bytes, as some clients do)."""
    return "&".join(f"{k}={v}" for k, v in values.items()).encode(charset)


def test_a_declared_charset_is_honoured(client, nats_server, contact_form):
    body = urlencoded(fields(name="Борис", city="Kazan"), "windows-1251")
    content_type = "application/x-www-form-urlencoded; charset=windows-1251"
    response = client.post(
        "/v1/forms/contact/submit", content=body, headers=JSON | {"Content-Type": content_type}
    )
    assert response.status_code == 202, response.text
    [event] = lead_events(nats_server.url)
    assert event["contact"]["name"] == "Борис"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe" + urlencoded(fields(name="Bob"), "utf-16-le"),  # UTF-16 with a BOM
        urlencoded(fields(name="Борис"), "windows-1251"),  # no charset declared: UTF-8
    ],
    ids=["utf-16-with-bom", "windows-1251-undeclared"],  # the bodies hold the time of import
)
def test_bytes_not_valid_in_the_charset_are_400_naming_the_body(
    client, nats_server, contact_form, body
):
    response = client.post(
        "/v1/forms/contact/submit",
        content=body,
        headers=JSON | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "body" and "utf-8" in error["reason"]
    assert lead_events(nats_server.url) == []
