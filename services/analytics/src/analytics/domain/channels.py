"""Channel of a marketing touch (docs/reports.md):
paid, email, social, referral, organic, direct, or
an explicit mapping of utm_medium / utm_source from settings; `other` for tagged traffic that
fits none of them."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from crm_contracts.events import Touch

PAID_MEDIUMS = {"cpc", "ppc", "paid", "cpm", "cpa", "paidsearch", "paid_social", "display"}
EMAIL_MEDIUMS = {"email", "e-mail", "newsletter", "mail"}
SOCIAL_MEDIUMS = {"social", "smm", "social-network", "social_network", "sm"}
REFERRAL_MEDIUMS = {"referral", "partner", "affiliate"}
ORGANIC_MEDIUMS = {"organic", "seo"}
SEARCH_ENGINES = (
    "google.",
    "yandex.",
    "bing.",
    "duckduckgo.",
    "yahoo.",
    "search.mail.ru",
    "go.mail.ru",
    "rambler.",
    "baidu.",
    "ecosia.",
)
SOCIAL_SITES = (
    "vk.com",
    "facebook.com",
    "instagram.com",
    "t.me",
    "telegram.",
    "ok.ru",
    "twitter.com",
    "x.com",
    "youtube.com",
    "linkedin.com",
    "tiktok.com",
    "dzen.ru",
)
CHANNELS = ("paid", "email", "social", "referral", "organic", "direct", "other")


def host_of(url: str | None) -> str:
    if not url:
        return ""
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.").lower()


def _matches(host: str, patterns: tuple[str, ...]) -> bool:
    return any(host == p or host.startswith(p) or f".{p}" in f".{host}" for p in patterns)


def classify(
    touch: Touch,
    own_hosts: tuple[str, ...] = (),
    medium_map: Mapping[str, str] | None = None,
    source_map: Mapping[str, str] | None = None,
) -> str:
    medium = (touch.utm_medium or "").strip().lower()
    source = (touch.utm_source or "").strip().lower()
    if medium_map and medium in medium_map:
        return medium_map[medium]
    if source_map and source in source_map:
        return source_map[source]
    if medium in PAID_MEDIUMS or touch.gclid or touch.yclid or touch.fbclid:
        return "paid"
    if medium in EMAIL_MEDIUMS:
        return "email"
    if medium in SOCIAL_MEDIUMS:
        return "social"
    if medium in REFERRAL_MEDIUMS:
        return "referral"
    if medium in ORGANIC_MEDIUMS:
        return "organic"
    if medium or source or touch.utm_campaign:
        return "other"
    referrer = host_of(touch.referrer)
    if not referrer or referrer in own_hosts or referrer == host_of(touch.landing_url):
        return "direct"
    if _matches(referrer, SEARCH_ENGINES):
        return "organic"
    if _matches(referrer, SOCIAL_SITES):
        return "social"
    return "referral"


def source_of(touch: Touch) -> str:
    """The source a report groups by: utm_source, else the referring host, else (direct)."""
    return (touch.utm_source or "").strip().lower() or host_of(touch.referrer) or "(direct)"
