"""The cyclic garbage collector held off while a batch is computed.

A young-generation pass walks every container allocated since the last one that is still
alive. In the middle of a projection batch that is the whole batch: thousands of parsed events
and their rows, alive until the batch is written, walked again and again (and once more as
they move up a generation) though reference counting frees nearly all of them the moment the
batch ends. Paused for the batch, the collector runs once after it, over the few objects that
outlive it (the latest rows kept in memory). The analytics projection spent about a tenth of
its Python time in these passes (measured offline on the bench mix).

The collector is one per process, so the pause is counted: it ends when the last holder lets
go, and a collector that was off before stays off. Holders that overlap without end (a rebuild
beside the live projection) must not keep it off for good, so a holder that lets go while
others still hold it runs the young and middle generations' pass itself."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


class Pause:
    """One holder's pause; `release` ends it early (before a retry's wait), once."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = True

    def release(self) -> None:
        global _holders
        with _lock:
            if not self.held:
                return
            self.held = False
            _holders -= 1
            others = _holders > 0
            if not others and _was_enabled:
                gc.enable()
        if others and _was_enabled:
            gc.collect(1)


@contextmanager
def collector_paused() -> Iterator[Pause]:
    """The collector off until the block ends or the pause is released, in any thread."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    pause = Pause()
    try:
        yield pause
    finally:
        pause.release()
