from pydantic_settings import BaseSettings, SettingsConfigDict


class IntakeSettings(BaseSettings):
    """Environment variables prefixed `LEAD_INTAKE_` (e.g. `LEAD_INTAKE_PORT=8001`)."""

    model_config = SettingsConfigDict(env_prefix="LEAD_INTAKE_")

    host: str = "127.0.0.1"
    port: int = 8001
    nats_url: str = "nats://127.0.0.1:4222"
    publish_timeout: float = 2.0
    default_phone_region: str = "RU"
    log_level: str = "INFO"
