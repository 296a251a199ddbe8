"""Events about clients, managers, plans and pipelines (reference data of the deal pipeline)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from crm_contracts.envelope import Event
from crm_contracts.events.deals import Requisites
from crm_contracts.pipelines import Stage

ManagerRole = Literal["manager", "head"]  # "head": a head of sales (digests, escalations)


class ClientRegistered(Event):
    """A new client, found by none of its phone and e-mail. Contacts are raw here (the bus is
    internal); analytics stores only salted hashes of them."""

    SUBJECT: ClassVar[str] = "crm.clients.registered"

    event_type: Literal["client.registered"] = "client.registered"
    client_id: str = Field(description="The client.")
    name: str | None = Field(default=None, description="Name.")
    phone: str | None = Field(default=None, description="E.164.")
    email: str | None = Field(default=None, description="Lower-cased.")
    lead_id: str | None = Field(default=None, description="The lead it was registered from")
    requisites: Requisites = Field(default_factory=Requisites, description="Legal details.")


class ClientUpdated(Event):
    """The client card now (contacts, requisites): the latest one is in force."""

    SUBJECT: ClassVar[str] = "crm.clients.updated"

    event_type: Literal["client.updated"] = "client.updated"
    client_id: str = Field(description="The client.")
    name: str | None = Field(default=None, description="Name.")
    phones: list[str] = Field(default_factory=list, description="All its phones (E.164).")
    emails: list[str] = Field(default_factory=list, description="All its e-mails.")
    telegram_chat_id: str | None = Field(default=None, description="Where Telegram messages go.")
    timezone: str | None = Field(
        default=None, description="IANA zone for reminders and quiet hours."
    )
    requisites: Requisites = Field(default_factory=Requisites, description="Legal details.")


class ManagerUpdated(Event):
    """The manager card now; the latest one is in force."""

    SUBJECT: ClassVar[str] = "crm.managers.updated"

    event_type: Literal["manager.updated"] = "manager.updated"
    manager_id: str = Field(description="The manager's own id (anna).")
    name: str = Field(description="Display name.")
    email: str | None = Field(default=None, description="E-mail address.")
    telegram_chat_id: str | None = Field(default=None, description="Telegram chat.")
    phone: str | None = Field(default=None, description="Phone for SMS.")
    timezone: str = Field(default="Europe/Moscow", description="IANA zone.")
    active: bool = Field(default=True, description="Takes new deals in round robin.")
    role: ManagerRole = Field(default="manager", description="A head gets the digests.")


class PlanSet(Event):
    SUBJECT: ClassVar[str] = "crm.plans.set"

    event_type: Literal["plan.set"] = "plan.set"
    manager_id: str = Field(description="Whose plan.")
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    amount: Decimal = Field(ge=0, description="Revenue planned for the month.")
    currency: str = Field(default="RUB", description="Its currency.")


class PipelineDefined(Event):
    """A pipeline's definition now (created or edited); history is never rewritten by it."""

    SUBJECT: ClassVar[str] = "crm.pipelines.defined"

    event_type: Literal["pipeline.defined"] = "pipeline.defined"
    pipeline_id: str = Field(description="The pipeline.")
    name: str = Field(default="", description="Display name.")
    stages: list[Stage] = Field(description="Ordered stages.")
    lost_reasons: list[str] = Field(
        default_factory=list, description="Allowed reasons to lose a deal."
    )
