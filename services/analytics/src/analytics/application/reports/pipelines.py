"""Pipeline definitions as analytics knows them: the latest `pipeline.defined` of each, or the
built-in default pipeline when none was defined."""

from __future__ import annotations

from analytics.adapters.clickhouse import ClickHouse
from crm_contracts.pipelines import DEFAULT_PIPELINE, Pipeline, Stage
from crm_contracts.runtime.errors import Invalid


def load_pipelines(ch: ClickHouse) -> dict[str, Pipeline]:
    rows = ch.rows(
        "SELECT pipeline_id, name, stage_names, stage_kinds, stage_probabilities "
        "FROM {db}.pipelines FINAL"
    )
    pipelines = {DEFAULT_PIPELINE.id: DEFAULT_PIPELINE}
    for r in rows:
        stages = tuple(
            Stage(name=n, kind=k, probability=p)
            for n, k, p in zip(
                r["stage_names"], r["stage_kinds"], r["stage_probabilities"], strict=True
            )
        )
        pipelines[r["pipeline_id"]] = Pipeline(id=r["pipeline_id"], name=r["name"], stages=stages)
    return pipelines


def load_pipeline(ch: ClickHouse, pipeline_id: str | None) -> Pipeline:
    pipelines = load_pipelines(ch)
    pipeline_id = pipeline_id or DEFAULT_PIPELINE.id
    if pipeline_id not in pipelines:
        raise Invalid(f"unknown pipeline {pipeline_id!r}", "pipeline")
    return pipelines[pipeline_id]
