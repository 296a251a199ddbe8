"""Contact identifiers for analysts: salted SHA-256, never the raw phone or e-mail."""

from __future__ import annotations

import hashlib


def contact_hash(value: str | None, salt: str) -> str:
    if not value:
        return ""
    return hashlib.sha256(f"{salt}:{value.strip().lower()}".encode()).hexdigest()
