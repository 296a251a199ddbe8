"""Freshness under load: leads posted at a steady 300/s to the whole stack (intake → NATS →
deal-pipeline → analytics, with notification sending its e-mails), each a new contact and so
a new deal; a lead is fresh once the sales funnel counts it. Then the same on a quiet stack
(5 leads/s for 10 s), where nothing but the services' own waits stands between a lead and
its report. Each load is run twice, on a stack started afresh, with two ways of looking:
- `dashboard`: as the dashboard page follows the data, the funnel asked again after each
  `projection` event of `GET /v1/live`, when the page's own timing (static/live.js) would
  (at once after a quiet spell; under a burst one ask at a time, spaced);
- `polled`: the funnel asked every 50 ms (back to back when an answer takes longer), which
  adds a report computed over and over to the load.
The i-th lead (in order of its 202) is visible at the first answer whose count of deals
reaches i. Latency = visible − 202. Hops from the CRM stream's own timestamps say where time
goes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

import analytics
from bench.fresh_client import RawPool
from bench.fresh_hops import BusTimes, backlog, bus_times, percentile, spread, visible_times
from bench.progress import Progress
from bench.record import Measurement, cpu_seconds, emit, note, scale
from tests.support.nats import NatsServer
from tests.support.net import free_port, port_open, wait_until
from tests.support.stack import VIEWER_KEY, start_stack

RATE = 300.0  # leads per second, paced by the clock, not by the answers
QUIET_RATE, QUIET_SECONDS = 5.0, 10.0
GOAL_SECONDS = 1.0
GOAL = "p99 ≤ 1 s (lead 202 → visible in sales-funnel, 300 leads/s)"
QUIET_GOAL = "p99 ≤ 1 s (the goal under load, met with room when quiet)"
POLL_EVERY = 0.05  # the polled observer's period
# The dashboard's spacing of its refreshes (static/live.js), read from the page itself.
LIVE_JS = Path(analytics.__file__).parent / "api/dashboard/static/live.js"
FALLBACK_EVERY = 1.0
CONNECTIONS = 64  # enough that a slow answer does not hold back the schedule
INTAKE_KEY = {"X-API-Key": "dev-api-key"}  # the intake's integration key in start_stack
LANDING = "https://shop.test/?utm_source=yandex&utm_medium=cpc"


def duration() -> float:
    return max(5.0, 60.0 * scale())


@dataclass
class Run:
    sent: list[float] = field(default_factory=list)  # wall clock of each POST
    accepted: dict[str, float] = field(default_factory=dict)  # lead id → wall clock of its 202
    answer_seconds: list[float] = field(default_factory=list)  # POST → 202
    refused: int = 0
    failed: int = 0
    polls: list[tuple[float, int]] = field(default_factory=list)  # (answered at, deals)
    poll_seconds: list[float] = field(default_factory=list)
    poll_answers: Counter[str] = field(default_factory=Counter)  # X-Report-Cache: hit, miss, …


async def post_leads(pool: RawPool, total: int, rate: float, run: Run, progress: Progress) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1

    async def one(i: int) -> None:
        body = {"name": f"Lead {i}", "phone": f"+7913{i:07d}", "landing_url": LANDING}
        sent = time.time()
        run.sent.append(sent)
        try:
            status, answer = await pool.post_json("/v1/leads", body, INTAKE_KEY)
        except (OSError, asyncio.IncompleteReadError):
            run.failed += 1
        else:
            if status == 202:
                accepted = time.time()
                run.accepted[json.loads(answer)["lead_id"]] = accepted
                run.answer_seconds.append(accepted - sent)
            else:
                run.refused += 1
        progress.advance()

    tasks = []
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)


def funnel_asker(client: httpx.AsyncClient, url: str, run: Run) -> Callable[[], Awaitable[None]]:
    """One ask of the sales funnel over the days around today, its answer recorded in `run`."""
    today = datetime.now(UTC).date()
    params = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}

    async def ask() -> None:
        asked = time.monotonic()
        try:
            response = await client.get(f"{url}/v1/reports/sales-funnel", params=params)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            run.polls.append((time.time(), response.json()["deals"]))
            run.poll_seconds.append(time.monotonic() - asked)
            run.poll_answers[response.headers.get("X-Report-Cache", "none")] += 1

    return ask


async def poll_funnel(url: str, run: Run, done: asyncio.Event) -> None:
    """The funnel asked every POLL_EVERY seconds, one ask at a time (back to back when an
    answer takes longer): the latency to within POLL_EVERY, at the cost of a report
    computed over and over beside the load."""
    async with httpx.AsyncClient(headers=VIEWER_KEY, timeout=30) as client:
        ask = funnel_asker(client, url, run)
        while not done.is_set():
            asked = time.monotonic()
            await ask()
            await asyncio.sleep(max(0.0, POLL_EVERY - (time.monotonic() - asked)))


def live_timing() -> tuple[float, float]:
    """The page's LIVE_GAP_MS and LIVE_REST_MS, in seconds."""
    text = LIVE_JS.read_text()

    def constant(name: str) -> float:
        found = re.search(rf"export const {name} = (\d+);", text)
        if found is None:
            raise SystemExit(f"{name} not found in {LIVE_JS.name}: the bench mirrors it")
        return int(found.group(1)) / 1000

    return constant("LIVE_GAP_MS"), constant("LIVE_REST_MS")


