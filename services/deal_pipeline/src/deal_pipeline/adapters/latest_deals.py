"""The deals this process loaded or saved last, kept in memory, so that the next command on one
starts from its state: loading a deal read its latest snapshot and its events, then decoded
and applied every event since the snapshot (about a quarter of the service's CPU a stage
move, measured). The store stays the truth: a kept deal is brought up to date with the events
stored after its version (one read, of nothing unless another process wrote), and a save
still fails on a version another writer stored first. Each caller gets a copy of its own, so
a refused or failed command leaves the kept deal as it was."""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

from deal_pipeline.domain.deal import Deal

SIZE = 4096  # deals, a few KB each: the ones a sales team is working on


def detached(deal: Deal) -> Deal:
    """A copy sharing nothing a command changes, at a fraction of `copy.deepcopy`'s cost: a
    deal's state is immutable values and dicts of them (tasks, invoices and payments hold
    frozen value objects; the pending events, a list), so each dict and list is copied."""
    copy = object.__new__(type(deal))
    state = copy.__dict__
    state.update(deal.__dict__)
    for name, value in state.items():
        if type(value) is dict or type(value) is list:
            state[name] = value.copy()
    return copy


class LatestDeals:
    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._deals: OrderedDict[UUID, Deal] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, deal_id: UUID) -> Deal | None:
        """A copy of the deal as last kept, or None."""
        with self._lock:
            deal = self._deals.get(deal_id)
            if deal is None:
                return None
            self._deals.move_to_end(deal_id)
        return detached(deal)

    def keep(self, deal: Deal) -> None:
        """A copy of `deal` as stored, unless a later version is kept. A deal with events not
        stored yet is not kept: its state is ahead of the store."""
        if deal.pending_events:
            return
        kept = detached(deal)
        with self._lock:
            known = self._deals.get(deal.id)
            if known is not None and known.version > kept.version:
                return
            self._deals[deal.id] = kept
            self._deals.move_to_end(deal.id)
            if len(self._deals) > self.size:
                self._deals.popitem(last=False)
