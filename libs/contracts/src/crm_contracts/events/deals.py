"""Events of the deal-pipeline context."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from crm_contracts.envelope import Event

DealStatus = Literal["open", "won", "lost"]


class DealOpened(Event):
    SUBJECT: ClassVar[str] = "crm.deals.opened"

    event_type: Literal["deal.opened"] = "deal.opened"
    deal_id: str
    lead_id: str | None = None
    pipeline_id: str
    stage: str
    title: str = ""
    manager_id: str | None = None
    client_id: str | None = None
    amount: Decimal = Field(default=Decimal("0"), ge=0)
    currency: str = "RUB"


class DealStageChanged(Event):
    """A move between stages; carries where the deal came from so a projection can close the
    previous stay without reading its own state."""

    SUBJECT: ClassVar[str] = "crm.deals.stage_changed"

    event_type: Literal["deal.stage_changed"] = "deal.stage_changed"
    deal_id: str
    pipeline_id: str
    from_stage: str
    to_stage: str
    from_stage_entered_at: AwareDatetime | datetime
    from_stage_entered_version: int = Field(ge=1)
    status: DealStatus = "open"
    lost_reason: str | None = None
