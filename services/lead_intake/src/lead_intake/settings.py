from pydantic_settings import SettingsConfigDict

from crm_contracts.runtime.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Environment variables prefixed `LEAD_INTAKE_` (e.g. `LEAD_INTAKE_PORT=8001`)."""

    model_config = SettingsConfigDict(env_prefix="LEAD_INTAKE_")

    port: int = 8001
    publish_timeout: float = 2.0
    default_phone_region: str = "RU"
