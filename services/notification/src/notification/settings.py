from pydantic_settings import SettingsConfigDict

from crm_contracts.runtime.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    """Environment variables prefixed `NOTIFICATION_`. Until managers are data (a later issue),
    their e-mail addresses come from here: `manager_emails` maps manager id → address, and
    `default_manager_email` covers the rest."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_")

    port: int = 8003
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "crm@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    manager_emails: dict[str, str] = {}
    default_manager_email: str = "sales@localhost"
    deal_url_template: str = "http://127.0.0.1:8002/v1/deals/{deal_id}"
    sent_ttl_days: int = 30
