"""API key check for operator and command endpoints (header `X-API-Key`)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header

from crm_contracts.runtime.errors import Refused


def api_key_required(expected: str) -> Callable[[str | None], Awaitable[None]]:
    # async: FastAPI runs a plain function dependency in its thread pool, on every request.
    async def check(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if x_api_key is None:
            raise Refused("header missing", "X-API-Key", status=401, error="unauthorized")
        if not hmac.compare_digest(x_api_key.encode(), expected.encode()):
            raise Refused("wrong key", "X-API-Key", error="forbidden")

    return check
