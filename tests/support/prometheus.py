"""Debian's Prometheus as a real process on loopback: a scrape config for the given targets,
the project's alert rules (their `for:` shortened so a test need not wait minutes), 1 s scrapes
and evaluations."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.support.net import free_port, wait_until

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def binary(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: apt-get install prometheus (make system-packages)")
    return found


@dataclass
class Prometheus:
    targets: list[str]
    data: Path
    pending_for: str = "0s"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        rules = yaml.safe_load(RULES.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule["for"] = self.pending_for
        self.data.mkdir(parents=True, exist_ok=True)
        (self.data / "alerts.yml").write_text(yaml.safe_dump(rules))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                       "scrape_timeout": "900ms"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [{"job_name": "crm", "static_configs": [{"targets": self.targets}]}],
        }  # fmt: skip
        (self.data / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={self.data / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.data / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.data / "prometheus.log", "ab"),  # noqa: SIM115
        )
        wait_until(self.ready, timeout=30, interval=0.2, what="prometheus ready")
        return self

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited; see {self.data / 'prometheus.log'}")
        return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def api(self, path: str, **params: str) -> object:
        body = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5).json()
        assert body["status"] == "success", body
        return body["data"]

    def alerts(self, state: str = "firing") -> list[dict[str, object]]:
        data = self.api("alerts")
        assert isinstance(data, dict)
        return [a for a in data["alerts"] if a["state"] == state]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads: identifiers that are not functions, keywords,
    label names or durations."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", without_strings)
    without_groupings = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                               "", without_labels)  # fmt: skip
    names = set(re.findall(r"(?<![\w.])[a-zA-Z_:][\w:]*\b(?!\s*\()", without_groupings))
    return names - {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def exported_names(metrics_text: str) -> set[str]:
    """Every sample name a `/metrics` page can carry, from its `# TYPE` lines (a labelled
    metric nobody has touched yet has a TYPE line but no samples)."""
    suffixes = {
        "counter": ["_total", "_created"],
        "histogram": ["_bucket", "_sum", "_count"],
        "summary": ["_sum", "_count"],
        "info": ["_info"],
    }
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", metrics_text, re.MULTILINE):
        names.add(name)
        names.update(name + suffix for suffix in suffixes.get(kind, [""]))
    return names
