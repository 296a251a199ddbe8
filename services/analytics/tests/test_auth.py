"""Staff access over HTTP (docs/operations.md):
every report and drill-down route needs a viewer (key or
signed-in session), operator routes an operator; the browser signs in at /login."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from honcho.environ import parse as parse_env_file

from analytics.adapters.clickhouse import ClickHouse
from analytics.api.auth import COOKIE, Auth, Principal
from analytics.domain.auth import sessions
from analytics.domain.auth.passwords import hash_password, verify_password
from analytics.main import build_service, create_app
from analytics.settings import AnalyticsSettings
from services.analytics.tests.apps import offline_settings
from services.analytics.tests.live import API_KEY, running_analytics
from tests.support.nats import NatsServer

OPERATOR_KEY, VIEWER_KEY = "op-key", "viewer-key"
SECRET = "test-session-secret"
PASSWORDS = {"vera": "vera-pw", "otto": "otto-pw"}
USERS = {
    "vera": {"password": hash_password(PASSWORDS["vera"]), "role": "viewer"},
    "otto": {"password": hash_password(PASSWORDS["otto"]), "role": "operator"},
}
PERIOD = {"from": "2026-03-01", "to": "2026-04-01"}
ROOT = Path(__file__).resolve().parents[3]


def settings_for(clickhouse: ClickHouse, tmp_path: Path, **extra: object) -> AnalyticsSettings:
    values: dict[str, object] = {
        "api_key": OPERATOR_KEY,
        "viewer_api_key": VIEWER_KEY,
        "dashboard_users": USERS,
        "session_secret": SECRET,
    }
    return offline_settings(clickhouse, tmp_path, **(values | extra))


@pytest.fixture
def app(clickhouse: ClickHouse, tmp_path: Path) -> FastAPI:
    service = build_service(settings_for(clickhouse, tmp_path), clickhouse)
    _add_probe(service.app, service.auth)
    return service.app


def _add_probe(app: FastAPI, auth: Auth) -> None:
    """An HTML route as the dashboard declares them."""

    @app.get("/probe", include_in_schema=False)
    def probe(who: Principal = Depends(auth.browser_viewer)) -> dict[str, str | None]:
        return {"user": who.user}


def token(user: str = "vera", role: sessions.Role = "viewer", ttl: int = 600, **kw: Any) -> str:
    return sessions.issue(SECRET.encode(), user, role, ttl, **kw)


def tampered(good: str) -> str:
    """The same signature over a payload claiming the operator role."""
    payload, signature = good.split(".")
    forged = token(role="operator").split(".")[0]
    assert forged != payload
    return f"{forged}.{signature}"


def staff_routes(app: FastAPI) -> dict[str, tuple[dict[str, str], bool]]:
    """Every report and drill-down URL with the period where it takes one, from the app's own
    schema (path parameters filled in): a new report is covered without touching this test.
    FastAPI includes routers lazily, so `app.routes` no longer lists them; the schema does."""
    found = {}
    for path, item in app.openapi()["paths"].items():
        if not path.startswith(("/v1/reports/", "/v1/drill/")):
            continue
        assert set(item) == {"get"}, path
        declared = {p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"}
        url = re.sub(r"\{[^}]+\}", "made-up-id", path)
        found[url] = ({k: v for k, v in PERIOD.items() if k in declared}, url != path)
    return found


def sign_in(
    api: TestClient, user: str = "vera", password: str | None = None, **form: str
) -> httpx.Response:
    body = {"username": user, "password": PASSWORDS.get(user, "") if password is None else password}
    return api.post("/login", data=body | form, follow_redirects=False)


def test_every_report_and_drill_route_needs_a_viewer(app: FastAPI) -> None:
    routes = staff_routes(app)
    assert len(routes) >= 15 and "/v1/drill/deals" in routes and "/v1/reports/abc" in routes
    expired = token(now=time.time() - 3600)
    refused = {
        "missing": (TestClient(app), {}, "X-API-Key"),
        "wrong key": (TestClient(app), {"X-API-Key": "nope"}, "wrong key"),
        "expired": (TestClient(app, cookies={COOKIE: expired}), {}, sessions.EXPIRED),
        "tampered": (TestClient(app, cookies={COOKIE: tampered(token())}), {}, sessions.INVALID),
        "garbage": (TestClient(app, cookies={COOKIE: "x.y"}), {}, sessions.INVALID),
        "gone": (TestClient(app, cookies={COOKIE: token(user="ghost")}), {}, sessions.INVALID),
    }
    accepted = {
        "viewer key": (TestClient(app), {"X-API-Key": VIEWER_KEY}),
        "operator key": (TestClient(app), {"X-API-Key": OPERATOR_KEY}),
        "viewer session": (TestClient(app, cookies={COOKIE: token()}), {}),
        "operator session": (TestClient(app, cookies={COOKIE: token("otto", "operator")}), {}),
    }
    for path, (params, made_up_id) in routes.items():
        for case, (api, headers, reason) in refused.items():
            response = api.get(path, params=params, headers=headers)
            assert response.status_code == 401, f"{path} {case}: {response.text}"
            body = response.json()
            assert body["error"] == "unauthorized", f"{path} {case}: {body}"
            [error] = body["errors"]
            assert reason in (error["field"], error["reason"]), f"{path} {case}: {body}"
        for case, (api, headers) in accepted.items():
            response = api.get(path, params=params, headers=headers)
            allowed = (200, 404) if made_up_id else (200,)  # let in; that id may not exist
            assert response.status_code in allowed, f"{path} {case}: {response.text}"


def test_no_api_route_answers_without_credentials(app: FastAPI) -> None:
    """Whatever a router declares, every `/v1/` operation of the schema (reports, drill-down,
    what the dashboard reads, operator endpoints) is a 401 without a key or session."""
    api = TestClient(app)
    operations = [
        (method, path.replace("{", "").replace("}", ""))
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method in item
    ]
    assert len(operations) >= 20
    for method, path in operations:
        response = api.request(method.upper(), path, params=PERIOD)
        assert response.status_code == 401, f"{method} {path}: {response.text}"


def test_the_key_decides_when_both_are_sent(app: FastAPI) -> None:
    api = TestClient(app, cookies={COOKIE: token()})
    assert api.get("/v1/me").json() == {"user": "vera", "role": "viewer", "via": "session"}
    assert api.get("/v1/me", headers={"X-API-Key": "nope"}).status_code == 401
    assert TestClient(app).get("/v1/me", headers={"X-API-Key": VIEWER_KEY}).json() == {
        "user": None,
        "role": "viewer",
        "via": "key",
    }
    me = TestClient(app).get("/v1/me", headers={"X-API-Key": OPERATOR_KEY}).json()
    assert me == {"user": None, "role": "operator", "via": "key"}


def test_an_empty_configured_viewer_key_opens_nothing(
    clickhouse: ClickHouse, tmp_path: Path
) -> None:
    api = TestClient(create_app(settings_for(clickhouse, tmp_path, viewer_api_key=""), clickhouse))
    assert api.get("/v1/reports/abc", params=PERIOD, headers={"X-API-Key": ""}).status_code == 401
    ok = api.get("/v1/reports/abc", params=PERIOD, headers={"X-API-Key": OPERATOR_KEY})
    assert ok.status_code == 200


def test_operator_routes_take_the_operator_key_or_an_operator_session(app: FastAPI) -> None:
    api = TestClient(app)
    spend = {"from": "2026-03-01", "to": "2026-04-01"}
    assert api.get("/v1/ad-spend", params=spend).status_code == 401
    assert api.get("/v1/ad-spend", params=spend, headers={"X-API-Key": "nope"}).status_code == 403
    assert (
        api.get("/v1/ad-spend", params=spend, headers={"X-API-Key": VIEWER_KEY}).status_code == 403
    )
    assert (
        api.get("/v1/ad-spend", params=spend, headers={"X-API-Key": OPERATOR_KEY}).status_code
        == 200
    )

    viewer = TestClient(app, cookies={COOKIE: token()})
    refused = viewer.get("/v1/ad-spend", params=spend)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    expired = TestClient(app, cookies={COOKIE: token("otto", "operator", now=time.time() - 3600)})
    assert expired.get("/v1/ad-spend", params=spend).status_code == 401

    operator = TestClient(app, cookies={COOKIE: token("otto", "operator")})
    assert operator.get("/v1/ad-spend", params=spend).status_code == 200
    rates = {"rows": [{"date": "2026-03-01", "currency": "USD", "rate": "90"}]}
    same_site = operator.post(
        "/v1/currency-rates", json=rates, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert same_site.status_code == 200, same_site.text
    for headers in ({"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example"}):
        response = operator.post("/v1/currency-rates", json=rates, headers=headers)
        assert response.status_code == 403, headers
    own_origin = operator.post(
        "/v1/currency-rates", json=rates, headers={"Origin": "http://testserver"}
    )
    assert own_origin.status_code == 200


def test_sign_in_sets_a_session_cookie_and_goes_to_next(app: FastAPI) -> None:
    api = TestClient(app)
    page = api.get("/login", params={"next": "/reports?tab=funnel"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'lang="ru"' in page.text and "Войти" in page.text
    assert 'name="next" value="/reports?tab=funnel"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no external assets
    english = api.get("/login", params={"lang": "en"})
    assert 'lang="en"' in english.text and "Sign in" in english.text

    response = sign_in(api, next="/reports?tab=funnel")
    assert response.status_code == 303 and response.headers["location"] == "/reports?tab=funnel"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Path=/", "SameSite=lax", f"Max-Age={8 * 3600}"):
        assert attribute in cookie
    assert "Secure" not in cookie
    assert api.get("/v1/me").json() == {"user": "vera", "role": "viewer", "via": "session"}
    assert api.get("/v1/reports/abc", params=PERIOD).status_code == 200
    assert api.get("/probe").json() == {"user": "vera"}
    again = api.get("/login", params={"next": "/x"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/x"  # already signed in


def test_secure_cookie_behind_https(clickhouse: ClickHouse, tmp_path: Path) -> None:
    app = create_app(settings_for(clickhouse, tmp_path, cookie_secure=True), clickhouse)
    response = sign_in(TestClient(app))
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_failed_sign_in_shows_the_page_with_an_error(app: FastAPI) -> None:
    api = TestClient(app)
    for user, password in (("vera", "wrong"), ("nobody", "vera-pw"), ("vera", "")):
        response = sign_in(api, user, password, next="/deals", lang="en")
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
        assert 'name="next" value="/deals"' in response.text
        assert "set-cookie" not in response.headers
    russian = sign_in(api, "vera", "wrong")
    assert russian.status_code == 401 and "Неверное имя пользователя или пароль" in russian.text
    assert api.get("/v1/me").status_code == 401


@pytest.mark.parametrize(
    "asked, goes_to",
    [
        ("/reports?x=1#top", "/reports?x=1#top"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t/evil.example", "/"),
        ("reports", "/"),
        ("", "/"),
        ("/login", "/"),
    ],
)
def test_next_stays_on_this_site(app: FastAPI, asked: str, goes_to: str) -> None:
    response = sign_in(TestClient(app), next=asked)
    assert response.status_code == 303 and response.headers["location"] == goes_to


def test_repeated_failures_are_throttled(app: FastAPI) -> None:
    api = TestClient(app)
    for _ in range(10):
        assert sign_in(api, "vera", "guess").status_code == 401
    throttled = sign_in(api, "Vera", "guess")
    assert throttled.status_code == 429 and 0 < int(throttled.headers["retry-after"]) <= 300
    assert sign_in(api, "vera").status_code == 429  # even the right password, for a while
    assert sign_in(api, "otto").status_code == 303  # another account is not held up


def test_sign_out_clears_the_cookie(app: FastAPI) -> None:
    api = TestClient(app)
    sign_in(api, "otto")
    assert api.get("/v1/me").json()["role"] == "operator"
    response = api.post("/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (
        response.headers["set-cookie"].startswith(f'{COOKIE}=""')
        and "Max-Age=0" in (response.headers["set-cookie"])
    )
    assert api.get("/v1/me").status_code == 401


def test_a_session_ends_after_its_ttl(clickhouse: ClickHouse, tmp_path: Path) -> None:
    service = build_service(settings_for(clickhouse, tmp_path, session_ttl_seconds=0), clickhouse)
    app = service.app
    _add_probe(app, service.auth)
    signed = sign_in(TestClient(app))
    assert signed.status_code == 303 and "Max-Age=0" in signed.headers["set-cookie"]
    issued = signed.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    api = TestClient(app, cookies={COOKIE: issued})  # a browser ignoring Max-Age
    response = api.get("/v1/reports/abc", params=PERIOD)
    assert response.status_code == 401
    assert response.json()["errors"] == [{"field": COOKIE, "reason": "session expired"}]
    assert api.get("/probe", follow_redirects=False).status_code == 303


def test_html_routes_send_the_browser_to_sign_in(app: FastAPI) -> None:
    for cookies in ({}, {COOKIE: token(now=time.time() - 3600)}, {COOKIE: tampered(token())}):
        response = TestClient(app, cookies=cookies).get("/probe?tab=a&b=c", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fprobe%3Ftab%3Da%26b%3Dc"
    assert TestClient(app, cookies={COOKIE: token()}).get("/probe").json() == {"user": "vera"}
    # The key opens the API, not the browser pages.
    keyed = TestClient(app).get(
        "/probe", headers={"X-API-Key": OPERATOR_KEY}, follow_redirects=False
    )
    assert keyed.status_code == 303


def test_without_accounts_the_dashboard_is_off_and_the_api_works(
    clickhouse: ClickHouse, tmp_path: Path
) -> None:
    service = build_service(settings_for(clickhouse, tmp_path, dashboard_users={}), clickhouse)
    _add_probe(service.app, service.auth)
    api = TestClient(service.app, cookies={COOKIE: token()})
    html = {"Accept": "text/html,application/xhtml+xml"}
    for response in (
        api.get("/login", headers=html),
        api.get("/probe", headers=html),
        api.post("/login", data={"username": "vera", "password": "vera-pw"}, headers=html),
    ):
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        assert "ANALYTICS_DASHBOARD_USERS" in response.text
    as_json = api.get("/login")
    assert as_json.status_code == 503 and as_json.json()["error"] == "dashboard_disabled"
    assert as_json.json()["errors"][0]["field"] == "ANALYTICS_DASHBOARD_USERS"
    assert api.get("/v1/reports/abc", params=PERIOD).status_code == 401  # no account, no session
    keyed = api.get("/v1/reports/abc", params=PERIOD, headers={"X-API-Key": VIEWER_KEY})
    assert keyed.status_code == 200


def test_start_without_accounts_logs_an_error(
    nats_server: NatsServer, clickhouse: ClickHouse, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="analytics.api.auth")
    with running_analytics(nats_server.url, clickhouse, viewer_api_key=VIEWER_KEY) as api:
        [record] = [r for r in caplog.records if r.name == "analytics.api.auth"]
        assert record.levelno == logging.ERROR and "ANALYTICS_DASHBOARD_USERS" in record.message
        assert api.get("/login").status_code == 503
        for key in (VIEWER_KEY, API_KEY):
            response = api.get("/v1/reports/abc", params=PERIOD, headers={"X-API-Key": key})
            assert response.status_code == 200


def test_dashboard_users_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = USERS["otto"]["password"]
    users = {"otto": {"password": stored, "role": "operator"}}
    monkeypatch.setenv("ANALYTICS_DASHBOARD_USERS", json.dumps(users))
    [(name, user)] = AnalyticsSettings().dashboard_users.items()
    assert (name, user.role, user.password) == ("otto", "operator", stored)
    monkeypatch.setenv("ANALYTICS_DASHBOARD_USERS", "")  # compose's `${DASHBOARD_USERS:-}`
    assert AnalyticsSettings().dashboard_users == {}
    monkeypatch.setenv("ANALYTICS_DASHBOARD_USERS", '{"otto": {"password": "otto-plain"}}')
    with pytest.raises(ValueError, match="analytics.passwords") as refused:
        AnalyticsSettings()
    assert "otto-plain" not in str(refused.value)  # a password in the wrong place is not logged


def test_make_run_signs_in_demo_demo():
    """deploy/local/dev.env as honcho reads it (shlex: quotes and `$` are the traps)."""
    env = parse_env_file((ROOT / "deploy/local/dev.env").read_text())
    users = AnalyticsSettings(dashboard_users=env["ANALYTICS_DASHBOARD_USERS"]).dashboard_users
    assert users["demo"].role == "viewer"
    assert verify_password("demo", users["demo"].password)
    assert env["ANALYTICS_SESSION_SECRET"]
