"""Intake `POST /v1/leads` under wrk (32 connections) against a bare uvicorn app that parses the
JSON and publishes it to JetStream awaiting the ack, on one nats-server, in the same run.

Every request is a distinct lead (its own phone, e-mail and Idempotency-Key), so neither the
submission-key check nor the stream's dedup short-circuits it; every answer must be a 2xx and
every 202 must be a message on the stream, or the bench fails.

Then what sharing the rate limits between replicas costs: the public form route
(`POST /v1/forms/{id}/submit`) on two intake processes side by side, one with `rate_limits=local`
(its own token buckets in memory), one with `shared` (buckets in NATS KV, taken by
compare-and-set), limits set so high that nothing is refused. Every request comes from one
address to one form, so every take of the shared limiter hits the same two KV keys: the worst
case for it (takes of one key queue behind each other)."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import nats

from bench.record import Measurement, cpu_seconds, emit, note, scale
from crm_contracts import subjects
from crm_contracts.streams import CRM, ensure_streams
from tests.support.nats import NatsServer, env_without_service_settings
from tests.support.net import free_port, wait_until

CONNECTIONS, THREADS = 32, 2
API_KEY = "bench-integration-key"
GOAL_RATIO = 0.5

# One Lua state per wrk thread: the thread number and a counter make every lead distinct.
# `done` prints the figures as one JSON line (latencies in microseconds).
WRK_THREADS = """
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
"""
WRK_DONE = """
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""
WRK_SCRIPT = (
    WRK_THREADS
    + """
function init(args)
  n = 0
  run = args[1] or "0"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = args[2]
end
function request()
  n = n + 1
  local id = string.format("%d%06d", tid, n)
  wrk.headers["Idempotency-Key"] = "bench-" .. run .. "-" .. id
  local body = string.format(
    '{"name":"Bench Lead %s","phone":"+7916%s","email":"lead%s@bench.example",' ..
    '"source":"api","message":"call me","utm_source":"google","utm_medium":"cpc",' ..
    '"landing_url":"https://shop.example/?utm_campaign=spring&gclid=g%s","consent":true}',
    id, id, id, id)
  return wrk.format(nil, "/v1/leads", nil, body)
end
"""
    + WRK_DONE
)

# The form as a page's script posts it: a JSON answer, a submission id, rendered 10 s before.
ORIGIN = "https://shop.example"
FORM = {
    "title": "Bench",
    "fields": [{"name": "name", "type": "string"}, {"name": "phone", "type": "phone"}],
    "allowed_origins": [ORIGIN],
    "public_key": "bench-form-key",
}
FORM_SCRIPT = (
    WRK_THREADS
    + f"""
function init(args)
  n = 0
  run = args[1] or "0"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["Origin"] = "{ORIGIN}"
end
function request()
  n = n + 1
  local id = string.format("%d%06d", tid, n)
  local body = string.format(
    "name=Bench+Lead+%s&phone=%%2B7916%s&_form_key={FORM["public_key"]}" ..
    "&_rendered_at=%d&_submission_id=%s-%s",
    id, id, (os.time() - 10) * 1000, run, id)
  return wrk.format(nil, "/v1/forms/bench/submit", nil, body)
end
"""
    + WRK_DONE
)
# Limits nothing reaches in a run: what is measured is the cost of taking, not refusing.
NO_LIMIT = {
    "LEAD_INTAKE_RATE_BURST_PER_IP": str(10**9),
    "LEAD_INTAKE_RATE_PER_IP_PER_MINUTE": str(10**9),
    "LEAD_INTAKE_RATE_BURST_PER_FORM": str(10**9),
    "LEAD_INTAKE_RATE_PER_FORM_PER_MINUTE": str(10**9),
}


class BenchFailed(RuntimeError):
    """The bench measured something other than accepted leads."""


def wrk(url: str, script: Path, seconds: int, run: str) -> dict[str, Any]:
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        run,
        API_KEY,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    errors = {k: result[k] for k in ("connect", "read", "write", "status", "timeout") if result[k]}
    if errors:
        raise BenchFailed(f"wrk against {url} saw errors or non-2xx answers: {errors}")
    return result


async def stream_count(url: str) -> int:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(CRM, subjects_filter=subjects.LEADS_RECEIVED)
        return int(info.state.messages)
    finally:
        await nc.close()


async def declare_streams(url: str) -> None:
    nc = await nats.connect(url)
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.close()


