"""Intake's access log: a line per request, the very line uvicorn's access log wrote (logger
`uvicorn.access`, its message, the JSON fields of every other line), written by this layer
around the app instead (the runner starts uvicorn with `access_log=False`). uvicorn's line
went through a LogRecord, the filters and the JSON formatter: a tenth of a lead's CPU.

The line is written where the service's log handler writes (stderr), when `uvicorn.access`
logs at INFO; health probes and scrapes that succeed are left out, as `_QuietProbes` did."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextlib import suppress
from json.encoder import encode_basestring_ascii as json_text  # json.dumps of a str
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.utils import get_client_addr

from crm_contracts.runtime.logs import QUIET_PATHS, correlation_id

ACCESS_LOGGER = "uvicorn.access"
UNQUOTED = re.compile(r"[A-Za-z0-9_.~/-]*")  # what `quote` leaves as it is (nearly every path)


class AccessLog:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.line = AccessLine(service)
        self.logger = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def logged(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self.write(scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, logged)
        except BaseException:
            if not started:  # uvicorn answers a 500 itself
                self.write(scope, 500)
            raise

    def write(self, scope: Scope, status: int) -> None:
        if (status < 400 and scope["path"] in QUIET_PATHS) or not self.logger.isEnabledFor(
            logging.INFO
        ):
            return
        # A log stream gone (closed, a broken pipe) fails no request, as in `logging`.
        with suppress(OSError, ValueError):
            sys.stderr.write(self.line(scope, status, time.time()))


class AccessLine:
    """What `JsonFormatter` made of uvicorn's access record, built directly (a test holds the
    two equal). The timestamp's date and time are formatted once a second."""

    def __init__(self, service: str) -> None:
        self.head = '", "level": "INFO", "logger": "' + ACCESS_LOGGER + '", "message": '
        self.tail = ', "service": ' + json.dumps(service) + ', "correlation_id": '
        self.second = -1
        self.second_text = ""

    def __call__(self, scope: Scope, status: int, now: float) -> str:
        message = '%s - "%s %s HTTP/%s" %d' % (  # noqa: UP031 - uvicorn's format, as it was
            get_client_addr(scope),
            scope["method"],
            path_with_query(scope),
            scope["http_version"],
            status,
        )
        cid = correlation_id.get()
        return (
            f'{{"ts": "{self.stamp(now)}{self.head}{json_text(message)}'
            f"{self.tail}{'null' if cid is None else json_text(cid)}}}\n"
        )

    def stamp(self, now: float) -> str:
        """`logging.Formatter.formatTime`'s default: local time, then milliseconds."""
        second = int(now)
        if second != self.second:
            self.second_text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self.second = second
        return "%s,%03d" % (self.second_text, int((now - second) * 1000))  # noqa: UP031


def path_with_query(scope: Scope) -> str:
    """uvicorn's `get_path_with_query_string`, without quoting a path that needs none."""
    path: str = scope["path"]
    if not UNQUOTED.fullmatch(path):
        path = quote(path)
    query: bytes = scope["query_string"]
    return f"{path}?{query.decode('ascii')}" if query else path
