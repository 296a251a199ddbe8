"""`python -m bench` (`make bench`): every part in order, JSON lines on stdout, then a markdown
table of all measurements on stderr, ready for the README.

BENCH_ONLY=reports,rebuild runs a subset; BENCH_SCALE=0.1 a smaller data set."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
import traceback
from types import FrameType

from bench import stack
from bench.record import Measurement, machine, note, scale

PARTS = ("intake", "deal_commands", "projection", "rebuild", "reports", "memory", "freshness")
PARTS += ("notification",)
# After memory: its copy through /v1/sql must not raise the peak that part records.
PARTS += ("reports_pg",)


def selected() -> list[str]:
    only = [p.strip() for p in os.environ.get("BENCH_ONLY", "").split(",") if p.strip()]
    unknown = [p for p in only if p not in PARTS]
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown part(s) {', '.join(unknown)}; parts: {PARTS}")
    return [p for p in PARTS if not only or p in only]


def number(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def table(measurements: list[Measurement]) -> str:
    lines = [
        f"Measured on {machine()}, BENCH_SCALE={scale():g}.",
        "",
        "| measurement | figure | unit | baseline | ratio | goal | met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for m in measurements:
        baseline = number(m.baseline)
        if m.baseline is not None and m.baseline_name:
            baseline = f"{baseline} ({m.baseline_name})"
        ratio = "—" if m.ratio is None else f"{m.ratio:.2f}×"
        lines.append(
            f"| {m.name} | {number(m.figure)} | {m.unit} | {baseline} | {ratio} | {m.goal} "
            f"| {'yes' if m.met else '**no**'} |"
        )
    return "\n".join(lines)


def _stop_on_term(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so every part stops the servers it started."""
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_term)
    parts = selected()
    measurements: list[Measurement] = []
    failed: list[str] = []
    with stack.held():
        for part in parts:
            try:
                module = importlib.import_module(f"bench.{part}")
            except ModuleNotFoundError as exc:
                if exc.name != f"bench.{part}":
                    raise
                note(f"== {part}: skipped (no bench/{part}.py yet)")
                continue
            note(f"== {part}")
            started = time.monotonic()
            try:
                measurements += module.run()
            except KeyboardInterrupt:
                raise
            except Exception:
                failed.append(part)
                note(f"== {part}: FAILED\n{traceback.format_exc()}")
            note(f"== {part}: {time.monotonic() - started:.0f}s")
    note("\n" + table(measurements))
    if failed:
        note(f"\nfailed parts: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
