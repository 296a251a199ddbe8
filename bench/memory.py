"""Memory of the analytics process on the cached data set (bench/stack.py): its peak resident
set (VmHWM, /proc/<pid>/status) when the projection had loaded the data, and after the
reports ran (they run here, untimed, when the reports part did not run in this process)."""

from __future__ import annotations

from bench import data, reports, stack
from bench.record import Measurement, emit, note

GIB = 2**30
GOAL_GIB = 2.0


def measurement(name: str, memory: dict[str, int], size: dict[str, int], when: str) -> Measurement:
    peak = memory.get("VmHWM", 0) / GIB
    return emit(
        Measurement(
            name=name,
            figure=round(peak, 3),
            unit="GiB peak RSS",
            size=size,
            goal="RSS ≤ 2 GiB at 10 M events",
            met=peak <= GOAL_GIB and size.get("events", 0) >= data.FULL_EVENTS,
            extra={"rss_gib": round(memory.get("VmRSS", 0) / GIB, 3), "when": when},
        )
    )


def run() -> list[Measurement]:
    out = []
    with stack.report_stack() as s:
        loaded = s.load.get("memory")
        if loaded:
            when = "when the projection had caught up with the stream (cached with the data)"
            out.append(measurement("analytics memory after loading", loaded, s.size(), when))
        else:
            note("memory after loading: not recorded with the cached data set")
        if not reports.ran:
            reports.exercise(s)
        # A rebuild before this part started the service again (rebuild.py measures its peak).
        when = "after every report ran, in a process started on the cached store"
        out.append(measurement("analytics memory after reports", s.memory(), s.size(), when))
    return out


if __name__ == "__main__":
    run()
