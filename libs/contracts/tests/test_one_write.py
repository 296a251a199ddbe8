"""uvicorn's protocol as the services run it (`one_write.OneWriteHttpTools`), on a real
server and socket: an answer of known length reaches the connection in one write, header
block and body; what must not wait does not (a streamed answer's headers before its first
chunk, `100 Continue` before the body is sent, an answer with an empty body, a HEAD); a long
body is written after the header block rather than copied into it; answers on a kept-alive
connection stay whole; and no request is left to the garbage collector."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from crm_contracts.runtime.one_write import JOIN_MAX, OneWriteHttpTools
from tests.support.net import free_port

writes: list[bytes] = []  # what reached the connection's transport, write by write
cycles: list[weakref.ref[Any]] = []
release_stream = threading.Event()
BIG = b"x" * (JOIN_MAX + 1)


class Recording:
    """The connection's transport, its writes recorded."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class Recorded(OneWriteHttpTools):
    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        super().connection_made(Recording(transport))

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycles.append(weakref.ref(self.cycle))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/big":  # a long list's answer
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(BIG)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": BIG})
        return
    if path == "/stream":  # no length: chunked, as a live feed
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.get_running_loop().run_in_executor(None, release_stream.wait, 10)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = b"" if path == "/empty" else b'{"echo":"' + body + b'"}'
    status = 204 if path == "/empty" else 202
    headers = [(b"content-type", b"application/json")]
    if status != 204:
        headers.append((b"content-length", str(len(answer)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=Recorded, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    release_stream.set()
    running.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_until(sock: socket.socket, end: bytes) -> bytes:
    got = b""
    while not got.endswith(end):
        chunk = sock.recv(65536)
        assert chunk, f"closed after {got!r}"
        got += chunk
    return got


def post(body: bytes, path: str = "/lead") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


def test_an_answer_of_known_length_is_one_write(server):
    writes.clear()
    with connect(server) as sock:
        sock.sendall(post(b"one"))
        answer = read_until(sock, b'{"echo":"one"}')
    assert answer.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert b"content-length: 14\r\n" in answer
    assert writes == [answer]


def test_kept_alive_answers_stay_whole_and_no_request_is_left_to_the_collector(server):
    writes.clear()
    cycles.clear()
    gc.disable()
    try:
        with connect(server) as sock:
            answers = []
            for n in range(3):
                sock.sendall(post(f"n{n}".encode()))
                answers.append(read_until(sock, f'{{"echo":"n{n}"}}'.encode()))
            # Reference counting alone freed the first two requests (the third is the
            # connection's current one).
            time.sleep(0.1)
            assert [ref() is None for ref in cycles[:2]] == [True, True]
    finally:
        gc.enable()
    assert writes == answers


def test_a_streamed_answers_headers_do_not_wait_for_its_first_chunk(server):
    release_stream.clear()
    with connect(server) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        head = read_until(sock, b"\r\n\r\n")  # before the app has sent any of the body
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"transfer-encoding: chunked" in head
        release_stream.set()
        assert read_until(sock, b"0\r\n\r\n").startswith(b"5\r\nfirst\r\n")


def test_continue_empty_answers_and_head_go_out_at_once(server):
    with connect(server) as sock:
        sock.sendall(
            b"POST /lead HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\nexpect: 100-continue\r\n\r\n"
        )
        assert read_until(sock, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert read_until(sock, b'{"echo":"abc"}').startswith(b"HTTP/1.1 202")
        sock.sendall(post(b"", "/empty"))
        assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 204 No Content\r\n")
        sock.sendall(b"HEAD /lead HTTP/1.1\r\nhost: x\r\n\r\n")
        head = read_until(sock, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 202") and b"content-length: 11\r\n" in head


def test_a_long_body_is_not_copied_into_the_header_blocks_write(server):
    writes.clear()
    with connect(server) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n")
        answer = read_until(sock, BIG)
    head = answer[: -len(BIG)]
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    assert writes == [head, BIG]
