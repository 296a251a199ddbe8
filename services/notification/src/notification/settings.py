from pydantic_settings import SettingsConfigDict

from crm_contracts.runtime.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    """Environment variables prefixed `NOTIFICATION_`. Every secret (SMTP password, bot token,
    SMS key, webhook secret) comes only from here, never from a rule.

    Addresses of managers and clients come from the directory fed by `ManagerUpdated`,
    `ClientRegistered` and `ClientUpdated`; `manager_emails` (manager id → address) and
    `default_manager_email` remain as the fallback for managers the directory does not know,
    and `heads_of_sales` (e-mail addresses) for when no manager has the role `head`."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_")

    port: int = 8003
    api_key: str = "dev-api-key"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "crm@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    # Sessions to the SMTP server kept open between sends (at most this many at once), and
    # how long one may sit idle and still be reused (servers drop idle ones after minutes).
    smtp_connections: int = 4
    smtp_idle_seconds: float = 30.0

    # Channels without their settings are off: their rules end as `skipped`, not as errors.
    telegram_base_url: str = "https://api.telegram.org"
    telegram_bot_token: str | None = None
    sms_gateway_url: str | None = None
    sms_api_key: str | None = None
    sms_sender: str = "CRM"
    webhook_url: str | None = None  # for webhook rules without fixed recipients
    webhook_secret: str | None = None
    http_timeout: float = 10.0

    manager_emails: dict[str, str] = {}
    default_manager_email: str | None = "sales@localhost"
    heads_of_sales: list[str] = []

    analytics_url: str = "http://127.0.0.1:8004"
    analytics_api_key: str = "dev-viewer-key"  # a viewer key of analytics, for the digests
    # The deal's page on the analytics dashboard (ANALYTICS_PUBLIC_URL), which people can open.
    deal_url_template: str = "http://127.0.0.1:8004/?page=deal&id={deal_id}"
    default_timezone: str = "Europe/Moscow"
    default_language: str = "en"
    recipient_salt: str = "crm-dev-salt"  # for recipient_hash in crm.notifications.*

    # The events consumer takes up to this many at a time (its directory updates run at once,
    # then its plans), waiting at most `events_batch_wait_seconds` for a batch to fill.
    events_batch_size: int = 100
    events_batch_wait_seconds: float = 0.1
    # How long a fetched batch is ours: after a crash, its events are planned by another
    # replica within this time (plans made twice are dropped as repeats).
    events_ack_wait_seconds: float = 60.0
    delivery_attempts: int = 5  # tries per send before `failed`
    retry_base_seconds: float = 1.0  # 1, 2, 4, 8 s … between tries (JetStream redelivery)
    retry_max_seconds: float = 60.0
    # How long a send in flight holds its reminder: the process says "still working" every
    # third of it, so after a crash the reminder comes back (and is sent) within this time.
    due_ack_wait_seconds: float = 30.0
    # A message that went out keeps trying to record so for this long (a bus outage): else
    # a retry after the lease would send it twice.
    settle_seconds: float = 600.0
    log_ttl_days: int = 30  # delivery log and idempotency keys
    seed_default_rules: bool = True  # when the rules bucket is empty at start
