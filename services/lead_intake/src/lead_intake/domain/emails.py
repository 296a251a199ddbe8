"""E-mail addresses as `email_validator` checks and normalises them, at a fraction of the cost.

Most of `validate_email`'s time goes to the part after the @-sign (IDNA, a check per
character), and leads share few domains. So an address whose local part is plain ASCII
dot-atom (what nearly every address is) gets its domain checked once per domain (cached) and
its local part by the same rule `email_validator` applies to such a part; anything else
(quoted, internationalised, a display name, an invalid domain or length) takes the full
check, which also words every refusal. Both ways give the same result: the tests compare them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from crm_contracts.runtime.errors import Invalid

# RFC 5322 atext, as `email_validator` spells it (rfc_constants.ATEXT); a dot-atom local part
# of these characters is valid as it stands and is its own normal form.
ATEXT = r"a-zA-Z0-9_!#\$%&'\*\+\-/=\?\^`\{\|\}~"
PLAIN_LOCAL = re.compile(f"[{ATEXT}]+(?:\\.[{ATEXT}]+)*\\Z")
MAX_ADDRESS = 254  # octets, RFC 3696 errata 1690 (email_validator's EMAIL_MAX_LENGTH)
DOMAINS_CACHED = 4096


@lru_cache(maxsize=DOMAINS_CACHED)
def _domain(domain: str) -> tuple[str, str]:
    """(normal form, IDNA ASCII form) of a valid domain; raises for an invalid one (not cached)."""
    checked = validate_email(f"a@{domain}", check_deliverability=False)
    return checked.domain, checked.ascii_domain


def _fast(raw: str) -> str | None:
    """The normalised address, or None when only the full check can tell."""
    local, at, domain = raw.rpartition("@")
    if not at or not PLAIN_LOCAL.match(local):
        return None
    try:
        normal_domain, ascii_domain = _domain(domain)
    except EmailNotValidError:
        return None
    forms = (domain, normal_domain, ascii_domain)  # the lengths email_validator checks
    if any(len(f"{local}@{form}".encode()) > MAX_ADDRESS for form in forms):
        return None
    return f"{local}@{normal_domain}"


def normalise_email(raw: str) -> str:
    """Lower-cased normal form; Invalid naming the field `email` otherwise."""
    address = _fast(raw)
    if address is None:
        try:
            address = validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Invalid(str(exc), "email") from None
    return address.lower()