class Server:
    """A uvicorn process (`python -m <module>`), stopped by its pid."""

    def __init__(self, module: str, env: dict[str, str], log: Path, ready: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready = ready
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env_without_service_settings()
            | {k: v.format(port=self.port) for k, v in env.items()},
            stdout=subprocess.DEVNULL,
            stderr=open(log, "ab"),  # noqa: SIM115
        )

    def wait(self, check: Callable[[httpx.Response], bool]) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise BenchFailed(f"{self.url} exited:\n{self.log.read_text()[-2000:]}")
            return check(httpx.get(self.url + self.ready, timeout=2))

        wait_until(up, timeout=60, interval=0.2, what=self.url)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def intake_ready(response: httpx.Response) -> bool:
    checks = response.json().get("checks", {}) if response.status_code == 200 else {}
    return response.status_code == 200 and checks.get("nats") is True


def metric(text: str, name: str) -> float:
    """The sum of a counter's series in a Prometheus text page."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def warm_up(server: Server, script: Path, tag: str) -> None:
    """Lazy imports, phone metadata, pooled connections: not what the bench is about."""
    wrk(server.url, script, 2, f"{tag}w")
    time.sleep(0.5)  # requests wrk cut off at the end still finish


def measure(server: Server, script: Path, seconds: int, nats_url: str, tag: str) -> dict[str, Any]:
    """One timed wrk run; checks that every answered request is a lead on the stream."""
    before = asyncio.run(stream_count(nats_url))
    cpu = cpu_seconds(server.process.pid)
    result = wrk(server.url, script, seconds, tag)
    result["cpu_s"] = cpu_seconds(server.process.pid) - cpu
    time.sleep(0.5)
    landed = asyncio.run(stream_count(nats_url)) - before
    # wrk drops the requests in flight when time is up: they may land without being counted.
    if not result["requests"] <= landed <= result["requests"] + CONNECTIONS:
        raise BenchFailed(f"{tag}: {result['requests']} answered, {landed} on the stream")
    note(
        f"{tag}: {result['rate']:,.0f} req/s, p50 {result['p50_us'] / 1000:.1f} ms, "
        f"p99 {result['p99_us'] / 1000:.1f} ms, "
        f"{result['cpu_s'] * 1000 / max(result['requests'], 1):.2f} ms CPU per request"
    )
    return result


def combined(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Rounds summed; p99 is the worst round's (wrk keeps no histogram to merge)."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["duration_us"] for r in runs) / 1e6
    return {
        "requests": requests,
        "rate": requests / seconds,
        "p50_ms": max(r["p50_us"] for r in runs) / 1000,
        "p99_ms": max(r["p99_us"] for r in runs) / 1000,
        "cpu_ms": sum(r["cpu_s"] for r in runs) * 1000 / max(requests, 1),
    }


def intake_server(root: Path, nats_url: str, name: str, env: dict[str, str]) -> Server:
    return Server(
        "lead_intake",
        {
            "LEAD_INTAKE_NATS_URL": nats_url,
            "LEAD_INTAKE_PORT": "{port}",
            "LEAD_INTAKE_DATA_DIR": str(root / name),
            "LEAD_INTAKE_INTEGRATION_API_KEY": API_KEY,
        }
        | env,
        root / f"{name}.log",
        "/readyz",
    )


def nothing_spooled_or_repeated(intake: Server) -> None:
    page = httpx.get(intake.url + "/metrics", timeout=5).text
    spooled = metric(page, "crm_intake_spooled_total")
    repeats = metric(page, 'crm_intake_accepted_total{status="duplicate"}')
    if spooled or repeats:
        raise BenchFailed(f"{intake.url} spooled {spooled} and saw {repeats} repeats")


def rounds_and_seconds() -> tuple[int, int]:
    # Alternating rounds, both servers up: on a shared machine, load that comes and goes then
    # falls on both sides alike instead of on whichever ran at the time.
    return (3, 5) if scale() >= 0.1 else (1, 5)


def run() -> list[Measurement]:
    return leads_against_bare_app() + rate_limit_cost()


def leads_against_bare_app() -> list[Measurement]:
    rounds, seconds = rounds_and_seconds()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        root = Path(tmp)
        (root / "nats").mkdir()
        script = root / "lead.lua"
        script.write_text(WRK_SCRIPT)
        server = NatsServer(root / "nats").start()
        servers: list[Server] = []
        try:
            asyncio.run(declare_streams(server.url))
            bare = Server(
                "bench.bare_intake",
                {"BENCH_NATS_URL": server.url, "BENCH_PORT": "{port}"},
                root / "bare.log",
                "/",
            )
            servers.append(bare)
            intake = intake_server(root, server.url, "intake", {})
            servers.append(intake)
            bare.wait(lambda r: r.status_code == 200)
            intake.wait(intake_ready)
            warm_up(bare, script, "bare")
            warm_up(intake, script, "intake")
            bare_runs, intake_runs = [], []
            for n in range(rounds):
                bare_runs.append(measure(bare, script, seconds, server.url, f"bare{n}"))
                intake_runs.append(measure(intake, script, seconds, server.url, f"intake{n}"))
            nothing_spooled_or_repeated(intake)
        finally:
            for s in servers:
                s.stop()
            server.stop()
    base, got = combined(bare_runs), combined(intake_runs)
    size = {"connections": CONNECTIONS, "wrk_threads": THREADS, "seconds": rounds * seconds}
    ratio = got["rate"] / base["rate"]
    return [
        emit(
            Measurement(
                name="intake POST /v1/leads",
                figure=round(got["rate"], 1),
                unit="req/s",
                size=size | {"requests": got["requests"]},
                goal=f"≥ {GOAL_RATIO}× bare app",
                met=ratio >= GOAL_RATIO,
                baseline=round(base["rate"], 1),
                baseline_name="bare uvicorn app: parse JSON, JetStream publish awaiting the ack",
                ratio=round(ratio, 3),
                extra={
                    "p50_ms": got["p50_ms"],
                    "p99_ms": got["p99_ms"],
                    "cpu_ms_per_request": round(got["cpu_ms"], 3),
                    "baseline_cpu_ms_per_request": round(base["cpu_ms"], 3),
                },
            )
        ),
        emit(
            Measurement(
                name="intake POST /v1/leads p99 latency",
                figure=got["p99_ms"],
                unit="ms",
                size=size,
                goal="reported (no target in issue 11)",
                met=True,
                baseline=base["p99_ms"],
                baseline_name="bare uvicorn app p99",
                ratio=round(base["p99_ms"] / got["p99_ms"], 3),
            )
        ),
    ]


def rate_limit_cost() -> list[Measurement]:
    """Form submissions on an intake with shared limits against one with local limits."""
    rounds, seconds = rounds_and_seconds()
    with tempfile.TemporaryDirectory(prefix="bench-intake-limits-") as tmp:
        root = Path(tmp)
        (root / "nats").mkdir()
        script = root / "form.lua"
        script.write_text(FORM_SCRIPT)
        server = NatsServer(root / "nats").start()
        servers: list[Server] = []
        try:
            asyncio.run(declare_streams(server.url))
            for mode in ("local", "shared"):
                env = NO_LIMIT | {"LEAD_INTAKE_RATE_LIMITS": mode, "LEAD_INTAKE_API_KEY": API_KEY}
                servers.append(intake_server(root, server.url, f"intake-{mode}", env))
            local, shared = servers
            for intake in servers:
                intake.wait(intake_ready)
            form = httpx.put(
                f"{local.url}/v1/forms/bench", json=FORM, headers={"X-API-Key": API_KEY}
            )
            if form.status_code != 200:
                raise BenchFailed(f"defining the bench form: {form.status_code} {form.text}")
            warm_up(local, script, "local")
            warm_up(shared, script, "shared")
            local_runs, shared_runs = [], []
            for n in range(rounds):
                local_runs.append(measure(local, script, seconds, server.url, f"local{n}"))
                shared_runs.append(measure(shared, script, seconds, server.url, f"shared{n}"))
            for intake in servers:
                nothing_spooled_or_repeated(intake)
        finally:
            for s in servers:
                s.stop()
            server.stop()
    base, got = combined(local_runs), combined(shared_runs)
    size = {"connections": CONNECTIONS, "wrk_threads": THREADS, "seconds": rounds * seconds}
    return [
        emit(
            Measurement(
                name="intake form submit, rate limits shared through NATS KV",
                figure=round(got["rate"], 1),
                unit="req/s",
                size=size | {"requests": got["requests"], "clients": 1, "forms": 1},
                goal="reported (issue 12: the cost of sharing the limits)",
                met=True,
                baseline=round(base["rate"], 1),
                baseline_name="the same intake with each replica's own limits (rate_limits=local)",
                ratio=round(got["rate"] / base["rate"], 3),
                extra={
                    "p50_ms": got["p50_ms"],
                    "p99_ms": got["p99_ms"],
                    "baseline_p99_ms": base["p99_ms"],
                    "cpu_ms_per_request": round(got["cpu_ms"], 3),
                    "baseline_cpu_ms_per_request": round(base["cpu_ms"], 3),
                },
            )
        )
    ]
