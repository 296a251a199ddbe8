"""Money, dates and "how long until" in the recipient's language (ru or en; anything else
reads as en). A small formatter of our own: the service has no locale library, and these
few forms are all its messages need. No I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

NBSP = "\u00a0"  # keeps "120 000 ₽" on one line
SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€"}
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MONTHS_RU = [  # genitive: "1 марта"
    *("января", "февраля", "марта", "апреля", "мая", "июня"),
    *("июля", "августа", "сентября", "октября", "ноября", "декабря"),
]
UNITS = {  # en singular/plural; ru one / few / many
    "minute": (("minute", "minutes"), ("минуту", "минуты", "минут")),
    "hour": (("hour", "hours"), ("час", "часа", "часов")),
    "day": (("day", "days"), ("день", "дня", "дней")),
}


def is_ru(language: str | None) -> bool:
    return (language or "").lower().startswith("ru")


def decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Any, currency: str | None, language: str | None) -> str:
    """ru: `120 000 ₽`, `1 500,50 ₽`; en: `₽120,000`, `$1,500.50`. Kopecks only when there
    are any; a currency without a symbol is shown by its code (`KZT 5,000`, `5 000 KZT`).
    Empty for no amount, so a template can say `or "not set yet"`."""
    amount = decimal(value)
    if amount is None:
        return ""
    cents = amount.quantize(Decimal("0.01")) != amount.quantize(Decimal(1))
    text = f"{amount:,.2f}" if cents else f"{amount:,.0f}"  # 1,500.50
    code = (currency or "").upper()
    symbol = SYMBOLS.get(code, code)
    if is_ru(language):
        text = text.replace(",", NBSP).replace(".", ",")
        return f"{text}{NBSP}{symbol}" if symbol else text
    if not symbol:
        return text
    return f"{symbol}{text}" if code in SYMBOLS else f"{code}{NBSP}{text}"


def day(moment: date, language: str | None) -> str:
    """ru: `1 марта 2026`; en: `Mar 1, 2026`."""
    if is_ru(language):
        return f"{moment.day} {MONTHS_RU[moment.month - 1]} {moment.year}"
    return f"{MONTHS_EN[moment.month - 1]} {moment.day}, {moment.year}"


def day_and_time(moment: datetime, language: str | None) -> str:
    """A local moment with its zone: `1 марта 2026, 10:00 MSK`, `Mar 1, 2026, 10:00 MSK`."""
    return f"{day(moment, language)}, {moment:%H:%M} {moment.tzname() or ''}".rstrip()


def count(n: int, unit: str, language: str | None) -> str:
    """`1 minute`, `2 minutes`; `1 минуту`, `3 минуты`, `11 минут`, `21 минуту`."""
    en, ru = UNITS[unit]
    if not is_ru(language):
        return f"{n} {en[0] if n == 1 else en[1]}"
    if n % 10 == 1 and n % 100 != 11:
        word = ru[0]
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = ru[1]
    else:
        word = ru[2]
    return f"{n} {word}"


def from_now(due: datetime, now: datetime, language: str | None) -> str:
    """How long until `due` (both local to the recipient), as the subject of a reminder says
    it: `in 1 minute`, `in 1 hour 15 minutes`, `today at 18:00`, `tomorrow at 10:00`,
    `in 3 days, Mar 5 at 10:00`; `now` when due. Minutes are rounded, so a task due in 75 s
    is "in 1 minute", and one due in 59 min 50 s is "in 1 hour"."""
    ru = is_ru(language)
    minutes = round((due - now) / timedelta(minutes=1))
    if minutes < 1:
        return "сейчас" if ru else "now"
    at = f"{'в' if ru else 'at'} {due:%H:%M}"
    days = (due.date() - now.date()).days
    if minutes < 60:
        return f"{'через' if ru else 'in'} {count(minutes, 'minute', language)}"
    if minutes < 6 * 60:
        hours, rest = divmod(minutes, 60)
        text = count(hours, "hour", language)
        if rest:
            text += f" {count(rest, 'minute', language)}"
        return f"{'через' if ru else 'in'} {text}"
    if days == 0:
        return f"{'сегодня' if ru else 'today'} {at}"
    if days == 1:
        return f"{'завтра' if ru else 'tomorrow'} {at}"
    when = day(due.date(), language).rsplit(" ", 1)[0].rstrip(",")  # without the year
    return f"{'через' if ru else 'in'} {count(days, 'day', language)}, {when} {at}"
