"""Pipelines as data: a stored definition per pipeline id. Deals keep stage names in their own
events, so a new definition never rewrites what happened under the old one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from pydantic import ValidationError

from crm_contracts.envelope import derived_id
from crm_contracts.pipelines import DEFAULT_PIPELINE, Pipeline
from deal_pipeline.domain import values
from deal_pipeline.domain.errors import InvalidValue

DEFAULT_LOST_REASONS = ("price", "competitor", "no_budget", "no_response", "not_a_fit", "other")


def checked_pipeline(pipeline_id: str, name: str, stages: Sequence[dict[str, Any]]) -> Pipeline:
    """Unique stage names, at least one won and one lost stage, an open first stage."""
    try:
        return Pipeline(id=pipeline_id, name=name, stages=tuple(stages))
    except ValidationError as exc:
        reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise InvalidValue(reason, "stages") from None


def checked_lost_reasons(reasons: Sequence[str]) -> list[str]:
    cleaned = [r.strip() for r in reasons]
    if any(not r for r in cleaned) or len(set(cleaned)) != len(cleaned):
        raise InvalidValue("lost reasons must be unique and not empty", "lost_reasons")
    return cleaned


@dataclass(frozen=True, kw_only=True)
class PipelineTerms:
    """The one list of a definition's fields: the events that define a pipeline carry them."""

    pipeline_id: str
    name: str
    stages: list[dict[str, Any]]
    lost_reasons: list[str]
    manager_ids: list[str]

    @classmethod
    def checked(
        cls,
        pipeline_id: str,
        name: str,
        stages: Sequence[dict[str, Any]],
        lost_reasons: Sequence[str],
        manager_ids: Sequence[str],
    ) -> PipelineTerms:
        pipeline = checked_pipeline(pipeline_id, name, stages)
        return cls(
            pipeline_id=pipeline_id,
            name=name,
            stages=[s.model_dump() for s in pipeline.stages],
            lost_reasons=checked_lost_reasons(lost_reasons),
            manager_ids=list(dict.fromkeys(manager_ids)),
        )

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline(id=self.pipeline_id, name=self.name, stages=tuple(self.stages))


class PipelineDefinition(Aggregate):
    terms: PipelineTerms

    class TermsSet(Aggregate.Event, PipelineTerms):
        def apply(self, definition: PipelineDefinition) -> None:
            definition.terms = values.part_of(PipelineTerms, self)

    class Defined(TermsSet, Aggregate.Created):
        pass

    class Redefined(TermsSet):
        pass

    @staticmethod
    def create_id(pipeline_id: str, **_: object) -> UUID:
        return derived_id("pipeline", pipeline_id)

    def __init__(self) -> None:
        """The terms come with the event (`TermsSet.apply`), as for every redefinition."""

    @classmethod
    def define(cls, terms: PipelineTerms) -> PipelineDefinition:
        return cls._create(cls.Defined, **vars(terms))

    def redefine(self, terms: PipelineTerms) -> None:
        if terms != self.terms:
            self.trigger_event(self.Redefined, **vars(terms))

    @property
    def pipeline(self) -> Pipeline:
        return self.terms.pipeline


def default_terms(lost_reasons: Sequence[str]) -> PipelineTerms:
    """The built-in pipeline, in force until someone defines `default` through the API."""
    return PipelineTerms(
        pipeline_id=DEFAULT_PIPELINE.id,
        name=DEFAULT_PIPELINE.name,
        stages=[s.model_dump() for s in DEFAULT_PIPELINE.stages],
        lost_reasons=list(lost_reasons),
        manager_ids=[],
    )
