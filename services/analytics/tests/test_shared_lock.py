"""The lock reports read under and a rebuild's swap takes alone: readers together, the swap
after them and alone, and a waiting swap ahead of readers that come after it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait

from analytics.adapters.shared_lock import SharedLock


def test_readers_hold_it_together() -> None:
    lock = SharedLock()
    inside = threading.Event()

    def reader() -> None:
        with lock.shared():
            inside.set()

    with lock.shared(), ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(reader)
        assert inside.wait(5), "a second reader waited for the first"


def test_a_waiting_swap_goes_before_readers_that_come_after_it() -> None:
    lock = SharedLock()
    order: list[str] = []
    first_in, first_out = threading.Event(), threading.Event()

    def reader(name: str, hold: threading.Event | None = None) -> None:
        with lock.shared():
            order.append(name)
            if hold is not None:
                first_in.set()
                assert hold.wait(10)

    def swapper() -> None:
        with lock.exclusive():
            order.append("swap")

    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(reader, "first reader", first_out)
        assert first_in.wait(10)
        swap = pool.submit(swapper)
        assert not wait([swap], timeout=0.5).done, "the swap ran beside a reader"
        late = pool.submit(reader, "late reader")
        assert not wait([late], timeout=0.5).done, "a reader passed a waiting swap"
        first_out.set()
        for future in (first, swap, late):
            future.result(10)
    assert order == ["first reader", "swap", "late reader"]
