"""One JSON line per measurement, on stdout; progress and notes go to stderr."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from typing import Any


def scale() -> float:
    """BENCH_SCALE=0.1 for a quick run; 1 is the full size of every data set."""
    return float(os.environ.get("BENCH_SCALE", "1"))


def cpu_seconds(pid: int) -> float:
    """CPU time a process (every thread of it) used so far: per request, it tells more than a
    rate or a wall time on a busy machine."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    cores = os.cpu_count() or 0
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    python = platform.python_version()
    return f"{platform.machine()}, {cores} cores, {memory:.0f} GiB, Python {python}"


@dataclass
class Measurement:
    """`figure` in `unit`; `baseline` is what the comparison path did in the same run.
    `ratio` is figure / baseline (for a time, baseline / figure: above 1 is faster), so a
    higher ratio is always better. `goal` is the target as written, `met` whether it holds."""

    name: str
    figure: float
    unit: str
    size: dict[str, Any]
    goal: str
    met: bool
    baseline: float | None = None
    baseline_name: str | None = None
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def emit(m: Measurement) -> Measurement:
    line = {k: v for k, v in asdict(m).items() if v is not None and v != {}}
    line["scale"] = scale()
    line["machine"] = machine()
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return m


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
