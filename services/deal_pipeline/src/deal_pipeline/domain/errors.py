"""Domain errors: each names a rule a command broke."""


class DomainError(Exception):
    """Base of refused commands; nothing is stored when one is raised."""


class DealClosed(DomainError):
    """The deal is won or lost: reopen it before changing it."""


class UnknownStage(DomainError):
    """The stage is not in the deal's pipeline."""


class DealNotFound(DomainError):
    """No deal has this id."""