async def watch_funnel(url: str, run: Run, done: asyncio.Event) -> None:
    """As the dashboard follows the data (api/dashboard/static/live.js): the funnel asked
    again after a `projection` event of `GET /v1/live`, at once after a quiet spell, one ask
    at a time and one more when events came meanwhile, each starting at least the page's gap
    after the last ask started and its rest after that ended; and at least every
    FALLBACK_EVERY seconds, so that a dropped stream delays the measurement rather than ends
    it."""
    gap, rest = live_timing()
    changed = asyncio.Event()
    changed.set()  # the first ask as the page's first render

    async def follow(client: httpx.AsyncClient) -> None:
        while not done.is_set():  # the stream ends now and then (api/live.py): follow anew
            try:
                async with client.stream("GET", f"{url}/v1/live") as stream:
                    async for line in stream.aiter_lines():
                        if line == "event: projection":
                            changed.set()
            except httpx.HTTPError:
                await asyncio.sleep(0.2)

    async with httpx.AsyncClient(headers=VIEWER_KEY, timeout=30) as client:
        ask = funnel_asker(client, url, run)
        following = asyncio.create_task(follow(client))
        started = ended = float("-inf")
        try:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FALLBACK_EVERY):
                        await changed.wait()
                if changed.is_set():
                    now = time.monotonic()
                    await asyncio.sleep(max(0.0, started + gap - now, ended + rest - now))
                changed.clear()  # events from here on ask again after this ask
                started = time.monotonic()
                await ask()
                ended = time.monotonic()
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following


# How the bench looks at the funnel: as the dashboard does, or polling it.
OBSERVERS: dict[str, Callable[[str, Run, asyncio.Event], Awaitable[None]]] = {
    "dashboard": watch_funnel,
    "polled": poll_funnel,
}


async def drive(
    intake_url: str, analytics_url: str, total: int, rate: float, settle: float, observer: str
) -> Run:
    run = Run()
    done = asyncio.Event()
    host, port = intake_url.removeprefix("http://").split(":")
    pool = RawPool(host, int(port), CONNECTIONS)
    polling = asyncio.create_task(OBSERVERS[observer](analytics_url, run, done))
    progress = Progress("leads posted", total)
    try:
        await post_leads(pool, total, rate, run, progress)
        progress.close()
        note(f"freshness: waiting up to {settle:.0f} s for the funnel to count every lead")
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            if run.polls and run.polls[-1][1] >= len(run.accepted):
                break
            await asyncio.sleep(0.2)
    finally:
        done.set()
        await polling
        await pool.close()
    return run


def start_smtp(log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fresh_smtp", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115
    )
    wait_until(lambda: port_open(port), what="the SMTP sink to listen")
    return process, port


@dataclass(frozen=True)
class Load:
    name: str
    rate: float  # leads per second
    seconds: float
    goal: str


def run() -> list[Measurement]:
    loads = (
        Load("300 leads/s", RATE, duration(), GOAL),
        Load(f"quiet, {QUIET_RATE:.0f} leads/s", QUIET_RATE, QUIET_SECONDS, QUIET_GOAL),
    )
    # BENCH_FRESHNESS_OBSERVERS=dashboard (or polled) for one way of looking only.
    chosen = os.environ.get("BENCH_FRESHNESS_OBSERVERS", ",".join(OBSERVERS)).split(",")
    if unknown := [name for name in chosen if name not in OBSERVERS]:
        raise SystemExit(f"BENCH_FRESHNESS_OBSERVERS: unknown {unknown}; one of {list(OBSERVERS)}")
    return [emit(one(load, observer)) for load in loads for observer in chosen]


