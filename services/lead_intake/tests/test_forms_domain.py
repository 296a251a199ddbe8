"""Pure rules of forms and abuse defence."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lead_intake.domain.abuse import RateLimiter, retry_after_header
from lead_intake.domain.forms import (
    FormIn,
    define_form,
    lead_from_submission,
    origin_allowed,
    spam_reason,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MS = NOW.timestamp() * 1000


def form(**changes):
    data = {"fields": [{"name": "phone", "type": "phone", "required": True}]} | changes
    return define_form("f", FormIn(**data))


def test_a_generated_public_key_and_normalised_origins():
    f = form(allowed_origins=["HTTPS://Shop.Example/"])
    assert len(f.public_key) >= 16 and f.public_key != form().public_key
    assert f.allowed_origins == ["https://shop.example"]
    assert origin_allowed(f, "https://shop.example")
    assert not origin_allowed(f, "https://evil.example")
    assert not origin_allowed(f, None)
    assert origin_allowed(form(), None)  # no list: any origin
    assert origin_allowed(form(allowed_origins=["*"]), "https://any.example")


@pytest.mark.parametrize(
    "values, reason",
    [
        ({}, None),
        ({"_hp": ""}, None),
        ({"_hp": "bot"}, "honeypot"),
        ({"_rendered_at": str(MS - 1000)}, "too_fast"),
        ({"_rendered_at": str(MS - 3000)}, None),
        ({"_rendered_at": str(MS + 60_000)}, "too_fast"),  # from the future: forged
        ({"_rendered_at": "soon"}, "bad_render_time"),
        ({"_rendered_at": "nan"}, "bad_render_time"),
    ],
)
def test_spam_reasons(values, reason):
    assert spam_reason(values, NOW, min_fill_seconds=2) == reason


def test_rate_limiter_allows_a_burst_then_refills_at_the_rate():
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.take("ip", 0.0) for _ in range(3)] == [None, None, None]
    assert limiter.take("ip", 0.0) == pytest.approx(1.0)
    assert limiter.take("other", 0.0) is None  # buckets are per key
    assert limiter.take("ip", 1.0) is None  # one token back after a second
    assert limiter.take("ip", 1.0) == pytest.approx(1.0)
    assert retry_after_header(0.2) == "1" and retry_after_header(1.5) == "2"


def test_rate_limiter_memory_is_bounded():
    limiter = RateLimiter(per_minute=60, burst=1, max_keys=10)
    for i in range(100):
        limiter.take(f"ip-{i}", 0.0)
    assert len(limiter._buckets) == 10


def test_touch_fields_are_cut_not_refused_and_a_broken_first_at_is_dropped():
    lead, errors = lead_from_submission(
        form(),
        {
            "phone": "+79123456789",
            "utm_source": "y" * 2000,
            "first_utm_source": "google",
            "first_at": "yesterday",
        },
        "RU",
    )
    assert errors == []
    assert len(lead.utm_source) == 512
    assert lead.first_touch.utm_source == "google" and lead.first_touch.at is None


def test_reserved_and_contract_names_are_checked_in_definitions():
    with pytest.raises(ValidationError, match="reserved"):
        form(fields=[{"name": "first_at"}])
    with pytest.raises(ValidationError, match="reserved"):
        form(fields=[{"name": "gclid"}])
    with pytest.raises(ValidationError, match="must be of type email"):
        form(fields=[{"name": "email"}])
    with pytest.raises(ValidationError, match="unique"):
        form(fields=[{"name": "a"}, {"name": "a"}])
    with pytest.raises(ValidationError, match="needs a phone or an email"):
        form(fields=[{"name": "name"}])
