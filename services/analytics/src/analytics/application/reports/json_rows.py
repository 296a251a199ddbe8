"""Long client lists (200 000 rows at 10 M events) written as JSON by the engine: each row is
orjson's own text of the row's shape with the engine's text of each value put in, so that
`report_bytes` writes the same bytes without a dict, a Decimal and a link made per row in
Python. A value whose text the engine could not write as orjson does (an id that JSON or a
link would escape, a share out of range) leaves its row empty: the report then reads the
list as values instead (`written`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from os.path import commonprefix
from typing import Any, overload

import orjson

from analytics.application.reports.sql import Sql, placeholder

MARK = "\ue000"  # a private-use character: where a value goes in orjson's text of the shape
MARKED = re.compile(MARK + "([0-9]+)" + MARK)


@dataclass(frozen=True)
class Value:
    sql: str  # the engine's text of the value, as `report_bytes` writes it
    quoted: bool = True  # a JSON string, else a number
    valid: str = "1"  # where the text is that


def text(column: str) -> Value:
    """An id or a name as it is: only text of the characters that neither JSON escapes nor a
    link quotes (`query.SAFE`)."""
    return Value(column, valid=f"match({column}, '^[A-Za-z0-9_.~-]*$')")


def integer(column: str) -> Value:
    return Value(f"toString({column})", quoted=False)


def amount(column: str) -> Value:
    """A Decimal with two places, as `report_bytes` writes it (quantized to the cent)."""
    return Value(f"toDecimalString({column}, 2)")


def instant(column: str) -> Value:
    """A DateTime64(3, 'UTC') as orjson writes the naive UTC date-time the driver reads: the
    microseconds only when there are any."""
    ms = f"toMillisecond({column})"
    return Value(
        f"concat(formatDateTime({column}, '%Y-%m-%dT%H:%i:%S'), "
        f"if({ms} = 0, '', concat('.', leftPad(toString({ms}), 3, '0'), '000')), '+00:00')"
    )


def ten_thousandths(column: str) -> Value:
    """An integer count of 0.0001 (0 … 1 000 000) as orjson writes the float it divides into:
    the shortest text that reads back as that float, here its exact decimal, with at least
    one place."""
    places = f"trimRight(leftPad(toString({column} % 10000), 4, '0'), '0')"
    fraction = f"if({column} % 10000 = 0, '0', {places})"
    return Value(
        f"concat(toString(intDiv({column}, 10000)), '.', {fraction})",
        quoted=False,
        valid=f"{column} BETWEEN 0 AND 1000000",
    )


def link_parts(link: Callable[[str], str]) -> tuple[str, str] | None:
    """The fixed head and tail of a `keyed_linker`'s links, between which a value that needs no
    quoting goes as it is; None when its links are not of that shape."""
    bare, marked = link(""), link("_")
    cut = len(commonprefix([bare, marked]))
    head, tail = bare[:cut], bare[cut:]
    return (head, tail) if marked == head + "_" + tail else None


def row_json(
    fields: Mapping[str, Value], key: str, link: Callable[[str], str], prefix: str = "row_"
) -> Sql | None:
    """SQL of each row's JSON text: `fields` in their order, then `drill`, the link of the row's
    `key` field; '' where a value is not `valid`. The text around the values is orjson's, bound
    as parameters named `prefix` and a number. None when the links are not a fixed head and
    tail around the key."""
    parts = link_parts(link)
    if parts is None:
        return None
    marks = {name: f"{MARK}{i}{MARK}" for i, name in enumerate(fields)}
    shape = orjson.dumps(marks | {"drill": parts[0] + marks[key] + parts[1]}).decode()
    for name, value in fields.items():
        if not value.quoted:
            shape = shape.replace(f'"{marks[name]}"', marks[name])
    values = list(fields.values())
    pieces = MARKED.split(shape)  # text, index, text, …, text
    params = {f"{prefix}{i}": piece for i, piece in enumerate(pieces[::2])}
    texts = [placeholder(name, "String") for name in params]
    concat = texts[:1]
    for index, after in zip(pieces[1::2], texts[1:], strict=True):
        concat += [values[int(index)].sql, after]
    valid = " AND ".join(dict.fromkeys(v.valid for v in values))
    return Sql(f"if({valid}, concat({', '.join(concat)}), '')", params)


class JsonRows(Sequence[dict[str, Any]]):
    """Rows as the engine wrote their JSON (`row_json`). `report_bytes` writes them as they
    are; read (a comparison, `report_json`) they are the dicts they stand for, with the fields
    named in `money` as Decimals, as a report makes them."""

    def __init__(self, texts: list[str], money: tuple[str, ...]) -> None:
        self.texts, self.money = texts, money

    def json(self) -> str:
        """`[row,…]`: the brackets go on the first and the last row, so that the long text is
        made once (adding them to the joined rows would copy it twice more)."""
        if len(self.texts) < 2:
            return "[" + "".join(self.texts) + "]"
        first, *middle, last = self.texts
        return ",".join(["[" + first, *middle, last + "]"])

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = orjson.loads(self.json())
        for row in rows:
            for name in self.money:
                row[name] = Decimal(row[name])
        return rows

    def __len__(self) -> int:
        return len(self.texts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self.rows[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)


def written(texts: list[str], money: tuple[str, ...]) -> JsonRows | None:
    """The rows the engine wrote, None if it left one out (a value it could not write)."""
    return JsonRows(texts, money) if all(texts) else None
