"""Domain errors: each names a rule a command broke. Nothing is stored when one is raised.

Three kinds, so that adapters can answer without knowing every rule: `NotFound` (no such
thing), `Refused` (the current state forbids it: a conflict) and `Invalid` (the input names
something unknown or breaks a rule about values)."""


class DomainError(Exception):
    def __init__(self, reason: str, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class NotFound(DomainError):
    pass


class Refused(DomainError):
    pass


class Invalid(DomainError):
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


class DealClosed(Refused):
    """The deal is won or lost: reopen it before changing it."""


class DealNotClosed(Refused):
    """Only a won or lost deal can be reopened."""


class DealLost(Refused):
    """A lost deal takes no invoices or payments."""


class TaskClosed(Refused):
    """The task is already completed or cancelled."""


class ContactTaken(Refused):
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
