"""ClickHouse's own HTTP interface for analysts' tools, on its own port (8123 by default).

Stock clients (clickhouse-connect, clickhouse-go and so Grafana's ClickHouse data source,
curl) talk to it as to a ClickHouse server with a read-only `analyst` user:

- the query in the `query` parameter, the body, or both (the parameter, a line feed, then
  the body), or a multipart form (`query` and `param_*` fields); `{name:Type}` placeholders
  from `param_name` parameters;
- `database` (default: the analytics database), `default_format` or `X-ClickHouse-Format`
  (default TabSeparated), a `FORMAT` clause winning over both; the engine writes every
  ClickHouse output format itself (Native, RowBinaryWithNamesAndTypes, JSON, JSONEachRow,
  TSVWithNamesAndTypes, CSV, Parquet, ...);
- basic auth, `X-ClickHouse-User`/`X-ClickHouse-Key` or `user`/`password` parameters against
  scrypt hashes (`analytics.domain.auth.passwords`); a wrong or missing password is Code 516
  AUTHENTICATION_FAILED (HTTP 401);
- errors as ClickHouse writes them (`Code: N. DB::Exception: ... (NAME) (version ...)`,
  header `X-ClickHouse-Exception-Code`); writes, DDL, SYSTEM, SET, file()/url() and a
  `readonly` other than 1 are Code 164 READONLY (HTTP 403);
- headers `X-ClickHouse-Format`, `-Timezone`, `-Query-Id`, `-Summary`,
  `-Server-Display-Name`; gzip answers when asked (`enable_http_compression=1` and
  `Accept-Encoding: gzip`);
- `GET /` and `/ping` answer `Ok.` for health checks.

See `analytics.adapters.clickhouse_protocol.guard` for what runs and which settings apply."""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import hashlib
import hmac
import json
import logging
import secrets
import uuid
import zlib
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.clickhouse_protocol.engine import (
    ClickHouseException,
    EmbeddedEngine,
    Outcome,
)
from analytics.adapters.clickhouse_protocol.guard import (
    check_read_only,
    output_format,
    split_settings,
    valid_format,
)
from analytics.domain.auth.passwords import verify_password

log = logging.getLogger(__name__)

DEFAULT_PORT = 8123
MAX_QUERY_BYTES = 1_000_000  # a query and its parameters, not data
DISPLAY_NAME = "crm-analytics"
AUTH_FAILED = 516
CACHE_SIZE = 256  # verified credentials kept (as keyed digests), so scrypt runs once per client
STATUS = {  # ClickHouse's code → HTTP status (anything else: the query's fault, 400)
    164: 403,
    497: 403,
    516: 401,
    60: 404,
    81: 404,
    159: 408,
    202: 503,
    1001: 500,
}
CONTENT_TYPES = (  # by format name prefix, as ClickHouse labels its answers
    ("TabSeparated", "text/tab-separated-values; charset=UTF-8"),
    ("TSV", "text/tab-separated-values; charset=UTF-8"),
    ("CSV", "text/csv; charset=UTF-8"),
    ("JSONEachRow", "application/x-ndjson; charset=UTF-8"),
    ("JSONLines", "application/x-ndjson; charset=UTF-8"),
    ("NDJSON", "application/x-ndjson; charset=UTF-8"),
    ("JSON", "application/json; charset=UTF-8"),
    ("XML", "application/xml; charset=UTF-8"),
    ("Pretty", "text/plain; charset=UTF-8"),
    ("Vertical", "text/plain; charset=UTF-8"),
    ("Markdown", "text/markdown; charset=UTF-8"),
    ("Values", "text/plain; charset=UTF-8"),
)


class Accounts:
    """Who may connect: user → scrypt hash. A verified password is remembered as an HMAC
    under a key of this process (never the password itself), so the ~50 ms scrypt runs once
    per client, not per query."""

    def __init__(self, hashes: Mapping[str, str]) -> None:
        self._hashes = dict(hashes)
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, None] = {}

    def _digest(self, user: str, password: str) -> bytes:
        return hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()

    def check(self, user: str, password: str) -> bool:
        stored = self._hashes.get(user)
        if stored is None:
            return False
        digest = self._digest(user, password)
        if digest in self._verified:
            return True
        if not verify_password(password, stored):
            return False
        if len(self._verified) >= CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[digest] = None
        return True


