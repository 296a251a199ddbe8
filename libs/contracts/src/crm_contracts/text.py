"""Text that people send us. No person types a NUL character, and PostgreSQL cannot store one
in a text column, so an input model refuses it with a 422 naming the field, before anything
is written."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError

NUL = "\x00"


def refuse_nul(value: Any) -> Any:
    """The value unchanged; a validation error when any text inside it holds a NUL character."""
    if isinstance(value, str):
        if NUL in value:
            raise PydanticCustomError("nul_character", "contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key)
            refuse_nul(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            refuse_nul(item)
    return value


class NulFree(BaseModel):
    """Base of input bodies: every text field, nested lists and maps included, is NUL-free."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return refuse_nul(value)
