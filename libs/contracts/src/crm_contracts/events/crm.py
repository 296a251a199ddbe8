"""Events about clients, managers, plans and pipelines (reference data of the deal pipeline)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from crm_contracts.envelope import Event
from crm_contracts.events.deals import Requisites
from crm_contracts.pipelines import Stage


class ClientRegistered(Event):
    """A new client, found by none of its phone and e-mail. Contacts are raw here (the bus is
    internal); analytics stores only salted hashes of them."""

    SUBJECT: ClassVar[str] = "crm.clients.registered"

    event_type: Literal["client.registered"] = "client.registered"
    client_id: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    lead_id: str | None = Field(default=None, description="The lead it was registered from")
    requisites: Requisites = Field(default_factory=Requisites)


class ClientUpdated(Event):
    """The client card now (contacts, requisites): the latest one is in force."""

    SUBJECT: ClassVar[str] = "crm.clients.updated"

    event_type: Literal["client.updated"] = "client.updated"
    client_id: str
    name: str | None = None
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    telegram_chat_id: str | None = None
    timezone: str | None = None
    requisites: Requisites = Field(default_factory=Requisites)


class ManagerUpdated(Event):
    """The manager card now; the latest one is in force."""

    SUBJECT: ClassVar[str] = "crm.managers.updated"

    event_type: Literal["manager.updated"] = "manager.updated"
    manager_id: str
    name: str
    email: str | None = None
    telegram_chat_id: str | None = None
    phone: str | None = None
    timezone: str = "Europe/Moscow"
    active: bool = True
    role: Literal["manager", "head"] = "manager"


class PlanSet(Event):
    SUBJECT: ClassVar[str] = "crm.plans.set"

    event_type: Literal["plan.set"] = "plan.set"
    manager_id: str
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    amount: Decimal = Field(ge=0)
    currency: str = "RUB"


class PipelineDefined(Event):
    """A pipeline's definition now (created or edited); history is never rewritten by it."""

    SUBJECT: ClassVar[str] = "crm.pipelines.defined"

    event_type: Literal["pipeline.defined"] = "pipeline.defined"
    pipeline_id: str
    name: str = ""
    stages: list[Stage]
    lost_reasons: list[str] = Field(default_factory=list)