def one(load: Load, observer: str) -> Measurement:
    """The whole stack started afresh, `load` posted to it, until every lead was counted."""
    total = int(load.rate * load.seconds)
    settle = 60.0 + load.seconds
    with tempfile.TemporaryDirectory(prefix="bench-fresh-") as tmp:
        data = Path(tmp)
        (data / "nats").mkdir()
        nats = NatsServer(data / "nats").start()
        smtp, smtp_port = start_smtp(data / "smtp.log")
        procs = {}
        try:
            procs = start_stack(nats, smtp_port, data)
            pids = {name: proc.process.pid for name, proc in procs.items()}
            pids["nats-server"] = nats.process.pid
            note(f"freshness: {total} leads at {load.rate:.0f}/s, {load.seconds:.0f} s, {observer}")
            cpu = {name: -cpu_seconds(pid) for name, pid in pids.items()}
            urls = procs["lead_intake"].url, procs["analytics"].url
            result = asyncio.run(drive(*urls, total, load.rate, settle, observer))
            cpu = {name: round(used + cpu_seconds(pids[name]), 2) for name, used in cpu.items()}
            left = asyncio.run(backlog(nats.url))
            bus = asyncio.run(bus_times(nats.url))
        finally:
            for proc in procs.values():
                proc.stop()
            smtp.terminate()
            smtp.wait(timeout=20)
            nats.stop()
    made = measurement(result, bus, load, total, observer)
    # CPU seconds each process used from the first lead until every lead was counted (the
    # analytics figure includes the bench's own asks of the funnel), and what was left to do.
    made.extra.update(cpu_seconds=cpu, backlog_at_end=left)
    return made


def measurement(run: Run, bus: BusTimes, load: Load, total: int, observer: str) -> Measurement:
    accepted = sorted(run.accepted.values())
    seen = visible_times(accepted, run.polls)
    last_poll = run.polls[-1][0] if run.polls else time.time()
    # A lead never counted is charged until the last poll: a lower bound on its latency.
    latencies = [
        (v if v is not None else last_poll) - a for v, a in zip(seen, accepted, strict=True)
    ]
    unseen = sum(v is None for v in seen)
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    # Where the time goes, each hop count-ordered like the funnel itself.
    pipeline = [
        bus.deal_stored[lead] - stored
        for lead, stored in bus.lead_stored.items()
        if lead in bus.deal_stored
    ]
    intake = [
        stored - run.accepted[lead]
        for lead, stored in bus.lead_stored.items()
        if lead in run.accepted
    ]
    opened = sorted(bus.deal_stored.values())
    deal_seen = visible_times(opened, run.polls)
    analytics = [v - o for v, o in zip(deal_seen, opened, strict=True) if v is not None]
    first, last = (min(run.sent), max(run.sent)) if run.sent else (0.0, 0.0)
    # How fast the deal pipeline turned stored leads into stored deals, overall.
    opening = max(opened, default=first) - min(bus.lead_stored.values(), default=first)
    answered = max(run.accepted.values(), default=first)
    return Measurement(
        name=f"freshness: lead 202 → visible in sales-funnel, {load.name}, {observer}",
        figure=round(p99, 3),
        unit="s (p99)",
        size={"leads": total, "seconds": load.seconds, "rate_per_s": load.rate},
        goal=load.goal,
        met=bool(latencies) and unseen == 0 and p99 <= GOAL_SECONDS,
        extra={
            "latency": spread(latencies),
            "accepted": len(run.accepted),
            "refused": run.refused,
            "failed": run.failed,
            "unseen": unseen,
            # The schedule as kept by this process, and what the intake answered in that time.
            "sent_per_s": round(len(run.sent) / max(last - first, 1e-9), 1),
            "accepted_per_s": round(len(run.accepted) / max(answered - first, 1e-9), 1),
            "answer_202": spread(run.answer_seconds),
            "deals_opened_per_s": round(len(opened) / max(opening, 1e-9), 1),
            "hops": {
                # ≤ 0: JetStream stored the lead before the intake answered 202
                "stored_minus_202": spread(intake),
                "lead_stored_to_deal_stored": spread(pipeline),
                "deal_stored_to_funnel": spread(analytics),
            },
            "funnel_poll": spread(run.poll_seconds),
            "polls": len(run.polls),
            "poll_answers": dict(run.poll_answers),  # kept (hit) or computed (miss)
        },
    )
