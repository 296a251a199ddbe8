"""The form fast path answers every post it takes as the route does (status, headers, body), and
hands the posts it cannot take to the stack, whose answer is the route's as before."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from lead_intake.domain.abuse import RateLimiter
from lead_intake.domain.forms import FormIn, define_form
from services.lead_intake.tests.fake_app import fake_app
from services.lead_intake.tests.fakes import FakeForms
from services.lead_intake.tests.helpers import CONTACT_FORM, ORIGIN

SUBMIT = "/v1/forms/contact/submit"
PLAIN = "/v1/forms/plain/submit"  # a form without a thank-you page
KEY = "public-key-123"
RENDERED = str(int((time.time() - 60) * 1000))
AS_JSON = {"Origin": ORIGIN, "Accept": "application/json"}
FIELDS = {"name": "Анна", "phone": "8 912 345-67-89", "consent": "on", "_form_key": KEY}
ROUTE = "/v1/forms/{form_id}/submit"

# (path, httpx keyword arguments, whether the fast path takes it)
POSTS: list[tuple[str, dict[str, Any], bool]] = [
    (SUBMIT, {"data": FIELDS, "headers": AS_JSON | {"Idempotency-Key": "k-1"}}, True),
    (SUBMIT, {"data": FIELDS, "headers": AS_JSON | {"Idempotency-Key": "k-1"}}, True),  # again
    (SUBMIT, {"data": FIELDS | {"_submission_id": "s-1"}, "headers": {"Origin": ORIGIN}}, True),
    (PLAIN, {"data": FIELDS | {"_submission_id": "s-2"}, "headers": {"Origin": ORIGIN}}, True),
    (SUBMIT, {"json": FIELDS | {"_submission_id": "s-3"}, "headers": AS_JSON}, True),
    (SUBMIT, {"data": FIELDS | {"_submission_id": "s-4"}, "files": {"x": ("", b"")}}, True),
    (
        SUBMIT,
        {
            "content": "name=%C0%C1&_form_key=" + KEY,
            "headers": AS_JSON | {"Content-Type": "application/x-www-form-urlencoded"},
        },
        True,
    ),
    (SUBMIT, {"data": FIELDS | {"_form_key": "wrong"}, "headers": AS_JSON}, True),
    (SUBMIT, {"data": FIELDS | {"phone": "12", "city": "Paris"}, "headers": AS_JSON}, True),
    (SUBMIT, {"data": FIELDS | {"_hp": "http://casino.example"}, "headers": AS_JSON}, True),
    (SUBMIT, {"data": FIELDS, "headers": AS_JSON | {"Origin": "https://evil.example"}}, True),
    (SUBMIT, {"data": FIELDS, "headers": {"Referer": ORIGIN + "/landing?utm_source=g"}}, True),
    ("/v1/forms/nope/submit", {"data": FIELDS, "headers": AS_JSON}, True),
    ("/v1/forms/bad%20id/submit", {"data": FIELDS, "headers": AS_JSON}, True),
    # What only the stack answers: the route's 422 for the key, BodyGuard's 415 and 413, a
    # header given twice, a path of another route.
    (SUBMIT, {"data": FIELDS, "headers": AS_JSON | {"Idempotency-Key": "k" * 201}}, False),
    (SUBMIT, {"content": b"<a/>", "headers": AS_JSON | {"Content-Type": "text/xml"}}, False),
    (SUBMIT, {"data": {"x": "y" * 4096}, "headers": AS_JSON}, False),
    (
        SUBMIT,
        {"data": FIELDS, "headers": [("Origin", ORIGIN), ("Origin", "https://evil.example")]},
        False,
    ),
    (SUBMIT + "/", {"data": FIELDS, "headers": AS_JSON}, False),
]


def apps(fast: bool) -> tuple[TestClient, list[str]]:
    plain = CONTACT_FORM | {"thank_you_url": None, "title": "<Plain> & co"}
    forms = FakeForms(
        {
            "contact": define_form("contact", FormIn.model_validate(CONTACT_FORM)),
            "plain": define_form("plain", FormIn.model_validate(plain)),
        }
    )
    app, reached = fake_app(forms, RateLimiter(600, 1000), fast, min_fill_seconds=2.0)
    return TestClient(app, follow_redirects=False), reached


def answer(client: TestClient, path: str, kwargs: dict[str, Any]) -> tuple[int, dict, bytes]:
    data = kwargs.get("data")
    if isinstance(data, dict) and "_hp" not in data:
        kwargs = kwargs | {"data": data | {"_rendered_at": RENDERED}}
    response = client.post(path, **kwargs)
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    body = response.content
    if "_hp" in (data or {}):  # a bot's lead id is made up each time
        body = body.replace(response.json()["lead_id"].encode(), b"<random>")
    return response.status_code, headers, body


def requests_counted(status: int) -> float:
    value = REGISTRY.get_sample_value(
        "crm_http_requests_total", {"method": "POST", "route": ROUTE, "status": str(status)}
    )
    return value or 0.0


def test_the_fast_path_answers_as_the_route_does_and_leaves_the_rest_to_it():
    stack, through_stack = apps(fast=False)
    fast, through_fast = apps(fast=True)
    for path, kwargs, taken in POSTS:
        expected = answer(stack, path, kwargs)
        before = requests_counted(expected[0])
        reached = len(through_fast)
        assert answer(fast, path, kwargs) == expected, (path, kwargs)
        assert (len(through_fast) == reached) == taken, (path, kwargs)
        if taken:  # counted under the route, as the stack counts what the route answers
            assert requests_counted(expected[0]) == before + 1, (path, kwargs)
    assert len(through_stack) == len(POSTS)


@pytest.mark.parametrize("fast", [False, True])
def test_a_form_post_is_a_lead_either_way(fast):
    client, _ = apps(fast)
    status, _, body = answer(client, SUBMIT, POSTS[0][1])
    assert (status, body.count(b'"status":"accepted"')) == (202, 1)
