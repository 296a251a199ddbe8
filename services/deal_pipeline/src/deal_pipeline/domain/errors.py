"""Domain errors: each names a rule a command broke. Nothing is stored when one is raised.

Three kinds, members of the shared refusal family so that every adapter answers them the same
way: `NotFound` (no such thing: 404), `Conflict` (the current state forbids it: 409) and
`Invalid` (the input names something unknown or breaks a rule about values: 422). The answer's
`error` code is the class name, as clients have always seen it (e.g. "DealClosed")."""

from __future__ import annotations

from typing import Any

from crm_contracts.runtime.errors import Conflict as SharedConflict
from crm_contracts.runtime.errors import Invalid as SharedInvalid
from crm_contracts.runtime.errors import NotFound as SharedNotFound
from crm_contracts.runtime.errors import ServiceError


class DomainError(ServiceError):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "error" not in cls.__dict__:  # a class may keep an older code of its own
            cls.error = cls.__name__


class NotFound(DomainError, SharedNotFound):
    pass


class Conflict(DomainError, SharedConflict):
    pass


class Invalid(DomainError, SharedInvalid):
    pass


class DealNotFound(NotFound):
    """No deal has this id."""


class ClientNotFound(NotFound):
    pass


class ManagerNotFound(NotFound):
    pass


class PipelineNotFound(NotFound):
    pass


class PlanNotFound(NotFound):
    pass


class TaskNotFound(NotFound):
    pass


class DealClosed(Conflict):
    """The deal is won or lost: reopen it before changing it."""


class DealNotClosed(Conflict):
    """Only a won or lost deal can be reopened."""


class DealIsLost(Conflict):
    """A lost deal takes no invoices or payments. (Not `DealLost`: that is the event.)"""

    error = "DealLost"  # the code clients have been answered with


class TaskClosed(Conflict):
    """The task is already completed or cancelled."""


class ContactTaken(Conflict):
    """The phone or e-mail already belongs to another client."""


class UnknownStage(Invalid):
    """The stage is not in the deal's pipeline."""


class UnknownManager(Invalid):
    """No active manager has this id."""


class UnknownPipeline(Invalid):
    pass


class UnknownClient(Invalid):
    pass


class UnknownInvoice(Invalid):
    pass


class UnknownLostReason(Invalid):
    pass


class InvalidValue(Invalid):
    """An amount, currency, date, contact or definition that breaks a rule on values."""
