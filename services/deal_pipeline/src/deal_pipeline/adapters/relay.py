"""Relay: follows the event store's notification log and publishes each stored event to
JetStream. The position is tracked in the event store's own tracking table, written only after
JetStream acked, so a crash re-publishes (deduplicated by Nats-Msg-Id) and never skips."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from eventsourcing.persistence import Tracking
from faststream.nats import NatsBroker

from crm_contracts.runtime.wakeup import Wakeup
from deal_pipeline.adapters.event_mapping import relayed, to_contract
from deal_pipeline.adapters.event_store import EventStore
from deal_pipeline.adapters.pipelined_publish import PipelinedPublisher
from deal_pipeline.adapters.store_watch import StoreWatch
from deal_pipeline.metrics import RELAY_BACKLOG, RELAY_POSITION

log = logging.getLogger(__name__)
RELAY_NAME = "deal_pipeline_relay"


class Relay:
    def __init__(
        self,
        store: EventStore,
        broker: NatsBroker,
        batch: int = 500,
        idle_poll: float = 0.5,
        publish_timeout: float = 5.0,
        hold_before_tracking: float = 0.0,
        name: str = RELAY_NAME,
        min_interval: float = 0.0,
        tracking_interval: float = 0.0,
    ) -> None:
        self.store = store
        self.name = name  # the tracking row's application name: this relay's position
        self.publisher = PipelinedPublisher(broker)
        self.batch = batch
        self.idle_poll = idle_poll  # fallback for saves made by other processes
        self.publish_timeout = publish_timeout
        self.hold_before_tracking = hold_before_tracking  # fault injection for tests
        # Seconds at least from one batch to the next: under a stream of saves each batch
        # gathers several events instead of one publish round per save.
        self.min_interval = min_interval
        # Under a stream of saves the position is written at most this often (each write is a
        # commit, on SQLite an fsync under the store's one write lock, that the saves wait
        # for); at once when the relay is idle or stops. A crash re-publishes what was acked
        # since, and JetStream drops those as duplicates (Nats-Msg-Id, 5-minute window).
        self.tracking_interval = tracking_interval
        self.tracking = store.factory.tracking_recorder()
        self._wake = Wakeup()  # by a save in this process or the store watch
        self._stopping = False
        store.saved_listeners.append(self._wake)
        self.watch = StoreWatch(store.recorder, self._wake)

    async def position(self) -> int:
        return await self.store.call(self.tracking.max_tracking_id, self.name) or 0

    async def run(self) -> None:
        self.watch.start()
        try:
            position = tracked = await self.position()
            loop = asyncio.get_running_loop()
            started, tracked_at = -self.min_interval, float("-inf")
            while not self._stopping:
                await asyncio.sleep(max(0.0, started + self.min_interval - loop.time()))
                started = loop.time()
                self._wake.clear()  # cleared before reading: a save during the read still wakes
                try:
                    position, count = await self.publish_batch(position, track=False)
                    due = started - tracked_at >= self.tracking_interval
                    if position > tracked and (due or count == 0):
                        await self.track(position)
                        tracked, tracked_at = position, started
                except Exception:
                    log.exception("relay publish failed; retrying")
                    await asyncio.sleep(0.5)
                    # Another replica's relay may have published and tracked past us (the
                    # tracking row only moves forward): continue from the stored position.
                    with suppress(Exception):
                        stored = await self.position()
                        position, tracked = max(position, stored), max(tracked, stored)
                    continue
                if count < self.batch:
                    await self._wake.wait(self.idle_poll)
            if position > tracked:  # stopping: store how far the bus has every event
                try:
                    await self.track(position)
                except Exception:
                    log.warning("relay could not store its position at stop", exc_info=True)
        finally:
            await asyncio.to_thread(self.watch.stop)

    async def stop(self, running: asyncio.Task[None]) -> None:
        """Ends `run` between two batches. Cancelling it instead left a store read running in
        its thread while the store was closed under it, which crashed the process."""
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({running}, timeout=self.publish_timeout + 5)
        if not done:  # a publish that never returns: cancel after all
            running.cancel()
            await asyncio.wait({running}, timeout=1)

    async def publish_batch(self, position: int, track: bool = True) -> tuple[int, int]:
        """Publish the next stored events after `position` and, if `track`, store the new
        position; returns the new position and the count."""
        notifications = await self.store.call(
            self.store.recorder.select_notifications,
            position,
            self.batch,
            inclusive_of_start=False,
        )
        if not notifications:
            RELAY_BACKLOG.set(0)
            return position, 0
        events = (self.store.domain_event(n) for n in notifications if relayed(n.topic))
        contracts = [contract for contract in map(to_contract, events) if contract is not None]
        # Sent back to back on the one connection, which NATS takes in order, and the acks
        # awaited together (`pipelined_publish`): a round trip per batch, not per event (one
        # at a time, a busy event loop let the relay fall minutes behind). Any failure fails
        # the batch: it is published again from `position`, and what was stored already is a
        # duplicate that JetStream drops (Nats-Msg-Id).
        await self.publisher.publish(contracts, self.publish_timeout)
        last = notifications[-1].id
        if track:
            await self.track(last)
        max_id = await self.store.call(self.store.recorder.max_notification_id) or last
        RELAY_BACKLOG.set(max_id - last)
        return last, len(notifications)

    async def track(self, position: int) -> None:
        """Store the position: every event up to it is on the bus."""
        if self.hold_before_tracking:
            await asyncio.sleep(self.hold_before_tracking)
        await self.store.call(self.tracking.insert_tracking, Tracking(self.name, position))
        RELAY_POSITION.set(position)
