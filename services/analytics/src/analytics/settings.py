from pathlib import Path
from typing import Literal

from pydantic_settings import SettingsConfigDict

from analytics.projection.config import ProjectionConfig
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
    hash_salt: str = "dev-salt-change-me"  # contact hashes for analysts; keep secret and fixed
    own_hosts: list[str] = []  # your sites: a referrer from them is not a referral
    medium_map: dict[str, str] = {}  # explicit utm_medium → channel
    source_map: dict[str, str] = {}  # explicit utm_source → channel
    attribution_lookback_days: int = 90
    time_decay_half_life_days: float = 7.0
    base_currency: str = "RUB"
    batch_size: int = 5000
    batch_timeout: float = 0.2
    api_key: str = "dev-api-key"  # operator endpoints: ad spend, rates, SQL, rebuild
    max_import_bytes: int = 5_000_000  # body limit of ad spend and rate imports
    # POST /v1/sql: limits of one analyst query; in http mode an `analyst` user with a
    # read-only profile (deploy/clickhouse/) when clickhouse_analyst_user is set.
    sql_max_result_rows: int = 10_000
    sql_max_execution_seconds: float = 10.0
    clickhouse_analyst_user: str = ""
    clickhouse_analyst_password: str = ""
    lag_refresh_seconds: float = 5.0  # consumer lag and DLQ size gauges in /metrics
    rebuild_batch_size: int = 5000  # events per INSERT batch while replaying the stream

    def projection_config(self) -> ProjectionConfig:
        return ProjectionConfig(
            hash_salt=self.hash_salt,
            own_hosts=tuple(h.lower() for h in self.own_hosts),
            medium_map={k.lower(): v for k, v in self.medium_map.items()},
            source_map={k.lower(): v for k, v in self.source_map.items()},
        )
