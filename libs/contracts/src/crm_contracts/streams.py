"""JetStream stream definitions, declared idempotently by every service at start."""

from __future__ import annotations

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from crm_contracts import subjects

CRM = "CRM"
CRM_DLQ = "CRM_DLQ"
CRM_REMINDERS = "CRM_REMINDERS"
REMINDERS_PREFIX = "crmrem"  # crmrem.schedule.<key> holds a schedule, crmrem.due.<key> its firing
DAY = 24 * 3600


def stream_configs(replicas: int = 1, retention_days: int = 3650) -> list[StreamConfig]:
    """`CRM` keeps every event long enough to rebuild analytics from scratch."""
    return [
        StreamConfig(
            name=CRM,
            subjects=[subjects.ALL],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_age=float(retention_days * DAY),
            duplicate_window=float(5 * 60),
            num_replicas=replicas,
        ),
        StreamConfig(
            name=CRM_DLQ,
            subjects=[f"{subjects.DLQ_PREFIX}.>"],
            storage=StorageType.FILE,
            max_age=float(90 * DAY),
            duplicate_window=float(5 * 60),
            num_replicas=replicas,
        ),
        StreamConfig(  # JetStream message schedules: delayed sends of the notification service
            name=CRM_REMINDERS,
            subjects=[f"{REMINDERS_PREFIX}.>"],
            storage=StorageType.FILE,
            max_age=float(400 * DAY),
            duplicate_window=float(5 * 60),
            num_replicas=replicas,
            allow_msg_schedules=True,
        ),
    ]


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    for config in stream_configs(replicas):
        assert config.name is not None  # every config above is named
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)
