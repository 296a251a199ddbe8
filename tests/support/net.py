from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable

# Ports this process handed out lately. The system may give a port that was just closed again
# at once, so two servers of one test could be handed the same port one after the other.
_HANDED: deque[int] = deque(maxlen=512)
_HANDING = threading.Lock()


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free ports, none handed out lately by this process."""
    with _HANDING:
        held: list[socket.socket] = []  # open until the end: none is given twice meanwhile
        ports: list[int] = []
        try:
            while len(ports) < count:
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
                if port not in _HANDED:
                    ports.append(port)
            _HANDED.extend(ports)
            return ports
        finally:
            for s in held:
                s.close()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    check: Callable[[], object],
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> object:
    """Poll until `check()` is truthy; returns its value. For eventual consistency, not speed."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}; last error: {last_error!r}")
