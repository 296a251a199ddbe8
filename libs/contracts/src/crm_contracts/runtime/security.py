"""API key check for operator and command endpoints (header `X-API-Key`)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Header, HTTPException


def api_key_required(expected: str) -> Callable[[str | None], None]:
    def check(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if x_api_key is None:
            raise HTTPException(
                401,
                {
                    "error": "unauthorized",
                    "errors": [{"field": "X-API-Key", "reason": "header missing"}],
                },
            )
        if not hmac.compare_digest(x_api_key.encode(), expected.encode()):
            raise HTTPException(
                403,
                {"error": "forbidden", "errors": [{"field": "X-API-Key", "reason": "wrong key"}]},
            )

    return check
