from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class PipelineSettings(BaseSettings):
    """Environment variables prefixed `DEAL_PIPELINE_`. The event store itself is chosen by the
    `eventsourcing` library's own variables (`PERSISTENCE_MODULE`, `SQLITE_DBNAME`,
    `POSTGRES_*`); when none is set, a SQLite file under `data_dir` is used."""

    model_config = SettingsConfigDict(env_prefix="DEAL_PIPELINE_")

    host: str = "127.0.0.1"
    port: int = 8002
    nats_url: str = "nats://127.0.0.1:4222"
    data_dir: Path = Path(".run/deal_pipeline")
    api_key: str = "dev-api-key"
    managers: list[str] = ["manager-1", "manager-2"]
    relay_batch: int = 500
    publish_timeout: float = 5.0
    log_level: str = "INFO"
