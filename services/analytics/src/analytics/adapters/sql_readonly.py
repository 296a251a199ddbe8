"""Read-only SQL for analysts (`POST /v1/sql`, docs/operations.md).

Three guards, each real on its own:
1. The analyst connection itself is read-only. Embedded: its own chDB handle (session state is
   per handle) with the limits and then `readonly=1` set on the session, so no query on it
   can write, change a setting, or read files. Per-query `readonly=1` settings are NOT used:
   clickhouse-connect applies query settings on chDB with SET-and-restore, and with
   `readonly=1` the restore is refused, which left the shared handle read-only for the
   projection (measured with chdb 4.4 / clickhouse-connect 1.12). Server: the `analyst` user's
   read-only profile (deploy/clickhouse/users.d/analyst.xml).
2. ClickHouse parses the analyst's text on its own (`formatQuerySingleLine` of a bound
   string: a syntax error is a 400 with positions in that text, not in a wrapper), then
   `EXPLAIN AST` names the statement and only SELECT/WITH, SHOW, DESCRIBE and EXPLAIN pass;
   anything else is refused with 403 before it runs.
3. One statement only, and no `INTO OUTFILE` (which chDB executes even under readonly=1,
   writing a file on this host): checked on the text with literals and comments blanked."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from uuid import UUID

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from analytics.adapters.clickhouse import SESSION, ClickHouse
from analytics.settings import AnalyticsSettings
from crm_contracts.runtime.errors import Invalid, Refused, ServiceError, Unavailable

LEADING = re.compile(r"\s*\(*\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN)\b", re.I)
log = logging.getLogger(__name__)
ALLOWED = ("SelectWithUnionQuery", "SelectIntersectExceptQuery", "Explain", "Describe", "Show")
SYNTAX_ERROR, READONLY, ACCESS_DENIED = 62, 164, 497
# The analyst's text parsed alone, as a bound string: nothing of ours around it.
PARSE = "SELECT formatQuerySingleLine({analyst_sql:String})"
SCOPE = re.compile(r":? In scope SELECT formatQuerySingleLine\(.*\)\. \(SYNTAX_ERROR\)$", re.S)
# It parsed alone, so a syntax error once wrapped comes from a clause the driver adds to.
WRAPPED = "a FORMAT clause cannot be used here: the answer is always JSON"
LIMITS_HIT = {158, 159, 160, 241, 396}  # too many rows, timeout, too slow, memory, rows/bytes
# Literals, quoted identifiers and comments, blanked before looking at the statement's shape.
OPAQUE = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`(?:[^`\\]|\\.|``)*`"
    r"|--[^\n]*|#[^\n]*|/\*.*?\*/|\$([A-Za-z0-9_]*)\$.*?\$\1\$",
    re.S,
)


def limits(settings: AnalyticsSettings) -> dict[str, Any]:
    """Session settings of the analyst connection; `readonly` last, since once it is on no
    other setting may change."""
    return {
        "max_result_rows": settings.sql_max_result_rows,
        "result_overflow_mode": "break",
        "max_execution_time": settings.sql_max_execution_seconds,
        "readonly": 1,
    }


class QueryFailed(Invalid):
    """The analyst's query is at fault (syntax, a limit, the engine's refusal): 400, with
    `error` naming which (`syntax_error`, `limit_exceeded`, `query_failed`)."""

    status = 400
    error = "query_failed"


NO_ANALYST = (
    "SQL needs the read-only analyst account with a ClickHouse server: set "
    "ANALYTICS_CLICKHOUSE_ANALYST_USER (and _PASSWORD) to the analyst user of deploy/clickhouse/"
)


def analyst_client(ch: ClickHouse, settings: AnalyticsSettings) -> Client:
    """A connection for analysts' queries, on the analytics database by default; with a
    server only as the analyst user (its read-only profile), else a 503."""
    if settings.clickhouse_mode == "http" and settings.clickhouse_analyst_user:
        return clickhouse_connect.get_client(  # the analyst profile sets readonly and limits
            host=settings.clickhouse_host,
            port=settings.clickhouse_port,
            username=settings.clickhouse_analyst_user,
            password=settings.clickhouse_analyst_password,
            database=ch.db,
            settings=SESSION,
        )
    if settings.clickhouse_mode == "http":
        # Never the read-write user with readonly=1: one session setting away from writing.
        raise Unavailable(NO_ANALYST, "sql", error="sql_unavailable")
    client = clickhouse_connect.get_client(interface="chdb", path=ch.client.path, database=ch.db)
    for name, value in (SESSION | limits(settings)).items():
        client.set_client_setting(name, value)
    return client


def refuse(reason: str) -> Refused:
    return Refused(reason, "sql", error="read_only")


def single_statement(sql: str) -> str:
    """The statement without a trailing `;`; refuses several statements and INTO OUTFILE."""
    # Anywhere in the raw text, literals included: a false refusal is harmless, a missed
    # file write is not (chDB writes INTO OUTFILE even in readonly mode).
    if re.search(r"OUTFILE", sql, re.I):
        raise refuse("INTO OUTFILE is not allowed")
    code = OPAQUE.sub(" ", sql).rstrip().rstrip(";")
    if ";" in code:
        raise refuse("one statement per request")
    if re.search(r"\bINTO\s+OUTFILE\b", code, re.I):
        raise refuse("INTO OUTFILE is not allowed")
    if not code.strip():
        raise Invalid("empty", "sql")
    return sql.rstrip().rstrip(";")


def allowed_start(sql: str) -> None:
    """Refuses (403) a parsed statement that does not start like a read."""
    if not LEADING.match(OPAQUE.sub(" ", sql)):
        raise refuse("only SELECT, WITH, SHOW, DESCRIBE and EXPLAIN are allowed")


def syntax_error(message: str) -> QueryFailed:
    return QueryFailed(message, "sql", error="syntax_error")


def own_text(message: str) -> str:
    """The engine's message without the parse check's own query (`In scope SELECT
    formatQuerySingleLine('…')`): the positions already refer to the analyst's text."""
    return SCOPE.sub(" (SYNTAX_ERROR)", message)


