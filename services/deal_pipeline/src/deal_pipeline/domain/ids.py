"""Ids derived from names (a deal's from its lead, a contact index's from the contact), each
hashed once: a batch of leads asks for them when it looks up which exist and again when it
creates them (the library calls `create_id` itself), a uuid5 of a few microseconds each."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

from crm_contracts.envelope import derived_id


@lru_cache(maxsize=8192)
def derived(*parts: str) -> UUID:
    return derived_id(*parts)
