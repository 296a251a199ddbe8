"""The reports' data set: the bench mix published to a nats-server and projected by the real
analytics service, both cached under `.bench/` so a second run only starts them again.

    .bench/events-v<mix version>-<events>/
        nats/                 the nats-server store: stream CRM, and the projection's consumer
        published.json        written once every event was acknowledged
        chdb-<code hash>/     analytics' chDB, keyed by the projection code that filled it
        loaded-<code hash>.json  written once the projection had caught up (time, memory)
                              and once its report tables were merged (bench/settle.py)

A change of the projection code (its files are hashed, see PROJECTION_CODE) loads the stream
again into a fresh chDB directory: its durable consumer is deleted first, so it starts from
sequence 1. An interrupted publish starts over; an interrupted load resumes where the consumer
was.

Parts share one running stack: `report_stack()` starts it on first use; `held()` (the
harness) keeps it running between parts and stops it at the end."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from analytics.handlers import own_consumer
from bench import data
from bench.progress import Progress
from bench.record import note
from tests.support.nats import NatsServer
from tests.support.services import ServiceProcess

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench"
ANALYTICS = ROOT / "services" / "analytics" / "src" / "analytics"
# What decides the projected rows: a change here means the cached chDB is stale. Not the
# schema: a newer one reaches a cached chDB through its migrations when the service starts on
# it, as it reaches a user's data (a migration must carry the rows over itself).
PROJECTION_CODE = (
    "domain/projection/*.py",
    "application/ingest.py",
    "adapters/projection_store.py",
    "adapters/clickhouse.py",
    "domain/channels.py",
    "domain/hashing.py",
    "handlers.py",
)
REPLICA = "bench"  # a fixed replica name: the cached chDB keeps its durable consumer
CONSUMER = own_consumer(REPLICA)  # the durable consumer the live projection reads with
OPERATOR_KEY = "bench-operator-key"
VIEWER_KEY = "bench-viewer-key"
LOAD_TIMEOUT = 6 * 3600.0  # seconds without a finished load before giving up
STALL_TIMEOUT = 600.0  # seconds without the consumer moving


def projection_hash() -> str:
    digest = hashlib.sha256()
    for pattern in PROJECTION_CODE:
        for path in sorted(ANALYTICS.glob(pattern)):
            digest.update(path.relative_to(ANALYTICS).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def dataset_dir(events: int) -> Path:
    return CACHE / f"events-v{data.VERSION}-{events}"


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


@dataclass
class ReportStack:
    """nats-server and the analytics service over the cached data set, while running."""

    events: int
    nats: NatsServer
    analytics: ServiceProcess
    chdb: Path
    marker: Path  # loaded-<code hash>.json: `load`, kept for later runs
    deals: int = 0
    load: dict[str, Any] = field(default_factory=dict)  # how the cached load went

    @property
    def url(self) -> str:
        return self.analytics.url

    @property
    def pid(self) -> int:
        assert self.analytics.process is not None
        return self.analytics.process.pid

    def viewer(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": VIEWER_KEY}, timeout=600)

    def operator(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": OPERATOR_KEY}, timeout=600)

    def size(self) -> dict[str, int]:
        return {"events": self.events, "deals": self.deals}

    def memory(self) -> dict[str, int]:
        return memory_of(self.pid)

    def record(self, **facts: Any) -> None:
        """Facts of the cached load, kept in its marker for later runs."""
        self.load.update(facts)
        self.marker.write_text(json.dumps(self.load))

    def unsettled(self) -> None:
        """The store's tables are about to be written anew (a rebuild): until `settle` runs
        again, this or a later run must not take them for merged."""
        self.load.pop("settled_seconds", None)
        self.record()

    def settle(self) -> None:
        """The report tables merged as the service's own merges leave them (`_settled`)."""
        self.record(settled_seconds=_settled(self.analytics, self.chdb))


