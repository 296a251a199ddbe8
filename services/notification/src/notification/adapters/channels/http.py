"""POSTing to an HTTP API and sorting failures into retry-worthy and final."""

from __future__ import annotations

import httpx

from notification.domain.deliveries import SendError


async def post(
    url: str,
    *,
    timeout: float,
    what: str,
    content: bytes | None = None,
    json: object = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(url, content=content, json=json, headers=headers)
    except httpx.TimeoutException as exc:
        raise SendError(f"{what}: timeout ({type(exc).__name__})", transient=True) from exc
    except httpx.TransportError as exc:
        raise SendError(f"{what}: {type(exc).__name__}: {exc}", transient=True) from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise SendError(f"{what}: HTTP {response.status_code}", transient=True)
    if response.status_code >= 400:
        raise SendError(
            f"{what}: HTTP {response.status_code} {response.text[:200]}", transient=False
        )
    return response
