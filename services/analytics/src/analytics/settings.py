from pathlib import Path
from typing import Literal

from pydantic_settings import SettingsConfigDict

from crm_contracts.runtime.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    """Environment variables prefixed `ANALYTICS_`. `clickhouse_mode=chdb` runs the ClickHouse
    engine in-process (one data path per process); `http` talks to a ClickHouse server."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_")

    port: int = 8004
    clickhouse_mode: Literal["chdb", "http"] = "chdb"
    chdb_path: Path = Path(".run/analytics/chdb")
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 8123
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    database: str = "crm"
    tz: str = "UTC"
    batch_size: int = 1000
    batch_timeout: float = 0.2
