from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from crm_contracts.runtime.settings import ServiceSettings
from deal_pipeline.domain.pipeline import DEFAULT_LOST_REASONS


class AssignmentRuleSetting(BaseModel):
    """A lead from this form and/or source (the lead's source or utm_source) goes to this
    manager, when the manager is active; otherwise round robin decides."""

    manager_id: str
    form_id: str | None = None
    source: str | None = None


class PipelineSettings(ServiceSettings):
    """Environment variables prefixed `DEAL_PIPELINE_`. The event store itself is chosen by the
    `eventsourcing` library's own variables (`PERSISTENCE_MODULE`, `SQLITE_DBNAME`,
    `POSTGRES_*`); when none is set, a SQLite file under `data_dir` is used."""

    model_config = SettingsConfigDict(env_prefix="DEAL_PIPELINE_")

    port: int = 8002
    data_dir: Path = Path(".run/deal_pipeline")
    api_key: str = "dev-api-key"
    # Round robin over these while no manager card was stored through PUT /v1/managers/{id}.
    managers: list[str] = ["manager-1", "manager-2"]
    assignment_rules: list[AssignmentRuleSetting] = []
    # Allowed reasons to lose a deal, for pipelines that define none of their own.
    lost_reasons: list[str] = list(DEFAULT_LOST_REASONS)
    snapshot_interval: int = 50
    # Phones typed without a country code (in a client search) are read in this region.
    default_phone_region: str = "RU"
    relay_batch: int = 500
    # Leads fetched at once from the bus and opened in one transaction (one commit, one
    # round-robin counter event); a batch that fails is retried lead by lead.
    lead_batch: int = 50
    # While leads keep coming (a fetch found them waiting), how long a short batch waits for
    # more: fewer, larger transactions, each one commit to disk. A lone lead never waits.
    lead_linger_seconds: float = Field(default=0.05, ge=0, le=1)
    publish_timeout: float = 5.0
    # Saves of other processes on SQLite are seen by polling this often (PostgreSQL notifies).
    relay_idle_poll: float = 0.5
    # The read model of the lists also follows saves of other processes this often.
    read_model_idle_poll: float = 1.0
    # Under a stream of saves the relay and the read model start a batch at most this often,
    # so that their own commits are shared by many saves rather than added to each one.
    relay_min_interval: float = 0.02
    read_model_min_interval: float = 0.2
    # Under a stream of saves the relay stores its position at most this often (at once when
    # idle or stopping); a crash re-publishes what was acked since, which JetStream drops.
    relay_tracking_interval: float = 0.5
    # Fault injection for tests only: seconds between JetStream's ack and the tracking write.
    relay_hold_before_tracking: float = 0.0
