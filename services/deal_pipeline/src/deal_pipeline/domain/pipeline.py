"""Pipelines as data: a stored definition per pipeline id. Deals keep stage names in their own
events, so a new definition never rewrites what happened under the old one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from pydantic import ValidationError

from crm_contracts.envelope import derived_id
from crm_contracts.pipelines import DEFAULT_PIPELINE, Pipeline
from deal_pipeline.domain.errors import InvalidValue


def checked_pipeline(pipeline_id: str, name: str, stages: list[dict[str, Any]]) -> Pipeline:
    """Unique stage names, at least one won and one lost stage, an open first stage."""
    try:
        return Pipeline(id=pipeline_id, name=name, stages=tuple(stages))
    except ValidationError as exc:
        reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise InvalidValue(reason, "stages") from None


def checked_lost_reasons(reasons: list[str]) -> list[str]:
    cleaned = [r.strip() for r in reasons]
    if any(not r for r in cleaned) or len(set(cleaned)) != len(cleaned):
        raise InvalidValue("lost reasons must be unique and not empty", "lost_reasons")
    return cleaned


class PipelineDefinition(Aggregate):
    @staticmethod
    def create_id(pipeline_id: str, **_: object) -> UUID:
        return derived_id("pipeline", pipeline_id)

    @event("Defined")
    def __init__(
        self,
        pipeline_id: str,
        name: str,
        stages: list[dict[str, Any]],
        lost_reasons: list[str],
        manager_ids: list[str],
    ) -> None:
        self.pipeline_id = pipeline_id
        self._apply(name, stages, lost_reasons, manager_ids)

    @classmethod
    def define(
        cls,
        pipeline_id: str,
        name: str,
        stages: list[dict[str, Any]],
        lost_reasons: list[str],
        manager_ids: list[str],
    ) -> PipelineDefinition:
        pipeline = checked_pipeline(pipeline_id, name, stages)
        return cls(
            pipeline_id=pipeline_id,
            name=name,
            stages=[s.model_dump() for s in pipeline.stages],
            lost_reasons=checked_lost_reasons(lost_reasons),
            manager_ids=list(dict.fromkeys(manager_ids)),
        )

    def redefine(
        self,
        name: str,
        stages: list[dict[str, Any]],
        lost_reasons: list[str],
        manager_ids: list[str],
    ) -> None:
        pipeline = checked_pipeline(self.pipeline_id, name, stages)
        new = {
            "name": name,
            "stages": [s.model_dump() for s in pipeline.stages],
            "lost_reasons": checked_lost_reasons(lost_reasons),
            "manager_ids": list(dict.fromkeys(manager_ids)),
        }
        if all(getattr(self, key) == value for key, value in new.items()):
            return
        self._redefined(pipeline_id=self.pipeline_id, **new)

    @event("Redefined")
    def _redefined(
        self,
        pipeline_id: str,
        name: str,
        stages: list[dict[str, Any]],
        lost_reasons: list[str],
        manager_ids: list[str],
    ) -> None:
        self._apply(name, stages, lost_reasons, manager_ids)

    def _apply(
        self,
        name: str,
        stages: list[dict[str, Any]],
        lost_reasons: list[str],
        manager_ids: list[str],
    ) -> None:
        self.name = name
        self.stages = [dict(s) for s in stages]
        self.lost_reasons = list(lost_reasons)
        self.manager_ids = list(manager_ids)

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline(id=self.pipeline_id, name=self.name, stages=tuple(self.stages))


def default_definition(lost_reasons: list[str]) -> dict[str, Any]:
    """The built-in pipeline, in force until someone defines `default` through the API."""
    return {
        "pipeline_id": DEFAULT_PIPELINE.id,
        "name": DEFAULT_PIPELINE.name,
        "stages": [s.model_dump() for s in DEFAULT_PIPELINE.stages],
        "lost_reasons": list(lost_reasons),
        "manager_ids": [],
    }
