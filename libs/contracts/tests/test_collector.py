"""The collector's pause: counted across holders and threads, ended early once, and it leaves
alone a collector that was off before."""

from __future__ import annotations

import gc
import threading

import pytest

from crm_contracts.runtime.collector import collector_paused

pytestmark = pytest.mark.usefixtures("collector_on")


def test_the_collector_is_off_in_the_block_and_on_after_it():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_in_the_block_ends_the_pause():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a failed batch")
    assert gc.isenabled()


def test_the_pause_lasts_until_the_last_holder_lets_go_in_any_thread():
    first_in, second_done, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_done.wait(5)
            seen.append(gc.isenabled())  # the other's end did not end this one's pause
        first_out.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(5)
    with collector_paused():
        assert not gc.isenabled()
    second_done.set()
    thread.join(5)
    assert first_out.is_set()
    assert seen == [False]
    assert gc.isenabled()


def test_a_release_ends_the_pause_early_and_only_once():
    with collector_paused() as outer:
        with collector_paused() as inner:
            inner.release()
            inner.release()  # a second release must not end the outer holder's pause
            assert not gc.isenabled()
        assert not gc.isenabled()  # the block's end after a release changes nothing
        outer.release()
        assert gc.isenabled()
    assert gc.isenabled()


def test_a_holder_that_lets_go_while_others_hold_on_runs_a_pass():
    passes: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        with collector_paused():
            with collector_paused():
                pass
            assert passes == [1]  # the young and middle generations, not a full pass
            assert not gc.isenabled()
    finally:
        gc.callbacks.remove(seen)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    passes: list[int] = []
    gc.callbacks.append(lambda phase, info: passes.append(info["generation"]))
    try:
        with collector_paused(), collector_paused():
            assert not gc.isenabled()
    finally:
        gc.callbacks.pop()
    assert not gc.isenabled()
    assert passes == []  # nor does an overlapping holder's end run a pass
