"""Attribution models (docs/reports.md): how one conversion's credit is split over its path of
touches t1..tn, oldest first. Pure functions; weights sum to 1.

The report computes the same models inside ClickHouse
(application/reports/attribution_query.py); these exact ones (fractions, 40-digit decimals) are
the reference its tests compare it with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from fractions import Fraction

MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay")


@dataclass(frozen=True)
class PathTouch:
    at: datetime
    channel: str
    source: str
    campaign: str


def weights(
    model: str, path: Sequence[PathTouch], opened_at: datetime, half_life_days: float = 7.0
) -> Sequence[Fraction | Decimal]:
    n = len(path)
    if n == 0:
        return []
    if model == "first_touch":
        return [Fraction(1 if i == 0 else 0) for i in range(n)]
    if model == "last_touch":
        return [Fraction(1 if i == n - 1 else 0) for i in range(n)]
    if model == "last_non_direct":
        chosen = next((i for i in range(n - 1, -1, -1) if path[i].channel != "direct"), n - 1)
        return [Fraction(1 if i == chosen else 0) for i in range(n)]
    if model == "linear":
        return [Fraction(1, n)] * n
    if model == "position_based":
        if n == 1:
            return [Fraction(1)]
        if n == 2:
            return [Fraction(1, 2)] * 2
        middle = Fraction(1, 5) / (n - 2)
        return [Fraction(2, 5)] + [middle] * (n - 2) + [Fraction(2, 5)]
    if model == "time_decay":
        with localcontext() as ctx:
            ctx.prec = 40
            half_life = Decimal(str(half_life_days)) * 86400
            raw = [
                Decimal(2) ** (-Decimal((opened_at - t.at).total_seconds()) / half_life)
                for t in path
            ]
            total = sum(raw, Decimal(0))
            return [w / total for w in raw]
    raise ValueError(f"unknown model {model!r}")


def as_decimal(weight: Fraction | Decimal) -> Decimal:
    if isinstance(weight, Decimal):
        return weight
    with localcontext() as ctx:
        ctx.prec = 40
        return Decimal(weight.numerator) / Decimal(weight.denominator)
