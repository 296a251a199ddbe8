"""SQL fragments: a text and the parameters it binds, composed without string formatting.

One convention for every statement of the service: `{db}` is the analytics database (the
ClickHouse adapter puts its name in when it runs the statement), `{name:Type}` is a bound
parameter (its value travels in `params`), and in a template `{name}` without a type is a
slot that `fill` puts a fragment into. So no text is ever passed through `str.format` or an
f-string, and a fragment's parameters always come with its text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
TRUE = "1"  # the condition of no filter


@dataclass(frozen=True)
class Sql:
    text: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def equals(column: str, name: str, value: Any, type_: str = "String") -> Sql:
        """`column = {name:Type}`, bound to `value`."""
        return Sql(column + " = " + placeholder(name, type_), {name: value})

    def bind(self, **params: Any) -> Sql:
        return Sql(self.text, _merged(self.params, params))

    def fill(self, **parts: Sql | str) -> Sql:
        """The template with each named `{slot}` replaced by its fragment (and the fragment's
        parameters joined in); `{db}`, `{name:Type}` and slots not named stay as they are.
        A plain string part is SQL text of ours (a column name, a function), never input."""
        params = dict(self.params)

        def put(match: re.Match[str]) -> str:
            part = parts.get(match.group(1))
            if part is None:
                return match.group(0)
            if isinstance(part, Sql):
                params.update(_merged(params, part.params))
                return part.text
            return part

        return Sql(SLOT.sub(put, self.text), params)

    def __and__(self, other: Sql) -> Sql:
        """Both conditions (a side that is `TRUE` drops out)."""
        return Sql.all((self, other))

    @staticmethod
    def all(conditions: Iterable[Sql]) -> Sql:
        """The conditions joined by AND; `1` (true) when there are none."""
        kept = [c for c in conditions if c.text != TRUE]
        if not kept:
            return Sql(TRUE)
        params: dict[str, Any] = {}
        for condition in kept:
            params = _merged(params, condition.params)
        return Sql(" AND ".join(c.text for c in kept), params)


def placeholder(name: str, type_: str) -> str:
    """`{name:Type}`, for a parameter whose name is made in code (a filter's `f_channel`)."""
    return "{" + name + ":" + type_ + "}"


def _merged(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """Both parameter sets; one name bound to two values is a bug in the composition."""
    for name, value in right.items():
        if name in left and left[name] != value:
            raise ValueError(f"parameter {name!r} bound to {left[name]!r} and {value!r}")
    return {**left, **right}