async def _stream_state(url: str) -> tuple[int, dict[str, Any] | None]:
    """The stream's last sequence, and the projection consumer's position (None: none yet)."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info("CRM")).state.last_seq
        try:
            info = await js.consumer_info("CRM", CONSUMER)
        except NotFoundError:
            return last, None
        return last, {
            "pending": info.num_pending or 0,
            "ack_pending": info.num_ack_pending or 0,
            "acked": info.ack_floor.stream_seq if info.ack_floor else 0,
        }
    finally:
        await nc.close()


async def _delete_consumer(url: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        with suppress(NotFoundError):
            await nc.jetstream().delete_consumer("CRM", CONSUMER)
    finally:
        await nc.close()


def _published(folder: Path, nats: NatsServer, events: int) -> dict[str, Any]:
    marker = folder / "published.json"
    if marker.exists():
        done: dict[str, Any] = json.loads(marker.read_text())
        return done
    note(f"publishing {events:,} events into {folder.name} (cached for later runs)")
    started = time.monotonic()
    count = asyncio.run(data.publish(nats.url, events))
    seconds = time.monotonic() - started
    done = {"events": count, "seconds": round(seconds, 1)}
    marker.write_text(json.dumps(done))
    return done


def _wait_caught_up(stack: ReportStack, target: int) -> float:
    """Until the projection has acknowledged every message of the stream; the seconds it took."""
    started = last_move = time.monotonic()
    progress = Progress("analytics projection", target)
    acked = 0
    while True:
        if stack.analytics.process is None or stack.analytics.process.poll() is not None:
            raise RuntimeError(f"analytics exited; see {stack.analytics.log_path}")
        _, consumer = asyncio.run(_stream_state(stack.nats.url))
        now = time.monotonic()
        if consumer is not None:
            if consumer["acked"] > acked:
                progress.advance(consumer["acked"] - acked)
                acked, last_move = consumer["acked"], now
            if acked >= target and consumer["pending"] == 0 and consumer["ack_pending"] == 0:
                progress.close()
                return now - started
        if now - last_move > STALL_TIMEOUT or now - started > LOAD_TIMEOUT:
            raise TimeoutError(f"the projection stalled at {acked:,} of {target:,}")
        time.sleep(1.0)


def _import_spend(stack: ReportStack) -> int:
    """Ad spend is imported, not projected: the attribution report's spend, CPL and ROMI."""
    with stack.operator() as http:
        body = data.ad_spend_csv(stack.events)
        response = http.post("/v1/ad-spend", content=body, headers={"Content-Type": "text/csv"})
        if response.status_code != 200:
            raise RuntimeError(f"ad spend refused: {response.status_code} {response.text[:300]}")
    return body.count("\n") - 1


def _count_deals(stack: ReportStack) -> int:
    with stack.operator() as http:
        response = http.post("/v1/sql", json={"sql": "SELECT uniqExact(deal_id) FROM deals"})
        if response.status_code != 200:
            note(f"deal count unavailable: {response.status_code} {response.text[:200]}")
            return 0
        body = response.json()
    rows = body.get("rows") or body.get("data") or []
    first = rows[0] if rows else None
    if isinstance(first, dict):
        return int(next(iter(first.values())))
    if isinstance(first, list | tuple):
        return int(first[0])
    return 0


def _settled(analytics: ServiceProcess, chdb: Path) -> float:
    """The loaded store's report tables merged as an hour of the service's own merging leaves
    them (bench/settle.py), with the service stopped meanwhile; the seconds it took. Reports
    are measured on a store as it runs, not as a bulk load has just left it."""
    analytics.stop()
    note("merging the loaded report tables (once per load)")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "bench.settle", str(chdb)], check=True)
    seconds = time.monotonic() - started
    analytics.start()
    analytics.wait_ready(timeout=300)
    return round(seconds, 1)


