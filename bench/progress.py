"""A progress bar on stderr for the long steps (no dependency: one line redrawn in place)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, max(total, 1), 0
        self.started = self.drawn = time.monotonic()
        self.tty = sys.stderr.isatty()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.drawn >= (0.2 if self.tty else 10) or self.done >= self.total:
            self.drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(self.done / self.total, 1.0)
        elapsed = now - self.started
        left = elapsed / share - elapsed if share else 0.0
        bar = "#" * int(share * 30)
        line = (
            f"{self.what:<28} [{bar:<30}] {self.done:>11,}/{self.total:,}"
            f"  {elapsed:6.0f}s  ~{left:4.0f}s left"
        )
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def close(self) -> None:
        self._draw(time.monotonic())
        if self.tty:
            sys.stderr.write("\n")