def failure(exc: ClickHouseError) -> ServiceError:
    message = str(exc).strip()[:2000]
    if exc.code in (READONLY, ACCESS_DENIED):
        return refuse(message)
    error = {SYNTAX_ERROR: "syntax_error"}.get(exc.code or 0, "query_failed")
    if exc.code in LIMITS_HIT:
        error = "limit_exceeded"
    return QueryFailed(message, "sql", error=error)


def exact_json(value: Any) -> Any:
    """A result cell as JSON: decimals as strings with every digit ClickHouse returned (not
    rounded to kopecks as the reports' money is), date-times as ISO 8601, the rest as JSON
    can carry it."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (UUID, IPv4Address, IPv6Address)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if isinstance(value, dict):
        return {str(k): exact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact_json(v) for v in value]
    return value


class LazyAnalyst:
    """One analyst connection per app, opened on first use (the database exists by then)."""

    def __init__(self, ch: ClickHouse, settings: AnalyticsSettings) -> None:
        self.ch, self.settings = ch, settings
        self._analyst: Analyst | None = None
        self._opening = threading.Lock()

    def __call__(self) -> Analyst:
        with self._opening:
            if self._analyst is None:
                client = analyst_client(self.ch, self.settings)
                self._analyst = Analyst(client, self.ch, self.settings.sql_max_result_rows)
        return self._analyst


@dataclass
class Analyst:
    """Its own connection, one query at a time, beside the service's: an analyst's long
    query holds up neither the projection nor a report (only a rebuild's swap of the
    tables, which waits for it)."""

    client: Client
    ch: ClickHouse
    max_rows: int
    # One query at a time on the connection: a server refuses a second in a running session.
    _turn: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def query(self, sql: str, params: dict[str, Any]) -> Any:
        with self.ch.reading(), self._turn:
            return self.client.query(sql, parameters=params or None)

    @staticmethod
    def _engine(call: Any, sql: str, params: dict[str, Any]) -> Any:
        """Run one engine call; its refusals become 4xx with ClickHouse's own message."""
        try:
            return call(sql, params)
        except ClickHouseError as exc:
            raise failure(exc) from None
        except Exception as exc:  # a driver hiccup on an odd statement is still the query's fault
            log.warning("analyst query failed: %r", exc)
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            raise QueryFailed(reason, "sql") from None

    def check_syntax(self, sql: str) -> None:
        """400 for a statement ClickHouse cannot parse, told about the analyst's own text."""
        try:
            self.query(PARSE, {"analyst_sql": sql})
        except ClickHouseError as exc:
            if exc.code == SYNTAX_ERROR:
                raise syntax_error(own_text(str(exc).strip()[:2000])) from None
            raise failure(exc) from None

    def _wrapped(self, call: Any, sql: str, params: dict[str, Any]) -> Any:
        """An engine call on text the driver extends (`EXPLAIN AST …`, `… FORMAT Native`)."""
        try:
            return self._engine(call, sql, params)
        except ServiceError as exc:
            if exc.error == "syntax_error":
                raise syntax_error(WRAPPED) from None
            raise

    def statement_kind(self, sql: str, params: dict[str, Any]) -> str:
        ast = self.query(f"EXPLAIN AST {sql}", params)
        return ast.result_rows[0][0].split()[0] if ast.result_rows else ""

    def run(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        statement = single_statement(sql)
        self.check_syntax(statement)  # a typo is the analyst's 400, not a refused write
        allowed_start(statement)
        kind = self._wrapped(self.statement_kind, statement, params)
        if not kind.startswith(ALLOWED):
            raise refuse(f"only SELECT, WITH, SHOW, DESCRIBE and EXPLAIN are allowed, not {kind}")
        started = time.perf_counter()
        result = self._wrapped(self.query, statement, params)
        elapsed_ns = int((time.perf_counter() - started) * 1e9)
        rows = result.result_rows
        summary = result.summary or {}
        return {
            "columns": [
                {"name": name, "type": column_type.name}
                for name, column_type in zip(result.column_names, result.column_types, strict=True)
            ],
            "rows": [exact_json(list(row)) for row in rows[: self.max_rows]],
            "truncated": len(rows) > self.max_rows,
            "rows_read": int(summary.get("read_rows", 0)),
            "elapsed_ms": round(int(summary.get("elapsed_ns", elapsed_ns)) / 1e6, 3),
        }
