"""Structured JSON logs carrying the correlation id of the story being handled."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class _CorrelationFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation_id.get()
        return True


QUIET_PATHS = frozenset({"/readyz", "/healthz", "/metrics"})


class _QuietProbes(logging.Filter):
    """Health probes and scrapes arrive every few seconds from every load balancer and
    Prometheus: their access lines would bury everything else. Failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 5:  # uvicorn: client, method, path, http version, status
            path, status = str(args[2]).split("?")[0], args[4]
            return not (path in QUIET_PATHS and isinstance(status, int) and status < 400)
        return True


def setup_logging(service: str, level: str = "INFO") -> None:
    # Our lines carry no thread, process or source location: skip looking them up for every
    # record (the logging docs' "Optimization" section; an access line a request adds up).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the documented switch that skips findCaller
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_CorrelationFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; some URLs carry secrets (Telegram's bot token).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.filters[:] = [f for f in access.filters if not isinstance(f, _QuietProbes)]
    access.addFilter(_QuietProbes())
