"""The live projection against the bus it reads: the analytics service (its real consumer,
chDB, every table) catching up a stream of the bench mix, versus a bare nats-py pull consumer
that only fetches and acks the same messages, in the same batches, on the same nats-server.

The stream is cached under `.bench/` (published once); every run projects into a fresh chDB."""

from __future__ import annotations

import asyncio
import inspect
import json
import shutil
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from analytics.settings import AnalyticsSettings
from bench import data
from bench.progress import Progress
from bench.record import Measurement, emit, note, python_and_engine, scale, thread_cpu
from bench.stack import CACHE, CONSUMER, REPLICA, memory_of
from tests.support.nats import NatsServer
from tests.support.services import ServiceProcess

FULL = 1_000_000  # events at BENCH_SCALE=1 (the size the issue measured at)
# The projection's default batch size (ANALYTICS_BATCH_SIZE): the bare consumer fetches the same.
BATCH: int = AnalyticsSettings.model_fields["batch_size"].default
GOAL = "≥ 0.8× bare nats-py pull-consume + ack, and ≥ 30 000 events/s"


def size() -> int:
    return max(20_000, int(FULL * scale()))


def stream(events: int) -> tuple[Path, bool]:
    """The store dir of a nats-server holding the published stream, and whether it is done."""
    folder = CACHE / f"projection-v{data.VERSION}-{events}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder, (folder / "published.json").exists()


async def bare_consume(url: str, events: int, batched: bool = False) -> float:
    """Events per second of a durable pull consumer that fetches and acks each message: with
    nats-py's own `fetch` (the issue's baseline), or `batched` with the services' batched
    fetch (`crm_contracts.runtime.nats_fetch`), the bus at its best from Python."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig
    from nats.js.client import JetStreamContext

    from crm_contracts.runtime import nats_fetch  # noqa: F401 - installs the batched fetch

    nc = await nats.connect(url)
    js = nc.jetstream()
    name = "bench_bare"
    with suppress(Exception):
        await js.delete_consumer("CRM", name)
    sub = await js.pull_subscribe(
        "crm.>",
        durable=name,
        stream="CRM",
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=4 * BATCH),
    )
    # The services patch `fetch` on import; unwrapped, it is nats-py's own.
    fetch = JetStreamContext.PullSubscription.fetch
    fetch = fetch if batched else inspect.unwrap(fetch)
    label = "batched fetch" if batched else "nats-py fetch"
    progress = Progress(f"bare consume+ack, {label}", events)
    got, started = 0, time.monotonic()
    try:
        while got < events:
            messages = await fetch(sub, BATCH, timeout=5)
            for message in messages:
                await message.ack()
            got += len(messages)
            progress.advance(len(messages))
        await nc.flush()
        seconds = time.monotonic() - started
        progress.close()
        return got / seconds
    finally:
        with suppress(Exception):
            await js.delete_consumer("CRM", name)
        await nc.close()


async def forget_consumer(url: str, name: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        with suppress(NotFoundError):
            await nc.jetstream().delete_consumer("CRM", name)
    finally:
        await nc.close()


async def acked(url: str) -> int:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info("CRM", CONSUMER)
        return info.ack_floor.stream_seq if info.ack_floor else 0
    except NotFoundError:
        return 0
    finally:
        await nc.close()


def projection_rate(
    nats: NatsServer, events: int, work: Path
) -> tuple[float, dict[str, int], dict[str, float]]:
    """Events per second of the analytics service catching up the stream, timed from its
    first acknowledged batch (start-up and migrations excluded) to the last; its memory; and
    the CPU seconds of its Python threads and of its engine over the same span."""
    analytics = ServiceProcess(
        "analytics",
        {
            "ANALYTICS_NATS_URL": nats.url,
            "ANALYTICS_CHDB_PATH": str(work / "chdb"),
            "ANALYTICS_REPLICA": REPLICA,
            "ANALYTICS_LOG_LEVEL": "WARNING",
            "ANALYTICS_OPS_SERVICES": "{}",
        },
        work / "analytics.log",
    )
    progress = Progress("analytics projection", events)
    analytics.start()
    try:
        first: tuple[float, int] | None = None
        cpu_from: dict[str, float] = {}
        done = 0
        while done < events:
            if analytics.process is None or analytics.process.poll() is not None:
                raise RuntimeError(f"analytics exited; see {analytics.log_path}")
            now, position = time.monotonic(), asyncio.run(acked(nats.url))
            if position > done:
                progress.advance(position - done)
                done = position
                if first is None:
                    first = (now, position)
                    cpu_from = thread_cpu(analytics.process.pid)
            time.sleep(0.25)
        progress.close()
        if first is None or first[1] >= events:
            raise RuntimeError("the projection had nothing left to catch up: nothing measured")
        seconds = time.monotonic() - first[0]
        assert analytics.process is not None
        cpu = python_and_engine(cpu_from, thread_cpu(analytics.process.pid))
        return (events - first[1]) / seconds, memory_of(analytics.process.pid), cpu
    finally:
        analytics.stop()


def run() -> list[Measurement]:
    events = size()
    folder, published = stream(events)
    if not published:  # an interrupted publish starts over
        shutil.rmtree(folder / "jetstream", ignore_errors=True)
    nats = NatsServer(folder).start()
    try:
        if not published:
            note(f"publishing {events:,} events for the projection bench (cached)")
            count = asyncio.run(data.publish(nats.url, events))
            (folder / "published.json").write_text(json.dumps({"events": count}))
        bare = asyncio.run(bare_consume(nats.url, events))
        bus = asyncio.run(bare_consume(nats.url, events, batched=True))
        # The stream is cached with its consumers: the projection must start from the first.
        asyncio.run(forget_consumer(nats.url, CONSUMER))
        with tempfile.TemporaryDirectory(prefix="bench-projection-") as tmp:
            rate, memory, cpu = projection_rate(nats, events, Path(tmp))
    finally:
        nats.stop()
    ratio = rate / bare
    return [
        emit(
            Measurement(
                name="projection: events/s catching up a stream",
                figure=round(rate),
                unit="events/s",
                size={"events": events},
                goal=GOAL,
                met=ratio >= 0.8 and rate >= 30_000,
                baseline=round(bare),
                baseline_name="bare nats-py pull-consume + ack, same messages and batch size",
                ratio=round(ratio, 3),
                extra={
                    "rss_bytes": memory.get("VmHWM", 0),
                    "cpu_seconds": cpu,  # bound by its Python threads' GIL, or the engine?
                    "bare_batched_fetch": round(bus),
                    "ratio_to_batched_fetch": round(rate / bus, 3),
                },
            )
        )
    ]
