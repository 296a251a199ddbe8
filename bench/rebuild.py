"""Rebuild of the analytics projection on the cached data set (bench/stack.py):
`POST /v1/admin/rebuild` replays the whole `CRM` stream into fresh tables and swaps them in.
The figure is the stream's messages over the job's own duration. The rebuilt tables are then
merged as the load's were (`ReportStack.settle`), so the parts after this one (the reports)
time the store as a running service leaves it, not as a replay has just left it in many
parts; were the run stopped before that, the cached store is marked unsettled and the next
run merges it first."""

from __future__ import annotations

import os
import time
from datetime import datetime

from bench import memory, stack
from bench.progress import Progress
from bench.record import Measurement, emit, python_and_engine, thread_cpu

GOAL_EVENTS_PER_SECOND = 50_000
POLL_SECONDS = 0.5
TIMEOUT = 6 * 3600.0


def run() -> list[Measurement]:
    with stack.report_stack() as s, s.operator() as http:
        s.unsettled()  # the rebuild writes every table anew, in many parts
        cpu_from = thread_cpu(s.pid)
        response = http.post("/v1/admin/rebuild")
        if response.status_code != 202:
            raise RuntimeError(f"rebuild refused: {response.status_code} {response.text[:300]}")
        job = response.json()
        started = time.monotonic()
        progress = Progress("rebuild", s.load.get("events") or s.events)
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
                    extra={
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