def credentials(request: Request) -> tuple[str, str]:
    """(user, password) from basic auth, ClickHouse's headers or the URL; `default` with an
    empty password when none are given, as ClickHouse does."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return user, password
    if "x-clickhouse-user" in request.headers:
        return request.headers["x-clickhouse-user"], request.headers.get("x-clickhouse-key", "")
    params = request.query_params
    return params.get("user", "default"), params.get("password", "")


def content_type(fmt: str) -> str:
    for prefix, kind in CONTENT_TYPES:
        if fmt.startswith(prefix):
            return kind
    return "application/octet-stream"


class ClickHouseHttp:
    """The endpoint's request handling over an engine of read-only sessions."""

    def __init__(
        self,
        engine: EmbeddedEngine,
        accounts: Accounts,
        display_name: str = DISPLAY_NAME,
        max_query_bytes: int = MAX_QUERY_BYTES,
    ) -> None:
        self.engine = engine
        self.accounts = accounts
        self.display_name = display_name
        self.max_query_bytes = max_query_bytes

    def _headers(self, query_id: str) -> dict[str, str]:
        return {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": self.display_name,
            "X-ClickHouse-Timezone": self.engine.timezone,
        }

    def error(self, exc: ClickHouseException, query_id: str) -> Response:
        try:
            version = self.engine.version()
        except ClickHouseException:
            version = ""
        headers = self._headers(query_id) | {"X-ClickHouse-Exception-Code": str(exc.code)}
        if exc.code == AUTH_FAILED:
            headers["WWW-Authenticate"] = 'Basic realm="ClickHouse server HTTP API"'
        return PlainTextResponse(
            exc.text(version) + "\n", status_code=STATUS.get(exc.code, 400), headers=headers
        )

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    async def root(self, request: Request) -> Response:
        query_id = request.query_params.get("query_id") or str(uuid.uuid4())
        try:
            return await self._answer(request, query_id)
        except ClickHouseException as exc:
            return self.error(exc, query_id)
        except Exception as exc:  # our fault, still answered in ClickHouse's shape
            log.exception("ClickHouse endpoint failed on query %s", query_id)
            failure = ClickHouseException(1001, f"{type(exc).__name__}: {exc}", "STD_EXCEPTION")
            return self.error(failure, query_id)

    async def _query(self, request: Request) -> tuple[str, dict[str, str]]:
        """The query text and the parameters (URL, then form fields)."""
        params = dict(request.query_params)
        text = params.get("query", "")
        if request.method != "POST":
            return text, params
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            form = await request.form(max_part_size=self.max_query_bytes)
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    raise ClickHouseException(
                        48, "External tables are not supported here", "NOT_IMPLEMENTED"
                    )
                params[name] = value
            return params.get("query", ""), params
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_query_bytes:
                raise ClickHouseException(62, f"Max query size exceeded ({self.max_query_bytes})")
        raw = decoded(bytes(body), request.headers.get("content-encoding", ""))
        if raw:
            body_text = raw.decode("utf-8", "replace")
            text = f"{text}\n{body_text}" if text else body_text
        return text, params

    async def _answer(self, request: Request, query_id: str) -> Response:
        if request.method == "GET" and "query" not in request.query_params:
            return PlainTextResponse("Ok.\n")  # ClickHouse's health check, without a user
        user, password = credentials(request)
        if not await asyncio.to_thread(self.accounts.check, user, password):
            raise ClickHouseException(
                AUTH_FAILED,
                f"{user or 'default'}: Authentication failed: password is incorrect, "
                "or there is no user with such name",
            )
        sql, params = await self._query(request)
        if not sql.strip():
            raise ClickHouseException(62, "Empty query")
        if len(sql.encode()) > self.max_query_bytes:
            raise ClickHouseException(62, f"Max query size exceeded ({self.max_query_bytes})")
        default = (
            params.get("default_format")
            or request.headers.get("x-clickhouse-format")
            or "TabSeparated"
        )
        fmt = output_format(sql, default)
        if not valid_format(fmt):
            raise ClickHouseException(73, f"Unknown format {fmt}", "UNKNOWN_FORMAT")
        database = (
            params.get("database")
            or request.headers.get("x-clickhouse-database")
            or self.engine.database
        )
        bound = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        output = split_settings(params, user)

        def run() -> Outcome:
            with self.engine.session(output, user) as session:
                session.use(database)
                statement = check_read_only(session, sql, bound)
                return session.run(statement, fmt, bound)

        outcome = await asyncio.to_thread(run)
        headers = self._headers(query_id) | {
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Summary": json.dumps(summary(outcome), separators=(",", ":")),
            "Content-Type": content_type(fmt),
        }
        data = outcome.data
        wants_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
        if params.get("enable_http_compression") == "1" and wants_gzip:
            data = gzip.compress(data, compresslevel=3)
            headers["Content-Encoding"] = "gzip"
        return Response(data, headers=headers)


