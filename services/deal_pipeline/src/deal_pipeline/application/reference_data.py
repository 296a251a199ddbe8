"""Reference data use cases: pipelines, managers and plans, and who gets a new deal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from crm_contracts.pipelines import Pipeline
from deal_pipeline.application.ports import AggregateStore
from deal_pipeline.domain.assignment import AssignmentRule, round_robin, ruled_manager
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.errors import (
    ManagerNotFound,
    PipelineNotFound,
    PlanNotFound,
    UnknownManager,
    UnknownPipeline,
)
from deal_pipeline.domain.people import Manager, ManagerCard, ManagerRoster, Plan
from deal_pipeline.domain.pipeline import (
    DEFAULT_LOST_REASONS,
    PipelineDefinition,
    PipelineTerms,
    default_terms,
)


@dataclass(frozen=True)
class PipelineRules:
    """What commands on a deal check against: its pipeline's current definition."""

    pipeline: Pipeline
    lost_reasons: list[str]
    manager_ids: list[str]


class Assigner:
    """Picks the manager of each deal opened in one save: a rule's manager, else the next in
    the pipeline's round robin. Active managers are read once per pipeline, and the turns drawn
    are stored as one counter event (`to_save`), so a batch of leads costs one write."""

    def __init__(self, reference: ReferenceData) -> None:
        self.reference = reference
        self._active: dict[str, list[str]] = {}
        self._counters: dict[str, Counter] = {}
        self._drawn: dict[str, int] = {}

    def pick(
        self, rules: PipelineRules, form_id: str | None = None, sources: Sequence[str | None] = ()
    ) -> str | None:
        pipeline_id = rules.pipeline.id
        if pipeline_id not in self._active:
            self._active[pipeline_id] = self.reference.active_managers(rules.manager_ids)
        active = self._active[pipeline_id]
        if not active:
            return None
        ruled = ruled_manager(self.reference.assignment_rules, active, form_id, sources)
        if ruled is not None:
            return ruled
        return round_robin(active, self._turn(f"round-robin/{pipeline_id}"))

    def _turn(self, name: str) -> int:
        if name not in self._counters:
            store = self.reference.store
            found = store.find(Counter, Counter.create_id(name))
            self._counters[name] = found or Counter(name=name)
            self._drawn[name] = 0
        self._drawn[name] += 1
        return self._counters[name].value + self._drawn[name]

    def to_save(self) -> list[Counter]:
        """The counters advanced past every turn drawn (call once, at save)."""
        for name, counter in self._counters.items():
            counter.draw(self._drawn[name])
        return list(self._counters.values())


