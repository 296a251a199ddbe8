import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from analytics.domain.auth.passwords import parse_hash
from analytics.domain.auth.sessions import Role
from analytics.domain.projection.config import ProjectionConfig
from crm_contracts.runtime.settings import ServiceSettings

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
REPLICA = re.compile(r"[A-Za-z0-9_-]{1,32}")


class DashboardUser(BaseModel):
    password: str  # `python -m analytics.passwords` prints it: scrypt$N$r$p$salt$hash
    role: Role = "viewer"

    @field_validator("password")
    @classmethod
    def _a_hash(cls, value: str) -> str:
        try:
            parse_hash(value)
        except ValueError as exc:  # a plain password here would never match: say so at start
            raise ValueError(f"{exc}; make one with `python -m analytics.passwords`") from None
        return value


class AnalyticsSettings(ServiceSettings):
    """Environment variables prefixed `ANALYTICS_`. `clickhouse_mode=chdb` runs the ClickHouse
    engine in-process (one data path per process); `http` talks to a ClickHouse server.

    Who may do what: reports and drill-down need a viewer — `X-API-Key` equal to
    `viewer_api_key` (machines such as the notification digests) or to the operator `api_key`,
    or a browser session; imports, SQL and rebuild need an operator — `api_key` or a session
    of an account with role `operator`. Browser accounts are `dashboard_users`, JSON
    `{"anna": {"password": "<hash>", "role": "viewer"}}`; without any, `/login` and the
    dashboard answer 503 while the API keeps working. Sessions are cookies signed with
    `session_secret`: leave it empty and each process makes a random one (sessions end on
    restart); replicas behind one address need the same secret."""

    # A refused value is not echoed: it may be a password or key put in the wrong place.
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", hide_input_in_errors=True)

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
    batch_size: int = 20_000
    batch_timeout: float = 0.2
    # Latest deal, task and client rows kept in memory per table (LRU); a key not kept is
    # folded again from its stored history when it next changes. ~1 KiB each.
    projection_cache_keys: int = Field(default=100_000, ge=1)
    api_key: str = "dev-api-key"  # operator endpoints: ad spend, rates, SQL, rebuild
    viewer_api_key: str = "dev-viewer-key"  # reading reports and drill-down; empty: none
    dashboard_users: Annotated[dict[str, DashboardUser], NoDecode] = {}
    session_secret: str = ""
    session_ttl_seconds: int = 8 * 3600
    cookie_secure: bool = False  # true behind HTTPS: the browser then sends it only over TLS
    max_import_bytes: int = 5_000_000  # body limit of ad spend and rate imports
    # POST /v1/sql: limits of one analyst query; in http mode an `analyst` user with a
    # read-only profile (deploy/clickhouse/) when clickhouse_analyst_user is set.
    sql_max_result_rows: int = 10_000
    sql_max_execution_seconds: float = 10.0
    clickhouse_analyst_user: str = ""
    clickhouse_analyst_password: str = ""
    # Report answers kept while the data is unchanged (application/report_cache.py), each for
    # at most this long (0: none kept), in at most this much memory.
    report_cache_seconds: float = Field(default=10.0, ge=0)
    report_cache_megabytes: int = Field(default=128, ge=0)
    lag_refresh_seconds: float = 5.0  # consumer lag and DLQ size gauges in /metrics
    vitals_refresh_seconds: float = 30.0  # today's leads, wins and revenue in /metrics
    # Events per INSERT batch while replaying the stream: bigger than the live batch, as a
    # replay waits for no one and each batch pays a fixed cost (its twelve INSERTs).
    rebuild_batch_size: int = 20_000
    # ClickHouse's own HTTP interface for analysts' tools over the embedded engine (chdb mode
    # only; a server has its own): on when `clickhouse_http_users` (user → scrypt hash) is set.
    clickhouse_http_host: str = "127.0.0.1"  # 0.0.0.0 in a container
    clickhouse_http_port: int = 8123  # ClickHouse's HTTP port, so a stock client needs no port
    clickhouse_http_users: Annotated[dict[str, str], NoDecode] = {}
    # The operators' page /ops: the services it reads over HTTP (name → base URL),
    # nats-server's monitoring address (-m), the key of notification's delivery log.
    ops_services: dict[str, str] = {
        "lead-intake": "http://127.0.0.1:8001",
        "deal-pipeline": "http://127.0.0.1:8002",
        "notification": "http://127.0.0.1:8003",
        "analytics": "http://127.0.0.1:8004",
    }
    nats_monitor_url: str = "http://127.0.0.1:8222"
    ops_notification_api_key: str = "dev-api-key"
    ops_refresh_seconds: float = 4.0
    # Replicas (docs/operations.md). `own`: this replica keeps a full copy in its own store
    # through its own durable consumer `analytics_projection_<replica>`; `elected`: the
    # replicas share one store, and only the holder of the `analytics_writer` lease (NATS KV)
    # projects, through the shared consumer `analytics_projection`. Default: own with chDB,
    # elected with a server.
    projection_writer: Literal["own", "elected"] | None = None
    # This replica's name in its consumer's; empty: the store's own id (kept in the store, so
    # it lives and dies with the data: a wiped store starts a new consumer from the first event).
    replica: str = ""
    # An own consumer nobody has pulled from for this long is deleted by NATS (an abandoned
    # replica's); a replica away longer replays the whole stream when it comes back.
    own_consumer_inactive_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    # The writer's lease: renewed every third of it; a writer that has not renewed for half
    # of it stops consuming; a dead writer's lease expires after it, and a replica takes over
    # within about one more second.
    writer_lease_seconds: float = Field(default=6.0, ge=1.0)
    # How long a fetched batch may stay unacknowledged before NATS hands it out again (to the
    # next writer, when this one died holding it).
    projection_ack_wait: float = Field(default=30.0, gt=0)

    @field_validator("database")
    @classmethod
    def _an_identifier(cls, value: str) -> str:
        """It is spliced into SQL as `{db}` (names cannot be bound): a plain identifier only."""
        if not IDENTIFIER.fullmatch(value):
            raise ValueError("must be a plain identifier: a letter or _, then letters, digits, _")
        return value

    @field_validator("replica")
    @classmethod
    def _a_name_part(cls, value: str) -> str:
        """It becomes part of a consumer's name: letters, digits, `_` and `-` only."""
        if value and not REPLICA.fullmatch(value):
            raise ValueError("letters, digits, _ and - only, at most 32")
        return value

    def writer_mode(self) -> Literal["own", "elected"]:
        if self.projection_writer is not None:
            return self.projection_writer
        return "own" if self.clickhouse_mode == "chdb" else "elected"

    @field_validator("dashboard_users", "clickhouse_http_users", mode="before")
    @classmethod
    def _users_json(cls, value: Any) -> Any:
        """JSON from the environment; an empty variable (compose's `${X:-}`) means none."""
        if isinstance(value, str | bytes):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("clickhouse_http_users")
    @classmethod
    def _hashes(cls, value: dict[str, str]) -> dict[str, str]:
        for user, password in value.items():
            try:
                parse_hash(password)
            except ValueError as exc:  # a plain password would never match: say so at start
                raise ValueError(f"{user}: {exc}; use `python -m analytics.passwords`") from None
        return value

    def projection_config(self) -> ProjectionConfig:
        return ProjectionConfig(
            hash_salt=self.hash_salt,
            own_hosts=tuple(h.lower() for h in self.own_hosts),
            medium_map={k.lower(): v for k, v in self.medium_map.items()},
            source_map={k.lower(): v for k, v in self.source_map.items()},
        )
