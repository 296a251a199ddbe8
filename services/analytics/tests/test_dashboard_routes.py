"""The dashboard's server side: the page behind sign-in, its static files (every import
resolvable, nothing from another origin), the filter values, and the live stream."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from analytics.adapters.clickhouse import ClickHouse
from analytics.api.auth import COOKIE
from analytics.api.dashboard.assets import STATIC, load_assets
from analytics.application.live import Pulse
from analytics.domain.auth import sessions
from analytics.main import create_app
from services.analytics.tests.history import DealStory, lead, manager
from services.analytics.tests.live import opened, publish, running_analytics
from services.analytics.tests.reports_support import load
from services.analytics.tests.test_auth import SECRET, VIEWER_KEY, settings_for

AT = datetime(2026, 3, 5, 12, tzinfo=UTC)
IMPORT = re.compile(r"""(?:from|import)\s+["'](\.{1,2}/[^"']+)["']""")


@pytest.fixture
def client(clickhouse: ClickHouse, tmp_path: Path) -> TestClient:
    return TestClient(create_app(settings_for(clickhouse, tmp_path), clickhouse))


def signed_in(ttl: int = 600, **kw: Any) -> dict[str, str]:
    return {COOKIE: sessions.issue(SECRET.encode(), "vera", "viewer", ttl, **kw)}


def test_the_page_sends_a_stranger_to_sign_in_and_back(client):
    response = client.get("/?page=abc&lang=en", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F%3Fpage%3Dabc%26lang%3Den"


def test_an_expired_session_is_sent_to_sign_in_again(client):
    client.cookies.update(signed_in(ttl=-1))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_viewer_gets_the_page_with_its_settings_and_a_same_origin_policy(client):
    client.cookies.update(signed_in())
    response = client.get("/")
    assert response.status_code == 200
    config = json.loads(re.search(r'id="config"[^>]*>(.*?)</script>', response.text).group(1))
    assert config == {"tz": "UTC", "currency": "RUB", "user": "vera"}
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert not re.search(r"(src|href)=\"(https?:)?//", response.text)


def test_an_api_key_does_not_open_the_page(client):
    # Keys are for machines; a browser signs in.
    response = client.get("/", headers={"X-API-Key": VIEWER_KEY}, follow_redirects=False)
    assert response.status_code == 303


def test_every_module_the_page_imports_is_served():
    assets = load_assets()
    for name in [n for n in assets if n.endswith(".js") and not n.startswith("vendor/")]:
        folder = name.rsplit("/", 1)[0] if "/" in name else ""
        for target in IMPORT.findall(assets[name].body.decode()):
            parts = [p for p in f"{folder}/{target}".split("/") if p not in ("", ".")]
            resolved: list[str] = []
            for part in parts:
                resolved = resolved[:-1] if part == ".." else [*resolved, part]
            assert "/".join(resolved) in assets, f"{name} imports missing {target}"
    index = assets["index.html"].body.decode()
    for src in re.findall(r'(?:src|href)="/static/([^"]+)"', index):
        assert src in assets, src


def test_no_page_file_reaches_for_another_origin():
    for path in STATIC.rglob("*"):
        if path.is_file():
            assert not re.search(r"https?://", path.read_text()), path


def test_static_files_are_compressed_and_revalidated(client):
    plain = client.get("/static/app.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    zipped = client.get("/static/vendor/echarts.min.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    etag = zipped.headers["etag"]
    again = client.get("/static/vendor/echarts.min.js", headers={"If-None-Match": etag})
    assert again.status_code == 304


@pytest.mark.parametrize("name", ["index.html", "nope.js", "..%2Fsettings.py", "vendor/x.js"])
def test_unknown_static_files_are_404(client, name):
    response = client.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_filter_values_come_from_the_projected_data(client, clickhouse):
    story = DealStory("d1", AT, manager="anna")
    load(
        clickhouse,
        [
            lead("lead-d1", AT, utm_source="yandex", utm_medium="cpc", utm_campaign="spring"),
            lead("lead-x", AT, utm_source="vk", utm_medium="social"),
            manager("boris", "Boris K", AT),
            *story.events,
        ],
    )
    assert client.get("/v1/dimensions").status_code == 401
    body = client.get("/v1/dimensions", headers={"X-API-Key": VIEWER_KEY}).json()
    assert body["channels"] == ["paid", "social"]
    assert body["sources"] == ["vk", "yandex"]
    assert body["campaigns"] == ["spring"]
    # A manager with a card keeps its name; one known only from deals is listed too.
    assert body["managers"] == [{"id": "anna", "name": ""}, {"id": "boris", "name": "Boris K"}]
    assert [p["id"] for p in body["pipelines"]] == ["default"]


def test_the_live_stream_needs_a_viewer(client):
    assert client.get("/v1/live").status_code == 401
    assert client.get("/v1/live", headers={"X-API-Key": "wrong"}).status_code == 401


async def test_a_pulse_wakes_waiters_and_times_out_quietly():
    pulse = Pulse()
    assert await pulse.wait_after(0, 0.01) == 0
    await pulse.beat(3)
    assert await pulse.wait_after(0, 1) == 1
    assert pulse.state()["events"] == 3


def test_the_live_stream_announces_each_projected_batch(nats_server, clickhouse):
    key = {"X-API-Key": "ops-key"}
    with (
        running_analytics(nats_server.url, clickhouse) as client,
        client.stream("GET", "/v1/live", headers=key) as stream,
    ):
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        assert next(lines) == "event: hello"
        publish(nats_server.url, [opened("live-1")])
        for line in lines:
            if line.startswith("event: "):
                assert line == "event: projection"
                data = json.loads(next(lines).removeprefix("data: "))
                assert data["seq"] >= 1 and data["events"] >= 1
                break