@contextmanager
def _started(events: int) -> Iterator[ReportStack]:
    folder = dataset_dir(events)
    for stale in CACHE.glob(f"events-v*-{events}"):
        if stale != folder:  # an older mix of this size: never read again, and big
            shutil.rmtree(stale)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "published.json").exists() and (folder / "nats").exists():
        shutil.rmtree(folder / "nats")  # a publish that did not finish: start it over
    (folder / "nats").mkdir(exist_ok=True)
    for log in folder.glob("nats-*.log"):  # one per run (named by its port): keep none old
        log.unlink()
    nats = NatsServer(folder / "nats").start()
    analytics: ServiceProcess | None = None
    try:
        published = _published(folder, nats, events)
        code = projection_hash()
        chdb = folder / f"chdb-{code}"
        marker = folder / f"loaded-{code}.json"
        for old in folder.glob("chdb-*"):
            if old != chdb:  # filled by older projection code: only the current one is kept
                shutil.rmtree(old)
                (folder / f"loaded-{old.name.removeprefix('chdb-')}.json").unlink(missing_ok=True)
        if not chdb.exists():
            asyncio.run(_delete_consumer(nats.url))  # the new chDB is filled from sequence 1
            chdb.mkdir()
        analytics = ServiceProcess(
            "analytics",
            {
                "ANALYTICS_NATS_URL": nats.url,
                "ANALYTICS_CHDB_PATH": str(chdb),
                "ANALYTICS_REPLICA": REPLICA,
                "ANALYTICS_API_KEY": OPERATOR_KEY,
                "ANALYTICS_VIEWER_API_KEY": VIEWER_KEY,
                "ANALYTICS_NATS_MONITOR_URL": nats.monitor_url,
                "ANALYTICS_LOG_LEVEL": "WARNING",
                # Every timed request computes its report: no answer kept from the one before.
                "ANALYTICS_REPORT_CACHE_SECONDS": "0",
            },
            folder / "analytics.log",
        )
        # The ops page polls the services it knows: only this one, never the default ports.
        analytics.env["ANALYTICS_OPS_SERVICES"] = json.dumps({"analytics": analytics.url})
        analytics.start()
        analytics.wait_ready(timeout=300)
        stack = ReportStack(events, nats, analytics, chdb, marker)
        if marker.exists():
            stack.load = json.loads(marker.read_text())
        else:
            last, _ = asyncio.run(_stream_state(nats.url))
            note(f"loading {last:,} events through the analytics projection (cached afterwards)")
            seconds = _wait_caught_up(stack, last)
            stack.record(
                events=last,
                seconds=round(seconds, 1),
                events_per_second=round(last / seconds, 1) if seconds else None,
                memory=stack.memory(),
                publish=published,
            )
        if not stack.load.get("ad_spend"):
            stack.record(ad_spend=_import_spend(stack))
        if not stack.load.get("settled_seconds"):
            stack.settle()
        stack.deals = stack.load.get("deals") or _count_deals(stack)
        if stack.deals and "deals" not in stack.load:
            stack.record(deals=stack.deals)
        yield stack
    finally:
        if analytics is not None:
            analytics.stop()
        nats.stop()


_running: ReportStack | None = None
_users = 0
_held = False
_exit: Any = None


@contextmanager
def report_stack(events: int | None = None) -> Iterator[ReportStack]:
    """The running stack over the cached data set (started on first use). Stopped when its
    last user leaves, unless the harness holds it (`held()`)."""
    global _running, _users, _exit
    if _running is None:
        starting = _started(events or data.full_size())
        _running = starting.__enter__()
        _exit = starting
    _users += 1
    try:
        yield _running
    finally:
        _users -= 1
        if _users == 0 and not _held:
            _stop()


def _stop() -> None:
    global _running, _exit
    if _exit is not None:
        exiting, _exit, _running = _exit, None, None
        exiting.__exit__(None, None, None)


@contextmanager
def held() -> Iterator[None]:
    """For the harness: one stack for every part that asks for it, stopped at the end."""
    global _held
    _held = True
    try:
        yield
    finally:
        _held = False
        if _users == 0:
            _stop()


def main() -> None:
    """`python -m bench.stack`: build (or check) the cached data set and print its record."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM unwinds, so the servers started here are stopped

    signal.signal(signal.SIGTERM, interrupt)
    with report_stack() as stack:
        note(json.dumps(stack.load | {"url": stack.url, "memory_now": stack.memory()}))


if __name__ == "__main__":
    main()
