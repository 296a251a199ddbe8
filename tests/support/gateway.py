"""A small real HTTP server on loopback standing in for outside HTTP APIs (Telegram Bot API,
an SMS gateway, a webhook receiver, the analytics reports API): it records every request,
answers JSON per path, and fails on demand."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.net import free_port


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int  # what we answered
    at: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Gateway:
    port: int = field(default_factory=free_port)
    requests: list[Request] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)  # path → JSON body (default ok)
    failures: list[int] = field(default_factory=list)  # statuses for the next requests
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, times: int, status: int = 500) -> None:
        self.failures.extend([status] * times)

    def answer(self, path: str, body: Any) -> None:
        self.answers[path] = body

    def to(self, path: str, status: int | None = 200) -> list[Request]:
        """Requests to `path` (with that answer status, or any when None)."""
        return [r for r in self.requests if r.path == path and status in (None, r.status)]

    def start(self) -> Gateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = gateway.failures.pop(0) if gateway.failures else 200
                answer = (
                    {"ok": False}
                    if status >= 400
                    else gateway.answers.get(parts.path, {"ok": True})
                )
                gateway.requests.append(
                    Request(
                        self.command,
                        parts.path,
                        {k: v[0] for k, v in parse_qs(parts.query).items()},
                        dict(self.headers),
                        body,
                        status,
                    )
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
