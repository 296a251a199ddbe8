"""Rendering a rule's template for one recipient: Jinja2 in a sandbox, so an operator's
template can read the context but not reach Python internals. No I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, pass_context
from jinja2 import Template as Compiled
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from notification.domain import wording
from notification.domain.rules import Template, zone


class RenderError(Exception):
    """The template is broken or names something the context does not have."""


def _moment(context: Context, value: Any) -> datetime | None:
    """`value` (a datetime or ISO text) in the recipient's zone; None if it is not a time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.astimezone(zone(context["timezone"]))


@pass_context
def _local(context: Context, value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the recipient's time zone: `{{ task.due_at | local }}`."""
    moment = _moment(context, value)
    if moment is None:
        return "" if value is None else str(value)
    return moment.strftime(fmt)


@pass_context
def _datetime(context: Context, value: Any) -> str:
    """`{{ event.occurred_at | datetime }}`: `1 марта 2026, 10:00 MSK` / `Mar 1, 2026, …`."""
    moment = _moment(context, value)
    if moment is None:
        return "" if value is None else str(value)
    return wording.day_and_time(moment, context["language"])


@pass_context
def _date(context: Context, value: Any) -> str:
    """`{{ period.first | date }}`: `3 марта 2026` / `Mar 3, 2026`. A date stays as it is."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return wording.day(value, context["language"])
    moment = _moment(context, value)
    if moment is None:
        return "" if value is None else str(value)
    return wording.day(moment.date(), context["language"])


@pass_context
def _from_now(context: Context, value: Any) -> str:
    """`{{ task.due_at | from_now }}`: `in 2 hours`, `завтра в 10:00`, at the time of sending."""
    moment = _moment(context, value)
    if moment is None:
        return "" if value is None else str(value)
    now = context.get("now") or datetime.now(UTC)
    return wording.from_now(moment, now.astimezone(moment.tzinfo), context["language"])


@pass_context
def _money(context: Context, value: Any, currency: str | None = None) -> str:
    """`{{ deal.amount | money(deal.currency) }}`: `120 000 ₽` / `₽120,000`; empty if none."""
    return wording.money(value, currency, context["language"])


def _ucfirst(value: Any) -> str:
    """Capital first letter only (Jinja's `capitalize` lowercases the rest)."""
    text = str(value)
    return text[:1].upper() + text[1:]


# No `trim_blocks`: it ate the line break after an inline `{% endif %}` ("… RUBOpened: …").
# A template's line breaks are the message's.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_ENV.filters |= {
    "local": _local,
    "datetime": _datetime,
    "date": _date,
    "from_now": _from_now,
    "money": _money,
    "ucfirst": _ucfirst,
}


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Compiled:
    """Compiling costs far more than rendering (it was most of a send's CPU): once per text.
    The rules are few, so their texts are too."""
    return _ENV.from_string(text)


def pick_language(texts: dict[str, str], wanted: str | None, default: str) -> tuple[str, str]:
    """(language, text): the recipient's, else the default, else the first there is."""
    for language in (wanted, default):
        if language and language in texts:
            return language, texts[language]
    return next(iter(texts.items()))


def render(
    template: Template,
    context: dict[str, Any],
    language: str | None,
    default_language: str,
    tz: str,
    now: datetime | None = None,
) -> tuple[str, str]:
    """(subject, body) in the recipient's language; `timezone` is the recipient's zone.
    Money and dates follow the language of the text chosen, so they match its words."""
    try:
        language, text = pick_language(template.body, language, default_language)
        context = {**context, "timezone": tz, "language": language, "now": now}
        subject = ""
        if template.subject:
            _, title = pick_language(template.subject, language, default_language)
            subject = _compiled(title).render(context).strip()
        return subject, _compiled(text).render(context)
    except TemplateError as exc:
        raise RenderError(f"template: {exc}") from exc
    except Exception as exc:  # a filter or attribute blowing up inside the sandbox
        raise RenderError(f"template: {type(exc).__name__}: {exc}") from exc


def check(template: Template) -> list[str]:
    """Syntax errors of every text, for the operator API (unknown names show only at send)."""
    errors = []
    for part, texts in (("subject", template.subject), ("body", template.body)):
        for language, text in texts.items():
            try:
                _ENV.parse(text)
            except TemplateError as exc:
                errors.append(f"template.{part}.{language}: {exc}")
    return errors
