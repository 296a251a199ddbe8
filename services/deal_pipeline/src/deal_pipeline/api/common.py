"""What every route shares: running a use case off the event loop, and the error answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from crm_contracts.runtime.errors import rejection
from deal_pipeline.application import DealsApp
from deal_pipeline.domain.errors import DomainError, Invalid, NotFound

T = TypeVar("T")


def domain_error_response(exc: DomainError) -> JSONResponse:
    """No such thing: 404; the input breaks a rule: 422; the state forbids it: 409."""
    status = 404 if isinstance(exc, NotFound) else 422 if isinstance(exc, Invalid) else 409
    return rejection(status, type(exc).__name__, [{"field": exc.field, "reason": exc.reason}])


async def run(request: Request, use_case: Callable[[DealsApp], T]) -> T:
    """Use cases block on the event store: run them in a worker thread."""
    app: DealsApp = request.app.state.deals
    return await asyncio.to_thread(use_case, app)
