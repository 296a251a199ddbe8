"""Rebuild of the analytics projection on the cached data set (bench/stack.py):
`POST /v1/admin/rebuild` replays the whole `CRM` stream into fresh tables and swaps them in.
The figure is the stream's messages over the job's own duration. The rebuilt tables are then
merged as the load's were (`ReportStack.settle`), so the parts after this one (the reports)
time the store as a running service leaves it, not as a replay has just left it in many
parts; were the run stopped before that, the cached store is marked unsettled and the next
run merges it first.

Its baselines, on the same stream in the same run: the stream read as the rebuild reads it
and nothing else done (`bare_replay`), and read and parsed (each event validated as the
rebuild's first step does, nothing folded or written): what a rebuild that wrote nothing at
all could reach here, the ceiling of any replay through the projection's own parsing."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime

from analytics.application.ingest import parse_batch
from analytics.settings import AnalyticsSettings
from bench import memory, stack
from bench.progress import Progress
from bench.record import Measurement, emit, python_and_engine, thread_cpu
from crm_contracts import subjects
from crm_contracts.streams import CRM

GOAL_EVENTS_PER_SECOND = 50_000
POLL_SECONDS = 0.5
TIMEOUT = 6 * 3600.0
# The rebuild's batch size (ANALYTICS_REBUILD_BATCH_SIZE): the baselines fetch the same.
BATCH: int = AnalyticsSettings.model_fields["rebuild_batch_size"].default
# The baselines read the stream's first messages only: their rate is steady after the first
# batches, and a read of all 10 M events, twice, would add some ten minutes to the part.
BASELINE_MESSAGES = 2_000_000


async def bare_replay(url: str, messages: int, parse: bool) -> float:
    """Messages per second of an ephemeral pull consumer without acks reading the stream from
    its first message in batches of `BATCH`, with the services' batched fetch, as the rebuild's
    (adapters/jetstream.py `JetStreamReplay`); with `parse`, each batch also parsed and
    validated as the rebuild does first (`parse_batch` in a thread, the collector held off,
    the next batch fetched meanwhile), and nothing else."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from crm_contracts.runtime import nats_fetch  # noqa: F401 - installs the batched fetch
    from crm_contracts.runtime.collector import collector_paused

    def parsed(bodies: list[bytes]) -> None:
        with collector_paused():
            batch = parse_batch(bodies)
            if batch.rejected:
                raise RuntimeError(f"the bench mix has an invalid event: {batch.rejected[0]}")
            batch.forget()

    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe(
            subjects.ALL,
            durable=None,
            stream=CRM,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=60.0,
                mem_storage=True,
            ),
        )
        label = "stream read and parsed" if parse else "stream read"
        progress = Progress(f"bare replay: {label}", messages)
        got, started = 0, time.monotonic()
        ahead = asyncio.ensure_future(sub.fetch(BATCH, timeout=5))
        while got < messages:
            batch = await ahead
            got += len(batch)
            if got < messages:
                ahead = asyncio.ensure_future(sub.fetch(BATCH, timeout=5))
            if parse:
                await asyncio.to_thread(parsed, [m.data for m in batch])
            progress.advance(len(batch))
        seconds = time.monotonic() - started
        progress.close()
        await sub.unsubscribe()
        return got / seconds
    finally:
        await nc.close()


def run() -> list[Measurement]:
    with stack.report_stack() as s, s.operator() as http:
        stream_messages = s.load.get("events") or s.events
        read_only = min(BASELINE_MESSAGES, stream_messages)
        read = asyncio.run(bare_replay(s.nats.url, read_only, parse=False))
        read_and_parsed = asyncio.run(bare_replay(s.nats.url, read_only, parse=True))
        s.unsettled()  # the rebuild writes every table anew, in many parts
        cpu_from = thread_cpu(s.pid)
        response = http.post("/v1/admin/rebuild")
        if response.status_code != 202:
            raise RuntimeError(f"rebuild refused: {response.status_code} {response.text[:300]}")
        job = response.json()
        started = time.monotonic()
        progress = Progress("rebuild", stream_messages)
        replayed = 0
        while job["state"] not in ("done", "failed"):
            if time.monotonic() - started > TIMEOUT:
                raise TimeoutError(f"rebuild {job['job_id']} still {job['state']}")
            time.sleep(POLL_SECONDS)
            job = http.get(f"/v1/admin/rebuild/{job['job_id']}").raise_for_status().json()
            progress.advance(job["events_replayed"] - replayed)
            replayed = job["events_replayed"]
        wall = time.monotonic() - started
        cpu = python_and_engine(cpu_from, thread_cpu(s.pid))
        progress.close()
        if job["state"] != "done":
            raise RuntimeError(f"rebuild failed: {job.get('error')}")
        seconds = (
            datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
        ).total_seconds() or wall
        messages = job["last_sequence"] or job["events_replayed"]
        rate = messages / seconds
        when = "at the end of a rebuild of every table (the process's peak since it started)"
        peak = memory.measurement("analytics memory after a rebuild", s.memory(), s.size(), when)
        # The reports after this part read the store as a running service leaves it (the
        # service is started again for that, so their memory is measured apart).
        s.settle()
        return [
            peak,
            emit(
                Measurement(
                    name="rebuild from the stream",
                    figure=round(rate, 1),
                    unit="events/s",
                    size=s.size(),
                    goal=f"≥ {GOAL_EVENTS_PER_SECOND:,} events/s".replace(",", " "),
                    met=rate >= GOAL_EVENTS_PER_SECOND,
                    baseline=round(read, 1),
                    baseline_name="the stream read as the rebuild reads it, nothing else done",
                    ratio=round(rate / read, 3),
                    extra={
                        # The ceiling of a replay through the projection's own parsing.
                        "read_and_parsed": round(read_and_parsed, 1),
                        "ratio_to_read_and_parsed": round(rate / read_and_parsed, 3),
                        "baseline_messages": read_only,
                        "seconds": round(seconds, 1),
                        "wall_seconds": round(wall, 1),
                        "stream_messages": messages,
                        "events_replayed": job["events_replayed"],
                        "load_average": round(os.getloadavg()[0], 1),
                        "cpu_seconds": cpu,  # the Python threads' (one GIL) and the engine's
                        "settled_seconds_after": s.load["settled_seconds"],
                    },
                )
            ),
        ]


if __name__ == "__main__":
    run()
