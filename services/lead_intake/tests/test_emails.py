"""The cached e-mail check gives what `email_validator` gives, address by address."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from crm_contracts.runtime.errors import Invalid
from lead_intake.domain.emails import _fast, normalise_email

LONG_LOCAL = "a" * 64
ADDRESSES = [
    "ann@example.com",
    "Ann.Lee+tag@Example.COM",
    "o'brien@shop.example",
    "x!#$%&'*+/=?^_`{|}~-y@b.ru",
    "a@b.ru",
    "a@xn--e1afmkfd.xn--p1ai",  # IDNA ASCII: normalised to Unicode
    "a@пример.рф",
    "пётр@пример.рф",  # an internationalised local part: the full check
    '"quoted local"@example.com',
    "Ann <ann@example.com>",
    "a.@example.com",
    ".a@example.com",
    "a..b@example.com",
    "a b@example.com",
    "a@b@example.com",
    "nobody@",
    "@example.com",
    "plain",
    "a@-bad-.com",
    "a@localhost",
    "a@example.test",
    "a@[127.0.0.1]",
    "a@example..com",
    f"{LONG_LOCAL}@example.com",
    f"{LONG_LOCAL}a@example.com",
    f"{LONG_LOCAL}@{'d' * 60}.{'e' * 60}.{'f' * 60}.gg.com",  # 254 octets: the longest
    f"{LONG_LOCAL}@{'d' * 60}.{'e' * 60}.{'f' * 60}.ggg.com",  # 255
    f"{LONG_LOCAL}@{'д' * 30}.com",  # short in Unicode, long in IDNA ASCII
    "a@EXAMPLE.com",
    "POSTMASTER@example.com",
]


def reference(raw: str) -> str | None:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@pytest.mark.parametrize("raw", ADDRESSES, ids=range(len(ADDRESSES)))
def test_the_cached_check_agrees_with_email_validator(raw):
    expected = reference(raw)
    fast = _fast(raw)
    assert fast is None or fast.lower() == expected  # the fast way never accepts more
    if expected is None:
        with pytest.raises(Invalid):
            normalise_email(raw)
    else:
        assert normalise_email(raw) == expected
        assert normalise_email(raw) == expected  # a second time: the domain from the cache


def test_plain_addresses_take_the_fast_way():
    assert _fast("Ann.Lee+tag@Example.COM") == "Ann.Lee+tag@example.com"
    assert _fast("пётр@пример.рф") is None
