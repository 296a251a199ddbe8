"""Read-only sessions on the embedded engine for the analysts' ClickHouse endpoint.

Each request gets a fresh chDB handle (about 2 ms): the session time zone, the analyst's
limits and any allowed output settings of the request are set on it, then `readonly=1`,
last, so nothing that runs on it can write, read files or change a setting. Session state is
per handle, so nothing one request sets (its database, its output settings) reaches another,
and the projection's own handle stays writable. chDB writes the answer in the requested
format itself (Native, RowBinary, JSON, ...), so the bytes pass through unchanged.

A request's handle runs its query beside the projection's writes and the reports' reads, as
a server would; like every read it holds the process's shared lock, which only a rebuild's
swap of the tables takes alone."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import chdb

from analytics.adapters.clickhouse import SESSION, ClickHouse

BLOCK_SIZE = 65_409  # ClickHouse's default max_block_size
CODE = re.compile(r"Code: (\d+)\. DB::Exception: ")
NAME = re.compile(r"\(([A-Z][A-Z0-9_]*)\)\s*$")
VERSION_TRAILER = re.compile(r"\s*\(version [^)]*(?:\([^)]*\))?[^)]*\)")
NAMES = {
    36: "BAD_ARGUMENTS",
    62: "SYNTAX_ERROR",
    81: "UNKNOWN_DATABASE",
    164: "READONLY",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    497: "ACCESS_DENIED",
    516: "AUTHENTICATION_FAILED",
}


class ClickHouseException(Exception):
    """An error as ClickHouse reports it: `Code: N. DB::Exception: message. (NAME)`."""

    def __init__(self, code: int, message: str, name: str | None = None) -> None:
        self.code = code
        self.name = name or NAMES.get(code, "UNKNOWN_EXCEPTION")
        self.message = message.strip()
        super().__init__(self.text())

    def text(self, version: str = "") -> str:
        message = self.message
        if message.endswith(f"({self.name})"):
            message = message[: -len(f"({self.name})")].rstrip()
        message = message if message.endswith(".") else f"{message}."
        trailer = f" (version {version})" if version else ""
        return f"Code: {self.code}. DB::Exception: {message} ({self.name}){trailer}"

    @classmethod
    def of(cls, error: Exception, user: str = "") -> ClickHouseException:
        """From chDB's message, which may nest the same exception two or three times."""
        raw = str(error)
        starts = list(CODE.finditer(raw))
        if not starts:
            return cls(1001, raw or type(error).__name__, "STD_EXCEPTION")
        last = starts[-1]
        body = VERSION_TRAILER.split(raw[last.end() :], maxsplit=1)[0].strip()
        named = NAME.search(body)
        name = named.group(1) if named else None
        if named:
            body = body[: named.start()].rstrip()
        if user and body.startswith("default: "):  # chDB runs everything as `default`
            body = f"{user}: {body.removeprefix('default: ')}"
        return cls(int(last.group(1)), body, name)


@dataclass(frozen=True)
class Outcome:
    """The answer of one query: the bytes in its format and what it read."""

    data: bytes
    read_rows: int
    read_bytes: int
    elapsed_ns: int


def engine_path(ch: ClickHouse) -> str:
    """The data path of the process's chDB engine, spelled as chDB compares it."""
    path = getattr(ch.client, "path", None)
    if not isinstance(path, str):
        raise ValueError(
            "the ClickHouse endpoint for analysts serves the embedded engine (chdb mode); with "
            "a ClickHouse server, analysts connect to the server as its read-only analyst user"
        )
    if path.startswith((":memory:", "file:")):
        return path
    return os.path.realpath(path)


def _quoted(value: Any) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class Session:
    """One read-only chDB handle for one request."""

    def __init__(self, conn: Any, user: str) -> None:
        self._conn = conn
        self.user = user

    def query(
        self, sql: str, fmt: str = "TabSeparated", params: Mapping[str, str] | None = None
    ) -> Any:
        try:
            return self._conn.query(sql, fmt, params=dict(params or {}))
        except Exception as exc:  # chDB raises RuntimeError subclasses with the engine's text
            raise ClickHouseException.of(exc, self.user) from None

    def text(self, sql: str, params: Mapping[str, str] | None = None) -> str:
        return str(self.query(sql, "TabSeparated", params).bytes().decode("utf-8", "replace"))

    def use(self, database: str) -> None:
        self.query(f"USE `{database.replace('`', '``')}`")

    def run(self, sql: str, fmt: str, params: Mapping[str, str]) -> Outcome:
        started = time.perf_counter_ns()
        result = self.query(sql, fmt, params)
        data = result.bytes() or b""
        try:
            rows, size = int(result.rows_read()), int(result.bytes_read())
            elapsed = int(result.elapsed() * 1e9)
        except Exception:  # statistics are informative only
            rows, size, elapsed = 0, 0, time.perf_counter_ns() - started
        return Outcome(data, rows, size, elapsed)


class EmbeddedEngine:
    """Opens read-only sessions on the process's chDB engine.

    `limits` are session settings of every analyst query (`sql_readonly.limits(settings)`:
    max_result_rows, result_overflow_mode, max_execution_time, ...); `readonly` among them is
    ignored and always set to 1, last. With `max_result_rows` and overflow mode `break`,
    ClickHouse stops after the block that crosses the limit, so the block size is capped at
    the limit: an answer has at most about twice `max_result_rows` rows, not a whole 65k
    block more."""

    def __init__(self, ch: ClickHouse, limits: Mapping[str, Any]) -> None:
        self.ch = ch
        self.path = engine_path(ch)
        settings = {**SESSION, **{k: v for k, v in limits.items() if k != "readonly"}}
        rows = int(settings.get("max_result_rows") or 0)
        if rows and "max_block_size" not in settings:
            settings["max_block_size"] = max(1, min(BLOCK_SIZE, rows))
        self.settings = settings
        self.timezone = str(settings.get("session_timezone") or "UTC")
        self._version: str | None = None

    @property
    def database(self) -> str:
        return self.ch.db

    def version(self) -> str:
        if self._version is None:
            with self.session({}, "default") as session:
                self._version = session.text("SELECT version()").strip()
        return self._version

    @contextmanager
    def session(self, output_settings: Mapping[str, str], user: str) -> Iterator[Session]:
        """A fresh read-only handle with the request's allowed output settings. It runs
        beside the service's own connections: the engine takes queries on several handles
        at once, so a long analyst's query holds up neither the projection nor a report
        (only a rebuild's swap of the tables, which waits for the request)."""
        with self.ch.reading():
            conn = chdb.connect(self.path)
            try:
                session = Session(conn, user)
                for name, value in {**self.settings, **output_settings}.items():
                    session.query(f"SET {name} = {_quoted(value)}")
                session.query("SET readonly = 1")
                yield session
            finally:
                conn.close()
