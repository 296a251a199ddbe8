"""Debian's headless Chromium driven by playwright (its own browser download is not used), and
a tiny loopback web server for the pages a test opens."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # the machine's network is closed: no background calls home
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_binary() -> str:
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("chromium not found: apt-get install chromium (see .ci/run)")
    return found


@contextmanager
def chromium() -> Iterator:
    """A browser context with a fresh, empty profile (`--user-data-dir`)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_binary(), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield context
        finally:
            context.close()


class PageServer:
    """Serves fixed pages (HTML, and JavaScript by a `.js` path) on 127.0.0.1 (a free port);
    the query string is ignored."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        server_pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                body = server_pages.get(path)
                self.send_response(200 if body is not None else 404)
                # A module script must come as JavaScript, or the browser will not run it.
                kind = "text/javascript" if path.endswith(".js") else "text/html"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
