"""What may run on the analysts' ClickHouse endpoint, decided before anything runs.

The session is already read-only (`readonly=1`, set last on a fresh handle), which is the
real guard: no write, no DDL, no setting change, no file/URL table function. On top, with
the statement classification of `/v1/sql` (`analytics.adapters.sql_readonly`), each request
holds exactly one SELECT / WITH / SHOW / DESCRIBE / EXPLAIN statement, without
`INTO OUTFILE` (which chDB would write even in readonly mode) and without a table function
that reaches outside the database; anything else is ClickHouse's `READONLY` (Code: 164).

Settings sent as URL parameters:
- transport parameters of the HTTP interface (`query_id`, `session_id`, `compress`,
  `wait_end_of_query`, `send_progress_in_http_headers`, ...) are taken or ignored as a
  ClickHouse server does;
- `readonly` may only be `1` (what it is); any other value is refused with Code 164;
- output-format settings (`output_format_*` but `output_format_schema`, a file path;
  `format_csv_*`, `format_tsv_*`, `format_custom_*`, `date_time_output_format`, ...) apply
  to that request;
- every other setting (limits, `max_threads`, ...) is ignored: the session's limits always
  hold. A `SETTINGS` clause inside the query is the engine's business: in readonly mode a
  value other than the current one is refused with Code 164, as on a ClickHouse server."""

from __future__ import annotations

import re
from collections.abc import Mapping

from analytics.adapters.clickhouse_protocol.engine import ClickHouseException, Session
from analytics.adapters.sql_readonly import (
    ALLOWED,
    OPAQUE,
    PARSE,
    SYNTAX_ERROR,
    allowed_start,
    single_statement,
)
from crm_contracts.runtime.errors import ServiceError

READONLY = 164
PARSE_SCOPE = re.compile(r":? In scope SELECT formatQuerySingleLine\(.*\)\.?$", re.S)
# Parameters of the HTTP interface itself, not settings of the query.
TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "quota_key",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "close_session",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "http_wait_end_of_query",
        "client_protocol_version",
        "role",
        "stacktrace",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "enable_http_compression",
        "http_zlib_compression_level",
        "http_response_buffer_size",
        "cancel_http_readonly_queries_on_client_close",
        "add_http_cors_header",
        "http_native_compression_disable_checksumming_on_decompress",
    }
)
OUTPUT = re.compile(
    r"output_format_[a-z0-9_]+|format_(csv|tsv|custom)_[a-z0-9_]+|date_time_output_format"
    r"|interval_output_format|bool_true_representation|bool_false_representation"
)
NOT_OUTPUT = frozenset({"output_format_schema"})  # a path the engine writes a schema file to
SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
FORMAT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# The FORMAT clause at the end of a statement (before or after its SETTINGS clause).
TRAILING_FORMAT = re.compile(
    r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*(?:SETTINGS\b[^;]*)?;?\s*$", re.I | re.S
)
# Table functions (and the scalar `file`) that reach files, URLs, other servers or programs.
OUTSIDE = re.compile(
    r"\b(file|url|urlCluster|fileCluster|s3|s3Cluster|gcs|oss|cosn|hdfs|hdfsCluster"
    r"|azureBlobStorage|azureBlobStorageCluster|remote|remoteSecure|cluster"
    r"|clusterAllReplicas|mysql|postgresql|mongodb|redis|sqlite|jdbc|odbc|executable"
    r"|input|iceberg\w*|deltaLake\w*|hudi\w*|paimon\w*|arrowFlight|ytsaurus|prometheusQuery"
    r"\w*|timeSeries\w*|fuzzJSON|fuzzQuery)\s*\(",
    re.I,
)


def escaped(value: str) -> str:
    """A String query parameter's value as the engine reads it (escaped TSV)."""
    return value.translate({92: "\\\\", 9: "\\t", 10: "\\n", 13: "\\r"})


def readonly_error(user: str, why: str = "") -> ClickHouseException:
    detail = f": {why}" if why else ""
    return ClickHouseException(READONLY, f"{user}: Cannot execute query in readonly mode{detail}")


def blanked(sql: str) -> str:
    """The text with literals, quoted names and comments blanked, same length."""
    return OPAQUE.sub(lambda m: " " * len(m.group(0)), sql)


def output_format(sql: str, default: str) -> str:
    """The statement's own FORMAT, else the request's default format."""
    found = TRAILING_FORMAT.search(blanked(sql))
    return found.group(1) if found else default


def split_settings(params: Mapping[str, str], user: str) -> dict[str, str]:
    """The output settings a request may apply; refuses `readonly` other than 1."""
    applied: dict[str, str] = {}
    for name, value in params.items():
        if name in TRANSPORT or name.startswith("param_"):
            continue
        if name == "readonly":
            if value.strip() not in ("1", "'1'"):
                raise ClickHouseException(
                    READONLY, f"{user}: Cannot modify 'readonly' setting in readonly mode"
                )
            continue
        if SETTING_NAME.fullmatch(name) and OUTPUT.fullmatch(name) and name not in NOT_OUTPUT:
            applied[name] = value
    return applied


def check_read_only(session: Session, sql: str, params: Mapping[str, str]) -> str:
    """The one read statement of the request (without a trailing `;`), or Code 164 / 62."""
    user = session.user
    try:
        statement = single_statement(sql)
    except ServiceError as exc:
        if exc.http_status == 403:
            raise readonly_error(user, exc.reason) from None
        raise ClickHouseException(SYNTAX_ERROR, "Empty query") from None
    outside = OUTSIDE.search(blanked(statement))
    if outside:
        raise readonly_error(user, f"{outside.group(1)}() reaches outside the database")
    try:
        session.query(PARSE, "TabSeparated", {"analyst_sql": escaped(statement)})
    except ClickHouseException as exc:
        if exc.code == SYNTAX_ERROR:
            # Positions refer to the analyst's own text; drop the wrapper's scope.
            message = PARSE_SCOPE.sub("", exc.message)
            raise ClickHouseException(SYNTAX_ERROR, message, exc.name) from None
        raise
    try:
        allowed_start(statement)
    except ServiceError:
        raise readonly_error(user, "only SELECT, WITH, SHOW, DESCRIBE and EXPLAIN") from None
    ast = session.text(f"EXPLAIN AST {statement}", params)
    kind = ast.split()[0] if ast.strip() else ""
    if not kind.startswith(ALLOWED):
        raise readonly_error(user, f"only SELECT, WITH, SHOW, DESCRIBE and EXPLAIN, not {kind}")
    return statement


def valid_format(name: str) -> bool:
    return bool(FORMAT_NAME.fullmatch(name))
