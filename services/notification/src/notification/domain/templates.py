"""Rendering a rule's template for one recipient: Jinja2 in a sandbox, so an operator's
template can read the context but not reach Python internals. No I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from notification.domain.rules import Template, zone


class RenderError(Exception):
    """The template is broken or names something the context does not have."""


@pass_context
def _local(context: Context, value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the recipient's time zone: `{{ task.due_at | local }}`."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    return value.astimezone(zone(context["timezone"])).strftime(fmt)


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)
_ENV.filters["local"] = _local


def pick_language(texts: dict[str, str], wanted: str | None, default: str) -> str:
    for language in (wanted, default):
        if language and language in texts:
            return texts[language]
    return next(iter(texts.values()))


def render(
    template: Template,
    context: dict[str, Any],
    language: str | None,
    default_language: str,
    tz: str,
) -> tuple[str, str]:
    """(subject, body) in the recipient's language; `timezone` is the recipient's zone."""
    context = {**context, "timezone": tz}
    env = _ENV
    try:
        subject = ""
        if template.subject:
            text = pick_language(template.subject, language, default_language)
            subject = env.from_string(text).render(context).strip()
        body = env.from_string(pick_language(template.body, language, default_language))
        return subject, body.render(context)
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
