"""Use cases of the deal pipeline, as an `eventsourcing` Application taking plain values."""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import RecordConflictError

from crm_contracts.pipelines import DEFAULT_PIPELINE, Pipeline
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import DealNotFound

CONFLICT_RETRIES = 30


class DealsApp(Application[UUID]):
    name = "deal_pipeline"

    def __init__(self, env: dict[str, str] | None = None, managers: Sequence[str] = ()) -> None:
        super().__init__(env)
        self.managers = list(managers)
        self.pipelines: dict[str, Pipeline] = {DEFAULT_PIPELINE.id: DEFAULT_PIPELINE}
        self.on_saved: Callable[[], None] = lambda: None

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        self.on_saved()  # wakes the relay at once instead of it polling
        return recordings

    def pick_manager(self, deal_id: UUID) -> str | None:
        """Stable spread over managers (the same deal always maps to the same one)."""
        if not self.managers:
            return None
        return self.managers[zlib.crc32(deal_id.bytes) % len(self.managers)]

    def open_deal_from_lead(self, lead_id: str, title: str, pipeline_id: str = "default") -> UUID:
        """Idempotent: a lead already turned into a deal returns that deal's id."""
        deal_id = Deal.create_id(lead_id)
        if self._exists(deal_id):
            return deal_id
        pipeline = self.pipelines[pipeline_id]
        deal = Deal.open(pipeline, lead_id, title, self.pick_manager(deal_id))
        with suppress(RecordConflictError):  # another replica opened it after our check
            self.save(deal)
        return deal_id

    def move_stage(self, deal_id: UUID, stage: str, lost_reason: str | None = None) -> Deal:
        def command(deal: Deal) -> None:
            deal.move_to(self.pipelines[deal.pipeline_id], stage, lost_reason)

        return self._update(deal_id, command)

    def get_deal(self, deal_id: UUID) -> Deal:
        try:
            return self.repository.get(deal_id)
        except AggregateNotFoundError:
            raise DealNotFound(f"no deal {deal_id}") from None

    def _exists(self, deal_id: UUID) -> bool:
        try:
            self.repository.get(deal_id)
        except AggregateNotFoundError:
            return False
        return True

    def _update(self, deal_id: UUID, command: Callable[[Deal], None]) -> Deal:
        """Load, apply, save; on a concurrent writer's conflict, reload and apply again."""
        for attempt in range(CONFLICT_RETRIES):
            deal = self.get_deal(deal_id)
            command(deal)
            try:
                self.save(deal)
            except RecordConflictError:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                # Jitter, so that writers which collided do not collide again in lockstep.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return deal
        raise AssertionError("unreachable")
