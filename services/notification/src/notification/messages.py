"""What a notification says: built from an event, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from crm_contracts.events import DealOpened


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    body: str


def deal_opened_email(event: DealOpened, to: str, deal_url: str) -> EmailMessage:
    amount = f"{event.amount} {event.currency}" if event.amount else "not set yet"
    body = (
        f"A new deal is yours: {event.title}\n\n"
        f"Stage: {event.stage}\n"
        f"Amount: {amount}\n"
        f"Opened: {event.occurred_at:%Y-%m-%d %H:%M} UTC\n"
        f"Deal: {deal_url}\n"
    )
    return EmailMessage(to=to, subject=f"New deal: {event.title}", body=body)
