"""Settings every service has; each service subclasses with its own env prefix and port."""

from pydantic_settings import BaseSettings


class ServiceSettings(BaseSettings):
    host: str = "127.0.0.1"
    port: int
    nats_url: str = "nats://127.0.0.1:4222"
    stream_replicas: int = 1  # 3 on a NATS cluster
    log_level: str = "INFO"
