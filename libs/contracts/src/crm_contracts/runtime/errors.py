"""The one family of refusals every service raises, and the one body they all answer with:
`{"error": <code>, "errors": [{"field", "reason"}, ...]}`.

Pure Python (no web framework), so domain code raises these directly; `http_errors` turns them
into responses. Each kind carries its status; a service may name its own `error` code (a
subclass attribute, or `error=` for one refusal) and add response headers (`Retry-After`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar, Self, TypedDict


class Problem(TypedDict):
    field: str
    reason: str


class ServiceError(Exception):
    """A request refused for a reason its sender can act on; never a 5xx."""

    status: ClassVar[int] = 400
    error: str = "bad_request"

    def __init__(
        self,
        reason: str,
        field: str = "",
        *,
        error: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field
        self.problems: list[Problem] = [{"field": field, "reason": reason}]
        if error is not None:
            self.error = error
        self.http_status = status or self.status
        self.headers = dict(headers or {})

    @classmethod
    def of(
        cls,
        problems: Iterable[tuple[str, str]],
        *,
        error: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Self:
        """One refusal naming several fields (`(field, reason)` pairs)."""
        listed = [Problem(field=f, reason=r) for f, r in problems][:MAX_PROBLEMS]
        first = listed[0] if listed else Problem(field="", reason="refused")
        refusal = cls(first["reason"], first["field"], error=error, status=status, headers=headers)
        refusal.problems = listed or refusal.problems
        return refusal

    def body(self) -> dict[str, object]:
        return {"error": self.error, "errors": list(self.problems)}


MAX_PROBLEMS = 50  # enough to fix a whole file in one go, small enough to read


class Invalid(ServiceError, ValueError):
    """The input breaks a rule about values or names something unknown: 422.

    Also a `ValueError`, so a pydantic validator may raise it and parsers that catch
    `ValueError` keep working."""

    status = 422
    error = "validation_failed"


class NotFound(ServiceError):
    """No such thing: 404."""

    status = 404
    error = "not_found"


class Conflict(ServiceError):
    """The current state forbids it: 409."""

    status = 409
    error = "conflict"


class Refused(ServiceError):
    """Policy says no: a key, an origin, a rate, a size, a media type (pass `status=`); 403."""

    status = 403
    error = "refused"


class Unavailable(ServiceError):
    """A dependency is down; the same request may succeed later: 503."""

    status = 503
    error = "unavailable"
