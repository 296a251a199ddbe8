from pathlib import Path

from pydantic_settings import SettingsConfigDict

from crm_contracts.runtime.settings import ServiceSettings


class PipelineSettings(ServiceSettings):
    """Environment variables prefixed `DEAL_PIPELINE_`. The event store itself is chosen by the
    `eventsourcing` library's own variables (`PERSISTENCE_MODULE`, `SQLITE_DBNAME`,
    `POSTGRES_*`); when none is set, a SQLite file under `data_dir` is used."""

    model_config = SettingsConfigDict(env_prefix="DEAL_PIPELINE_")

    port: int = 8002
    data_dir: Path = Path(".run/deal_pipeline")
    api_key: str = "dev-api-key"
    managers: list[str] = ["manager-1", "manager-2"]
    relay_batch: int = 500
    publish_timeout: float = 5.0
