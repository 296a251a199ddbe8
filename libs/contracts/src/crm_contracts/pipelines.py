"""Pipeline definitions: ordered stages, each open / won / lost with a win probability."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from crm_contracts.envelope import Contract

StageKind = Literal["open", "won", "lost"]


class Stage(Contract):
    name: str = Field(min_length=1, max_length=64, description="Unique within the pipeline.")
    kind: StageKind = Field(default="open", description="What reaching it means for the deal.")
    probability: float = Field(
        default=0.0, ge=0, le=1, description="The win probability the weighted pipeline uses."
    )


class Pipeline(Contract):
    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    stages: tuple[Stage, ...]

    @model_validator(mode="after")
    def _check(self) -> Pipeline:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("stage names must be unique")
        kinds = {s.kind for s in self.stages}
        if not {"won", "lost"} <= kinds:
            raise ValueError("a pipeline needs at least one won and one lost stage")
        if self.stages[0].kind != "open":
            raise ValueError("the first stage must be an open stage")
        return self

    @property
    def first_stage(self) -> Stage:
        return self.stages[0]

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    @property
    def funnel_stages(self) -> list[Stage]:
        """Stages a deal advances through, in order: every stage except the lost ones."""
        return [s for s in self.stages if s.kind != "lost"]


DEFAULT_PIPELINE = Pipeline(
    id="default",
    name="Sales",
    stages=(
        Stage(name="new", probability=0.1),
        Stage(name="qualified", probability=0.3),
        Stage(name="proposal", probability=0.5),
        Stage(name="invoice", probability=0.8),
        Stage(name="won", kind="won", probability=1.0),
        Stage(name="lost", kind="lost", probability=0.0),
    ),
)
