"""One JSON line per measurement, on stdout; progress and notes go to stderr."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
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


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds each thread name of a process used so far, the threads of one name summed.
    The interpreter's threads are all named `python`; chDB's engine names its own."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = defaultdict(float)
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # a thread that ended meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[name] += (int(fields[11]) + int(fields[12])) / tick
    return dict(out)


def python_and_engine(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The CPU seconds between two `thread_cpu` readings of the analytics service: its Python
    threads (which share one GIL) and the engine's. A thread that ended in between is left
    out, so the figures are at least what was spent."""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    python = spent.pop("python", 0.0)
    return {"python": round(python, 1), "engine": round(sum(spent.values()), 1)}


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
