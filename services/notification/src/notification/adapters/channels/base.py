"""The one interface every channel implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Outgoing:
    to: str  # address on the channel: e-mail, chat id, E.164 phone, URL
    subject: str
    text: str
    delivery_id: str
    meta: dict[str, Any] = field(default_factory=dict)  # rule, event: for webhooks


class Channel(Protocol):
    name: str

    @property
    def configured(self) -> str | None:
        """None when usable, else why not (a rule on an unconfigured channel is skipped)."""

    async def send(self, message: Outgoing) -> None:
        """Raises `SendError` (transient or not) when the message was not accepted."""
