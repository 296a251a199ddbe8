"""Rows of an operator import, from CSV (header row) or JSON (`{"rows": [...]}`), and the
checks every import shares. Each row comes labelled (`rows[0]` or `line 2`) for error messages.
JSON numbers are read as Decimal, never float, so money keeps every digit it was sent with.
Refusals are the shared kinds; `Invalid.of` keeps the first 50 problems of a file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from crm_contracts.runtime.errors import Invalid, Refused

T = TypeVar("T")
RawRow = dict[str, Any]  # one row as sent: column → raw value
Labelled = tuple[str, RawRow]  # (`rows[0]` or `line 2`, the row)


def invalid(field_name: str, reason: str) -> Invalid:
    return Invalid(reason, field_name)


def malformed(kind: str, reason: str) -> Invalid:
    """A body that is not CSV / JSON at all: 400, not a row's 422."""
    return Invalid(reason, "body", status=400, error=f"invalid_{kind}")


@dataclass
class Errors:
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, field_name: str, reason: str) -> None:
        self.items.append((field_name, reason))

    def check(self, label: str, name: str, parse: Callable[[Any], T], raw: Any) -> T | None:
        """Run one field parser; a ValueError becomes an error naming the row and field."""
        try:
            return parse(raw)
        except ValueError as exc:
            self.add(f"{label}.{name}", str(exc))
            return None

    def raise_if_any(self) -> None:
        if self.items:
            raise Invalid.of(self.items)


def read_rows(body: bytes, content_type: str, columns: tuple[str, ...]) -> list[Labelled]:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _csv_rows(body, columns)
    if kind == "application/json":
        return _json_rows(body)
    raise Refused(
        "send text/csv or application/json",
        "Content-Type",
        status=415,
        error="unsupported_media_type",
    )


def _csv_rows(body: bytes, columns: tuple[str, ...]) -> list[Labelled]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise malformed("csv", "not UTF-8") from None
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise malformed("csv", str(exc)) from None
    if not table:
        raise invalid("body", "empty file")
    header = [name.strip().lower() for name in table[0]]
    unknown = [name for name in header if name not in columns]
    if unknown or len(set(header)) != len(header):
        reason = f"header must name columns from {', '.join(columns)} once each; got {header}"
        raise invalid("header", reason)
    rows: list[Labelled] = []
    for line, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, e.g. a trailing newline pair
        if len(cells) != len(header):
            reason = f"{len(cells)} cells, the header has {len(header)}"
            raise invalid(f"line {line}", reason)
        rows.append((f"line {line}", dict(zip(header, cells, strict=True))))
    return rows


def _json_rows(body: bytes) -> list[Labelled]:
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise malformed("json", str(exc)[:200]) from None
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        reason = 'expected {"rows": [...]}'
        raise invalid("rows", reason)
    errors = Errors()
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.add(f"rows[{index}]", "expected an object")
    errors.raise_if_any()
    return [(f"rows[{index}]", row) for index, row in enumerate(rows)]


def require_rows(rows: list[Labelled], limit: int) -> None:
    if not rows:
        raise invalid("rows", "no rows")
    if len(rows) > limit:
        raise invalid("rows", f"{len(rows)} rows; at most {limit} per request")


# Field parsers: each raises ValueError with the reason shown to the operator.


def a_date(raw: Any) -> date:
    if not isinstance(raw, str) or len(raw.strip()) != 10:
        raise ValueError("expected a date YYYY-MM-DD")
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"not a date: {raw.strip()!r}") from None


def text(max_length: int, required: bool) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        value = raw.strip()
        if required and not value:
            raise ValueError("required")
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        return value

    return parse


def a_currency(raw: Any) -> str:
    value = raw.strip().upper() if isinstance(raw, str) else ""
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise ValueError("expected an ISO 4217 code such as RUB, USD, EUR")
    return value


def decimal(places: int, positive: bool = False) -> Callable[[Any], Decimal]:
    """A non-negative (or positive) decimal with at most `places` fractional digits, from a
    string or a JSON number (read as Decimal), never a binary float."""
    limit = Decimal(10) ** (18 - places)  # fits Decimal(18, places)

    def parse(raw: Any) -> Decimal:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
            raise ValueError("expected a decimal number")
        try:
            value = Decimal(raw.strip() if isinstance(raw, str) else raw)
        except InvalidOperation:
            raise ValueError(f"not a number: {raw!r}") from None
        if not value.is_finite():
            raise ValueError("not a finite number")
        if value < 0 or (positive and value == 0):
            raise ValueError("must be positive" if positive else "must not be negative")
        if value != value.quantize(Decimal(1).scaleb(-places)):
            raise ValueError(f"at most {places} decimal places")
        if value >= limit:
            raise ValueError("too large")
        return value.quantize(Decimal(1).scaleb(-places))

    return parse


def count(raw: Any) -> int:
    """A non-negative integer; missing or empty means 0."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return 0
    if isinstance(raw, bool):
        raise ValueError("expected a whole number")
    try:
        value = int(raw.strip()) if isinstance(raw, str) else raw
    except ValueError:
        raise ValueError(f"not a whole number: {raw!r}") from None
    if not isinstance(value, int) or value < 0 or value >= 2**63:
        raise ValueError("expected a whole number ≥ 0")
    return value
