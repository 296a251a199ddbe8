"""Signed, expiring session tokens for the browser: `<payload>.<signature>`, the payload
base64url JSON `{"user", "role", "exp"}` and the signature its HMAC-SHA256 under the
service's session secret. Nothing is stored server-side, so any replica sharing the secret
accepts the token; a changed byte or a passed `exp` makes it invalid."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["viewer", "operator"]
INVALID = "invalid session"
EXPIRED = "session expired"


class SessionRefused(ValueError):
    """The token is not one we signed, or no longer valid; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Session:
    user: str
    role: Role
    exp: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def issue(secret: bytes, user: str, role: Role, ttl_seconds: int, now: float | None = None) -> str:
    exp = int(time.time() if now is None else now) + ttl_seconds
    body = json.dumps({"user": user, "role": role, "exp": exp}, separators=(",", ":"))
    payload = _b64(body.encode())
    return f"{payload}.{_sign(secret, payload)}"


def read(secret: bytes, token: str, now: float | None = None) -> Session:
    """The session of a token we signed that has not expired, else SessionRefused."""
    payload, _, signature = token.partition(".")
    if not hmac.compare_digest(signature.encode(), _sign(secret, payload).encode()):
        raise SessionRefused(INVALID)
    try:
        data = json.loads(_unb64(payload))
        session = Session(str(data["user"]), data["role"], int(data["exp"]))
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise SessionRefused(INVALID) from None  # signed by us, so only an old format
    if session.role not in get_args(Role):
        raise SessionRefused(INVALID)
    if (time.time() if now is None else now) >= session.exp:
        raise SessionRefused(EXPIRED)
    return session