def decoded(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError) as exc:
        raise ClickHouseException(
            354, f"Cannot decompress the request body: {exc}", "CANNOT_DECOMPRESS"
        ) from None
    if encoding in ("", "identity"):
        return body
    raise ClickHouseException(
        48, f"Content-Encoding {encoding} is not supported here", "NOT_IMPLEMENTED"
    )


def summary(outcome: Outcome) -> dict[str, str]:
    return {
        "read_rows": str(outcome.read_rows),
        "read_bytes": str(outcome.read_bytes),
        "written_rows": "0",
        "written_bytes": "0",
        "total_rows_to_read": str(outcome.read_rows),
        "result_rows": "0",
        "result_bytes": str(len(outcome.data)),
        "elapsed_ns": str(outcome.elapsed_ns),
    }


def build_clickhouse_http_app(
    ch: ClickHouse,
    accounts: Mapping[str, str],
    limits: Mapping[str, Any],
    *,
    display_name: str = DISPLAY_NAME,
    max_query_bytes: int = MAX_QUERY_BYTES,
) -> Starlette:
    """The ASGI app of ClickHouse's HTTP interface for analysts over the embedded engine.

    `accounts`: user → scrypt hash (`python -m analytics.passwords`); `limits`: the session
    settings of analyst queries, `analytics.adapters.sql_readonly.limits(settings)`. Raises
    ValueError when `ch` is not the embedded engine (with a server, analysts use the server's
    own HTTP interface as its read-only analyst user)."""
    handler = ClickHouseHttp(
        EmbeddedEngine(ch, limits), Accounts(accounts), display_name, max_query_bytes
    )

    async def not_found(request: Request, exc: Exception) -> Response:
        text = f"There is no handle {request.url.path}\n\nUse / or /ping for health checks.\n"
        return PlainTextResponse(text, status_code=404)

    routes = [
        Route("/", handler.root, methods=["GET", "POST"]),
        Route("/ping", handler.health, methods=["GET", "HEAD"]),
        Route("/replicas_status", handler.health, methods=["GET", "HEAD"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found})
    return app


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the service's main server, which stops it."""

    def capture_signals(self) -> AbstractContextManager[None]:  # type: ignore[override]  # a no-op
        return nullcontext()


class ClickHouseHttpServer:
    """The endpoint on its own port beside the service's main server, in the same event
    loop: `await start()` in the service's lifespan (returns once it listens), `await stop()`
    on shutdown. It leaves signals to the main server. A port already taken stops the
    process at start, as it would the main server."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        # No log config or level of its own: uvicorn would reconfigure the process's loggers,
        # which the main server shares.
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            log_config=None,
            log_level=None,
            timeout_graceful_shutdown=5,
        )
        self.server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # the port is taken, say: raise it
                raise RuntimeError("the ClickHouse endpoint stopped while starting")
            await asyncio.sleep(0.02)
        log.info(
            "ClickHouse HTTP interface for analysts on http://%s:%s",
            self.server.config.host,
            self.server.config.port,
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        with suppress(asyncio.CancelledError):
            await self._task
        self._task = None
