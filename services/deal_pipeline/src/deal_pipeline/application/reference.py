"""Reference data use cases: pipelines, managers and plans, and who gets a new deal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crm_contracts.pipelines import Pipeline
from deal_pipeline.application.store import SNAPSHOT_INTERVAL, Store
from deal_pipeline.domain.assignment import AssignmentRule, round_robin, ruled_manager
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.errors import (
    ManagerNotFound,
    PipelineNotFound,
    PlanNotFound,
    UnknownManager,
    UnknownPipeline,
)
from deal_pipeline.domain.people import Manager, ManagerRoster, Plan
from deal_pipeline.domain.pipeline import PipelineDefinition, default_definition

DEFAULT_LOST_REASONS = ("price", "competitor", "no_budget", "no_response", "not_a_fit", "other")


@dataclass(frozen=True)
class PipelineRules:
    """What commands on a deal check against: its pipeline's current definition."""

    pipeline: Pipeline
    lost_reasons: list[str]
    manager_ids: list[str]


class ReferenceData(Store):
    def __init__(
        self,
        env: dict[str, str] | None = None,
        managers: Sequence[str] = (),
        lost_reasons: Sequence[str] = DEFAULT_LOST_REASONS,
        assignment_rules: Sequence[AssignmentRule] = (),
        snapshot_interval: int = SNAPSHOT_INTERVAL,
    ) -> None:
        super().__init__(env, snapshot_interval)
        self.fallback_managers = list(managers)  # in force until a manager card is stored
        self.lost_reasons = list(lost_reasons)
        self.assignment_rules = list(assignment_rules)

    # -- pipelines ---------------------------------------------------------------------------

    def define_pipeline(
        self,
        pipeline_id: str,
        name: str,
        stages: list[dict[str, Any]],
        lost_reasons: Sequence[str] = (),
        manager_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        for manager_id in manager_ids:
            self.check_manager(manager_id, must_be_active=False)

        def use_case() -> dict[str, Any]:
            stored = self.find(PipelineDefinition.create_id(pipeline_id))
            args = (name, stages, list(lost_reasons), list(manager_ids))
            if stored is None:
                stored = PipelineDefinition.define(pipeline_id, *args)
            else:
                stored.redefine(*args)
            self.save(stored)
            return self.pipeline_definition(pipeline_id)

        return self.retrying(use_case)

    def pipeline_definition(self, pipeline_id: str) -> dict[str, Any]:
        stored = self.find(PipelineDefinition.create_id(pipeline_id))
        if stored is not None:
            return {
                "pipeline_id": pipeline_id,
                "name": stored.name,
                "stages": stored.stages,
                "lost_reasons": stored.lost_reasons,
                "manager_ids": stored.manager_ids,
                "version": stored.version,
            }
        if pipeline_id == "default":
            return default_definition(self.lost_reasons) | {"version": 0}
        raise PipelineNotFound(f"no pipeline {pipeline_id!r}")

    def rules(self, pipeline_id: str) -> PipelineRules:
        try:
            definition = self.pipeline_definition(pipeline_id)
        except PipelineNotFound:
            raise UnknownPipeline(f"no pipeline {pipeline_id!r}", "pipeline_id") from None
        return PipelineRules(
            pipeline=Pipeline(
                id=pipeline_id, name=definition["name"], stages=tuple(definition["stages"])
            ),
            lost_reasons=definition["lost_reasons"] or self.lost_reasons,
            manager_ids=definition["manager_ids"],
        )

    # -- managers ----------------------------------------------------------------------------

    def put_manager(self, manager_id: str, **card: Any) -> Manager:
        """Create or update a manager card (name, email, telegram_chat_id, phone, active,
        timezone); a new manager joins the roster in the same atomic save."""

        def use_case() -> Manager:
            manager = self.find(Manager.create_id(manager_id))
            if manager is not None:
                manager.update(**card)
                self.save(manager)
                return manager
            roster = self.find(ManagerRoster.ID) or ManagerRoster()
            manager = Manager(manager_id=manager_id, **Manager.card(**card))
            roster.add(manager_id)
            self.save(manager, roster)
            return manager

        return self.retrying(use_case)

    def get_manager(self, manager_id: str) -> Manager:
        return self.load(Manager, Manager.create_id(manager_id), ManagerNotFound, "manager")

    def roster(self) -> list[str]:
        roster = self.find(ManagerRoster.ID)
        return list(roster.manager_ids) if roster else []

    def active_managers(self, only: Sequence[str] = ()) -> list[str]:
        """Active managers with cards; while there are no cards, the configured ids."""
        roster = self.roster()
        if roster:
            candidates = [m for m in roster if self.get_manager(m).active]
        else:
            candidates = list(self.fallback_managers)
        return [m for m in candidates if not only or m in only]

    def check_manager(self, manager_id: str, must_be_active: bool = True) -> None:
        roster = self.roster()
        if not roster:
            known = manager_id in self.fallback_managers
        else:
            known = manager_id in roster and (
                not must_be_active or self.get_manager(manager_id).active
            )
        if not known:
            what = "active manager" if must_be_active else "manager"
            raise UnknownManager(f"no {what} {manager_id!r}", "manager_id")

    def pick_manager(
        self,
        rules: PipelineRules,
        form_id: str | None = None,
        sources: Sequence[str | None] = (),
    ) -> tuple[str | None, Counter | None]:
        """A rule's manager, else the next one in the pipeline's round robin; the counter to
        save with the deal is returned (None when no turn was drawn)."""
        active = self.active_managers(rules.manager_ids)
        if not active:
            return None, None
        ruled = ruled_manager(self.assignment_rules, active, form_id, sources)
        if ruled is not None:
            return ruled, None
        name = f"round-robin/{rules.pipeline.id}"
        counter = self.find(Counter.create_id(name)) or Counter(name=name)
        return round_robin(active, counter.draw()), counter

    # -- plans -------------------------------------------------------------------------------

    def set_plan(self, manager_id: str, month: str, amount: Decimal, currency: str = "RUB") -> Plan:
        self.check_manager(manager_id, must_be_active=False)

        def use_case() -> Plan:
            plan = self.find(Plan.create_id(manager_id, month))
            if plan is None:
                plan = Plan.set(manager_id, month, amount, currency)
            else:
                plan.change(amount, currency)
            self.save(plan)
            return plan

        return self.retrying(use_case)

    def get_plan(self, manager_id: str, month: str) -> Plan:
        return self.load(Plan, Plan.create_id(manager_id, month), PlanNotFound, "plan")
