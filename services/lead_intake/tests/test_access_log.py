"""Intake writes its own access log (uvicorn's is off): the line uvicorn's wrote, one per
request, the fast path's leads included."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys

import pytest
from starlette.types import Message, Receive, Scope, Send
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from crm_contracts.runtime.logs import correlation_id, setup_logging
from lead_intake.api.access_log import AccessLine, AccessLog, path_with_query
from services.lead_intake.tests.helpers import INTEGRATION


def http_scope(path: str, query: bytes = b"", client: tuple[str, int] | None = None) -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": query,
        "http_version": "1.1",
        "client": client,
    }


@pytest.fixture
def service_handler():
    """The log handler `serve` sets up (its logging undone afterwards)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("lead-intake")
    yield root.handlers[0]
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    "scope, status, cid",
    [
        (http_scope("/v1/leads", client=("127.0.0.1", 5)), 202, "63c5f4c9-d0da-53c6"),
        (http_scope('/v1/forms/é "x"/submit', b"a=1&b=%22"), 429, None),
        (http_scope("/readyz", client=("::1", 80)), 503, 'a "quoted" id'),
    ],
)
def test_the_line_is_what_the_json_formatter_made_of_uvicorns_record(
    service_handler, scope, status, cid
):
    handler = service_handler
    access = logging.getLogger("uvicorn.access")
    token = correlation_id.set(cid)
    try:
        # uvicorn's call (httptools_impl), on the handler setup_logging installs
        args = (get_client_addr(scope), "POST", get_path_with_query_string(scope), "1.1", status)
        record = access.makeRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
        )
        assert handler.filter(record)
        expected = handler.format(record) + "\n"
        line = AccessLine("lead-intake")(scope, status, record.created)
    finally:
        correlation_id.reset(token)
    assert line == expected


@pytest.mark.parametrize(
    "path", ["/v1/leads", "/v1/forms/my-form_1.x~/submit", "/a b", "/%41", "/é", "/x?y", ""]
)
@pytest.mark.parametrize("query", [b"", b"a=1&b=%22"])
def test_the_path_is_uvicorns(path, query):
    scope = http_scope(path, query)
    assert path_with_query(scope) == get_path_with_query_string(scope)


async def run(app: AccessLog, scope: Scope) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    await app(scope, receive, send)


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if '"uvicorn.access"' in line]


def test_every_request_has_a_line_with_its_status_and_lead_id(client, capsys, caplog):
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    capsys.readouterr()
    taken = client.post("/v1/leads", json={"phone": "+79123456789"}, headers=INTEGRATION)
    refused = client.post("/v1/leads", json={"phone": "+79123456789"})  # no key: the route's 401
    invalid = client.post("/v1/leads", json={"phone": "1"}, headers=INTEGRATION)
    client.get("/healthz")  # a probe that succeeds: quiet
    assert (taken.status_code, refused.status_code, invalid.status_code) == (202, 401, 422)
    got = lines(capsys.readouterr().err)
    assert [line["message"] for line in got] == [
        f'testclient:50000 - "POST /v1/leads HTTP/1.1" {status}' for status in (202, 401, 422)
    ]
    assert got[0]["correlation_id"] == taken.json()["lead_id"]
    assert {(line["level"], line["service"]) for line in got} == {("INFO", "lead-intake")}


def test_no_line_when_the_access_logger_is_above_info(client, capsys, caplog):
    caplog.set_level(logging.WARNING, logger="uvicorn.access")
    capsys.readouterr()
    client.post("/v1/leads", json={"phone": "+79123456789"}, headers=INTEGRATION)
    assert lines(capsys.readouterr().err) == []


def test_an_app_that_fails_before_answering_is_logged_as_uvicorns_500(capsys, caplog):
    caplog.set_level(logging.INFO, logger="uvicorn.access")

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    capsys.readouterr()
    with pytest.raises(RuntimeError):
        asyncio.run(run(AccessLog(failing, "lead-intake"), http_scope("/v1/leads")))
    [line] = lines(capsys.readouterr().err)
    assert line["message"] == ' - "POST /v1/leads HTTP/1.1" 500'


def answering(status: int) -> AccessLog:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return AccessLog(app, "lead-intake")


def test_probes_are_quiet_unless_they_fail(capsys, caplog):
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    capsys.readouterr()
    asyncio.run(run(answering(200), http_scope("/readyz")))
    asyncio.run(run(answering(503), http_scope("/readyz")))
    [line] = lines(capsys.readouterr().err)
    assert line["message"] == ' - "POST /readyz HTTP/1.1" 503'


def test_a_broken_log_stream_fails_no_request(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    asyncio.run(run(answering(202), http_scope("/v1/leads")))  # raises nothing
