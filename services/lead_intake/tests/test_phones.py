"""The quick phone path gives what `phonenumbers` gives (parse, is_valid_number, E.164), number by
number, written internationally ("+7 912 …") or nationally ("8 912 …", "00 49 …"): the same
E.164, or the same refusal in the same words."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException
from phonenumbers import phonenumberutil as lib

from crm_contracts.runtime.errors import Invalid
from lead_intake.domain.phones import _plain, _typed, _valid, normalise_phone
from services.lead_intake.tests import reference

REGIONS = ["RU", "US", "GB", "DE", "KZ", "IT", "BR", "ru", "001", "ZZ"]
COUNTRY_CODES = sorted(lib.COUNTRY_CODE_TO_REGION_CODE)
# A valid number of every region and type, as the library's own examples give them.
EXAMPLES = sorted(
    {
        f"+{n.country_code}{lib.national_significant_number(n)}"
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in vars(phonenumbers.PhoneNumberType).values()
        if isinstance(kind, int)
        and (n := phonenumbers.example_number_for_type(region, kind)) is not None
    }
)
FIXED = [
    "+79123456789",
    "+7 912 345-67-89",
    "+7 (912) 345-67-89",
    "+7 8 912 345-67-89",  # a national prefix after the country code
    "+78123456789",
    "+390612345678",  # Italy: a leading zero kept
    "+39 00 1234",
    "+800 1234 5678",  # a non-geographic code
    "+1 650 253 0000",
    "+12",
    "+999 123 456",  # no such country code
    "+7",
    "+7-",
    "+7 912 345-67-89 ",
    "+7912345678901234567890",
    "8 (912) 345-67-89",
    "89123456789",
    "79123456789",  # the region's own country code without "+"
    "7 912 345 67 89",
    "8 812 123-45-67",
    "810 49 30 1234567",  # RU's international prefix, then a country code
    "810 0 1234",
    "8-10-7-912-345-67-89",
    "011 44 20 7946 0958",  # US's
    "00 49 30 1234567",  # DE's
    "0 30 1234567",  # DE's national prefix
    "030 1234567",
    "06 12345678",
    "(650) 253-0000",
    "+(7) 912 345 67 89",
    "(8) 912 345-67-89",
    "1 650 253 0000",
    "12",
    "123",
    "000",
    "0000000",
    "not a phone",
    "+7 912 345 67 89 ext. 12",
]


def outcome(normalise: Callable[[str, str], str], raw: str, region: str) -> str:
    try:
        return normalise(raw, region)
    except Invalid as refusal:
        return str(refusal)  # names the field


def agrees(raw: str, region: str) -> None:
    assert outcome(normalise_phone, raw, region) == outcome(reference.normalise_phone, raw, region)
    quick = _plain(raw, region)
    if quick is not None:  # the quick parse never accepts what the library refuses
        assert quick == phonenumbers.parse(raw, region)


@pytest.mark.parametrize("region", ["RU", "US", "001"])
def test_known_numbers_agree_with_the_library(region):
    for raw in FIXED + EXAMPLES:
        agrees(raw, region)


def test_the_examples_take_the_quick_path():
    assert all(_plain(raw, "RU") is not None for raw in EXAMPLES)
    national = ["8 912 345-67-89", "89123456789", "8 (812) 123-45-67", "79123456789"]
    assert all(_plain(raw, "RU") is not None for raw in national)
    assert _plain("0 30 1234567", "DE") is not None and _plain("(650) 253-0000", "US") is not None


def national_form(raw: str) -> str:
    """The national number of a "+" number, after its region's national prefix if any."""
    try:
        number = phonenumbers.parse(raw)
    except NumberParseException:
        return raw[1:]
    region = lib.region_code_for_number(number)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region or "", None)
    prefix = (metadata.national_prefix or "") if metadata else ""
    return prefix + lib.national_significant_number(number)


def spaced(digits: str, separators: list[str]) -> str:
    return "".join(d + s for d, s in zip(digits, separators + [""] * len(digits), strict=False))


# Digits of a real country code (or any), optionally spaced as people write them, after "+",
# a national or international prefix ("8", "0", "810", "00", "011"), or nothing.
plus_numbers = st.builds(
    lambda lead, code, rest, seps, spaced_out: (
        lead + (spaced(code + rest, seps) if spaced_out else code + rest)
    ),
    st.sampled_from(["+", "+", "+(", "", "(", "8", "8 (", "0", "810", "00", "011", "1 "]),
    st.one_of(st.sampled_from(COUNTRY_CODES).map(str), st.text("0123456789", max_size=3)),
    st.text("0123456789", max_size=16),
    st.lists(st.sampled_from(["", " ", "-", "(", ")", "  "]), max_size=20),
    st.booleans(),
)
# A valid example with its last digits changed: mostly valid numbers, some not; written with
# "+", or nationally (its national number, maybe after the national prefix of its region).
near_examples = st.builds(
    lambda raw, tail, lead: lead(raw[: max(2, len(raw) - len(tail))] + tail),
    st.sampled_from(EXAMPLES),
    st.text("0123456789", max_size=4),
    st.sampled_from([str, national_form, lambda raw: "8" + national_form(raw)]),
)
anything = st.text(alphabet="+0123456789 -()./x#;,abcт０١", max_size=30)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(plus_numbers, near_examples, anything), st.sampled_from(REGIONS))
def test_any_input_agrees_with_the_library(raw, region):
    agrees(raw, region)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(near_examples, plus_numbers), st.sampled_from(REGIONS))
def test_the_validity_check_agrees_with_the_library(raw, region):
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        return
    assert _valid(number) == phonenumbers.is_valid_number(number)


def test_every_regions_joined_patterns_agree_with_its_types():
    unknown = phonenumbers.PhoneNumberType.UNKNOWN
    for raw in EXAMPLES:
        number = phonenumbers.parse(raw)
        for region in lib.COUNTRY_CODE_TO_REGION_CODE[number.country_code]:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
                number.country_code, region
            )
            national = lib.national_significant_number(number)
            for candidate in (national, national[:-1], national + "0", national[:-1] + "9"):
                expected = lib._number_type_helper(candidate, metadata) != unknown
                assert _typed(candidate, metadata) == expected, (raw, region, candidate)
