from pathlib import Path
from typing import Literal

from pydantic_settings import SettingsConfigDict

from crm_contracts.runtime.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Environment variables prefixed `LEAD_INTAKE_` (e.g. `LEAD_INTAKE_PORT=8001`)."""

    model_config = SettingsConfigDict(env_prefix="LEAD_INTAKE_")

    port: int = 8001
    api_key: str = "dev-api-key"  # operator API (forms)
    integration_api_key: str = "dev-api-key"  # POST /v1/leads (header X-API-Key)
    data_dir: Path = Path(".run/lead_intake")  # the spool lives here
    publish_timeout: float = 2.0  # no JetStream ack within this → the lead goes to the spool
    # Fault injection for tests only: the process dies between JetStream's ack and the key write.
    test_crash_after_publish: bool = False
    default_phone_region: str = "RU"
    max_body_bytes: int = 64 * 1024
    min_fill_seconds: float = 2.0  # a form posted sooner after render is a bot
    # "shared": every replica spends from the same token buckets (NATS KV; a round trip per
    # allowed form submission). "local": each replica has its own, so N replicas allow N times
    # the rate. Shared is the default: a limit means what it says however many replicas run.
    rate_limits: Literal["shared", "local"] = "shared"
    rate_per_ip_per_minute: float = 30
    rate_burst_per_ip: int = 10
    rate_per_form_per_minute: float = 600
    rate_burst_per_form: int = 100
    idempotency_hours: float = 24
    # Submission keys each replica keeps in memory (~200 bytes each); past this, a key it does
    # not hold costs a NATS KV read.
    idempotency_cached_keys: int = 200_000
    forms_refresh_seconds: float = 5.0  # how soon other replicas see an edited form
    drain_batch: int = 200