class ReferenceData:
    def __init__(
        self,
        store: AggregateStore,
        managers: Sequence[str] = (),
        lost_reasons: Sequence[str] = DEFAULT_LOST_REASONS,
        assignment_rules: Sequence[AssignmentRule] = (),
    ) -> None:
        self.store = store
        self.fallback_managers = list(managers)  # in force until a manager card is stored
        self.lost_reasons = list(lost_reasons)
        self.assignment_rules = list(assignment_rules)
        # Pipeline id → (stored version of its definition, its rules); see `rules`.
        self._rules: dict[str, tuple[int | None, PipelineRules]] = {}

    # -- pipelines ---------------------------------------------------------------------------

    def define_pipeline(
        self,
        pipeline_id: str,
        name: str,
        stages: Sequence[dict[str, Any]],
        lost_reasons: Sequence[str] = (),
        manager_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        for manager_id in manager_ids:
            self.check_manager(manager_id, must_be_active=False)
        terms = PipelineTerms.checked(pipeline_id, name, stages, lost_reasons, manager_ids)

        def use_case() -> dict[str, Any]:
            stored = self.store.find(PipelineDefinition, PipelineDefinition.create_id(pipeline_id))
            if stored is None:
                stored = PipelineDefinition.define(terms)
            else:
                stored.redefine(terms)
            self.store.save(stored)
            return vars(stored.terms) | {"version": stored.version}

        return self.store.retrying(use_case)

    def pipeline_definition(self, pipeline_id: str) -> dict[str, Any]:
        stored = self.store.find(PipelineDefinition, PipelineDefinition.create_id(pipeline_id))
        if stored is not None:
            return vars(stored.terms) | {"version": stored.version}
        if pipeline_id == "default":
            return vars(default_terms(self.lost_reasons)) | {"version": 0}
        raise PipelineNotFound(f"no pipeline {pipeline_id!r}")

    def rules(self, pipeline_id: str) -> PipelineRules:
        """Every command on a deal checks these: kept per stored version of the definition, so
        a command reads one row of it instead of loading and validating it again, and a
        redefinition by any replica still counts from the next command on."""
        version = self.store.version(pipeline_key(pipeline_id))
        cached = self._rules.get(pipeline_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            definition = self.pipeline_definition(pipeline_id)
        except PipelineNotFound:
            raise UnknownPipeline(f"no pipeline {pipeline_id!r}", "pipeline_id") from None
        rules = PipelineRules(
            pipeline=Pipeline(
                id=pipeline_id, name=definition["name"], stages=tuple(definition["stages"])
            ),
            lost_reasons=definition["lost_reasons"] or self.lost_reasons,
            manager_ids=definition["manager_ids"],
        )
        # Keyed by the version the rules were made from (a definition stored since is newer).
        self._rules[pipeline_id] = (definition["version"] or None, rules)
        return rules

    # -- managers ----------------------------------------------------------------------------

    def put_manager(self, manager_id: str, card: ManagerCard) -> Manager:
        """Create or update a manager card; a new manager joins the roster in the same
        atomic save."""

        def use_case() -> Manager:
            manager = self.store.find(Manager, Manager.create_id(manager_id))
            if manager is not None:
                manager.update(card)
                self.store.save(manager)
                return manager
            roster = self.store.find(ManagerRoster, ManagerRoster.ID) or ManagerRoster()
            manager = Manager.register(manager_id, card)
            roster.add(manager_id)
            self.store.save(manager, roster)
            return manager

        return self.store.retrying(use_case)

    def get_manager(self, manager_id: str) -> Manager:
        return self.store.load(Manager, Manager.create_id(manager_id), ManagerNotFound, "manager")

    def roster(self) -> list[str]:
        roster = self.store.find(ManagerRoster, ManagerRoster.ID)
        return list(roster.manager_ids) if roster else []

    def managers(self) -> list[Manager]:
        return [self.get_manager(m) for m in self.roster()]

    def active_managers(self, only: Sequence[str] = ()) -> list[str]:
        """Active managers with cards; while there are no cards, the configured ids."""
        roster = self.roster()
        if roster:
            candidates = [m for m in roster if self.get_manager(m).card.active]
        else:
            candidates = list(self.fallback_managers)
        return [m for m in candidates if not only or m in only]

    def check_manager(self, manager_id: str, must_be_active: bool = True) -> None:
        roster = self.roster()
        if not roster:
            known = manager_id in self.fallback_managers
        else:
            known = manager_id in roster and (
                not must_be_active or self.get_manager(manager_id).card.active
            )
        if not known:
            what = "active manager" if must_be_active else "manager"
            raise UnknownManager(f"no {what} {manager_id!r}", "manager_id")

    def assigner(self) -> Assigner:
        """Who gets the new deals of one save (see `Assigner`)."""
        return Assigner(self)

    # -- plans -------------------------------------------------------------------------------

    def set_plan(self, manager_id: str, month: str, amount: Decimal, currency: str = "RUB") -> Plan:
        self.check_manager(manager_id, must_be_active=False)

        def use_case() -> Plan:
            plan = self.store.find(Plan, Plan.create_id(manager_id, month))
            if plan is None:
                plan = Plan.set(manager_id, month, amount, currency)
            else:
                plan.change(amount, currency)
            self.store.save(plan)
            return plan

        return self.store.retrying(use_case)

    def get_plan(self, manager_id: str, month: str) -> Plan:
        return self.store.load(Plan, Plan.create_id(manager_id, month), PlanNotFound, "plan")


@lru_cache(maxsize=1024)
def pipeline_key(pipeline_id: str) -> UUID:
    """A pipeline definition's aggregate id, read by every command: hashed once per pipeline."""
    return PipelineDefinition.create_id(pipeline_id)
