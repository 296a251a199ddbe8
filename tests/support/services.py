"""The services as real processes (`python -m <service>`), as `make run` starts them."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.nats import env_without_service_settings
from tests.support.net import free_port, wait_until

PREFIX = {
    "lead_intake": "LEAD_INTAKE_",
    "deal_pipeline": "DEAL_PIPELINE_",
    "notification": "NOTIFICATION_",
    "analytics": "ANALYTICS_",
}


@dataclass
class ServiceProcess:
    module: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        env = env_without_service_settings() | self.env
        env[f"{PREFIX[self.module]}PORT"] = str(self.port)
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "ab"),  # noqa: SIM115
        )
        return self

    def log_tail(self, lines: int = 40) -> str:
        """The end of the service's log, so a failure on a CI machine says why."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def wait_ready(self, timeout: float = 60) -> None:
        last = "no answer"

        def ready() -> bool:
            nonlocal last
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited:\n{self.log_tail()}")
            # Every check, not just readiness: intake is ready without NATS (its spool takes
            # leads), but a test wants its leads on the bus, not queued.
            response = httpx.get(f"{self.url}/readyz", timeout=2)
            last = f"{response.status_code} {response.text}"
            checks = response.json().get("checks", {}) if response.status_code == 200 else {}
            passed = (v.get("ok") if isinstance(v, dict) else v for v in checks.values())
            return response.status_code == 200 and all(passed)

        try:
            wait_until(ready, timeout=timeout, interval=0.2, what=f"{self.module} /readyz")
        except TimeoutError as exc:  # say which check failed, and what the service logged
            tail = self.log_tail()
            raise TimeoutError(f"{exc}\nlast /readyz: {last}\nits log ends:\n{tail}") from None

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextmanager
def running(procs: list[ServiceProcess]) -> Iterator[list[ServiceProcess]]:
    """Start them all, wait until each is ready, and stop them all however the block ends."""
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()
