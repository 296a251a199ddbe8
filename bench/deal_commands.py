"""Deal commands over HTTP: stage moves against the real deal-pipeline service on SQLite (a
uvicorn process with its nats-server, relay and read model running), driven by wrk, against a
bare `eventsourcing` load-move-save loop on SQLite in this process (bench/deal_baseline.py)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from bench.deal_baseline import bare_moves_per_second
from bench.progress import Progress
from bench.record import Measurement, emit, note, scale
from tests.support.nats import NatsServer
from tests.support.services import ServiceProcess

API_KEY = "bench-key"
KEY = {"X-API-Key": API_KEY}
CONNECTIONS = 16
WRK_THREADS = 1  # the service has two cores to share with wrk: one thread keeps 16 busy
GOAL_RATIO = 0.5
GOAL = "≥ 0.5× bare eventsourcing loop"
LUA = Path(__file__).with_name("deal_moves.lua")
STAGE_CYCLE = ("qualified", "proposal", "invoice", "new")  # as deal_moves.lua cycles them


def sizes() -> tuple[int, float]:
    """(deals, seconds of moves): 2 000 deals and 20 s at full scale."""
    return max(64, int(2000 * scale())), max(3.0, 20.0 * scale())


async def open_deals(url: str, count: int) -> dict[str, int]:
    """Opens `count` deals by hand, each for a new contact; deal id → version after opening."""
    progress = Progress("deals opened", count)
    versions: dict[str, int] = {}
    gate = asyncio.Semaphore(CONNECTIONS)
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, headers=KEY, limits=limits, timeout=30) as client:

        async def one(i: int) -> None:
            async with gate:
                body = {"title": f"bench deal {i}", "name": f"Client {i}", "phone": phone(i)}
                response = await client.post("/v1/deals", json=body)
            assert response.status_code == 201, response.text
            deal = response.json()
            versions[deal["id"]] = deal["version"]
            progress.advance()

        await asyncio.gather(*(one(i) for i in range(count)))
    progress.close()
    return versions


def phone(i: int) -> str:
    return f"+7912{i:07d}"


async def read_versions(url: str, ids: list[str]) -> dict[str, int]:
    gate = asyncio.Semaphore(CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, headers=KEY, timeout=30) as client:

        async def one(deal_id: str) -> tuple[str, int]:
            async with gate:
                response = await client.get(f"/v1/deals/{deal_id}")
            assert response.status_code == 200, response.text
            return deal_id, response.json()["version"]

        return dict(await asyncio.gather(*(one(d) for d in ids)))


def run_wrk(url: str, deals_file: Path, seconds: float) -> dict[str, int]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk not found: make system-packages installs it")
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url,
        "--",
        str(deals_file),
        API_KEY,
        str(WRK_THREADS),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_SUMMARY "))
    return json.loads(line.removeprefix("WRK_SUMMARY "))


def service_moves(work: Path, deals: int, seconds: float) -> tuple[float, dict[str, int], int]:
    """(moves/s, wrk's summary, moves that landed in the store)."""
    (work / "nats").mkdir()
    nats = NatsServer(work / "nats").start()
    service = ServiceProcess(
        "deal_pipeline",
        {
            "DEAL_PIPELINE_NATS_URL": nats.url,
            "DEAL_PIPELINE_DATA_DIR": str(work / "deals"),
            "DEAL_PIPELINE_API_KEY": API_KEY,
            "DEAL_PIPELINE_MANAGERS": '["anna", "boris"]',
            "DEAL_PIPELINE_LOG_LEVEL": "WARNING",
        },
        work / "deal_pipeline.log",
    )
    try:
        service.start().wait_ready()
        opened = asyncio.run(open_deals(service.url, deals))
        deals_file = work / "deals.txt"
        deals_file.write_text("".join(f"{d}\n" for d in opened))
        note(f"deal commands: wrk, {CONNECTIONS} connections, {seconds:.0f} s of stage moves")
        summary = run_wrk(service.url, deals_file, seconds)
        after = asyncio.run(read_versions(service.url, list(opened)))
    finally:
        service.stop()
        nats.stop()
    landed = sum(after[d] - opened[d] for d in opened)
    ok = summary["requests"] - summary["status"]
    rate = ok / (summary["duration_us"] / 1e6)
    return rate, summary, landed


def check_landed(summary: dict[str, int], landed: int) -> None:
    """Every answered move is in the store; at most the requests still in flight when wrk
    stopped (one per connection) landed without an answer counted."""
    errors = {k: summary[k] for k in ("connect", "read", "write", "status", "timeout")}
    if any(errors.values()):
        raise AssertionError(f"wrk saw errors: {errors}")
    answered = summary["requests"]
    if not answered <= landed <= answered + CONNECTIONS:
        raise AssertionError(f"{answered} moves answered but {landed} landed in the store")


def run() -> list[Measurement]:
    deals, seconds = sizes()
    stages = list(STAGE_CYCLE)  # each bare deal moved once through the cycle
    with tempfile.TemporaryDirectory(prefix="bench-deals-") as tmp:
        work = Path(tmp)
        # The bare loop right before and right after the service, on fresh stores: the mean
        # evens out what else the machine was doing meanwhile.
        note(f"deal commands: bare eventsourcing loop, {deals} deals × {len(stages)} moves")
        before, bare_moves = bare_moves_per_second(work / "before.sqlite", deals, stages)
        figure, summary, landed = service_moves(work, deals, seconds)
        check_landed(summary, landed)
        after, _ = bare_moves_per_second(work / "after.sqlite", deals, stages)
    baseline = (before + after) / 2
    ratio = figure / baseline
    return [
        emit(
            Measurement(
                name="deal stage moves over HTTP (SQLite)",
                figure=round(figure, 1),
                unit="moves/s",
                size={"deals": deals, "moves": landed, "seconds": seconds},
                goal=GOAL,
                met=ratio >= GOAL_RATIO,
                baseline=round(baseline, 1),
                baseline_name=(
                    f"bare eventsourcing get-move-save loop, 1 thread, {bare_moves} moves "
                    "(mean of a run before and one after)"
                ),
                ratio=round(ratio, 3),
                extra={
                    "connections": CONNECTIONS,
                    "latency_p50_ms": round(summary["p50_us"] / 1000, 1),
                    "latency_p99_ms": round(summary["p99_us"] / 1000, 1),
                    "moves_landed": landed,
                    "moves_answered": summary["requests"],
                    "baseline_before": round(before, 1),
                    "baseline_after": round(after, 1),
                },
            )
        )
    ]
