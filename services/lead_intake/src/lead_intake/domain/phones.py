"""Phone numbers as `phonenumbers` parses, checks and formats them (E.164), at a third of the
cost: the library's parse and check were about a sixth of a lead's CPU under wrk (measured).

For a number written as "+" and digits, maybe spaced ("+7 912 345-67-89"), most of `parse` is
text handling that changes nothing (finding the number in free text, extensions, letters,
non-ASCII digits): `_international` takes the digits and does the rest of `parse` as it does.
`is_valid_number` tries the pattern of each number type in turn, for a country code of several
regions twice: `_valid` takes the same steps with one pattern per metadata and length joining
the types'. Anything else takes the library's `parse`, which also words every refusal. The
tests compare both ways over many numbers.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import (
    REGION_CODE_FOR_NON_GEO_ENTITY,
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberDesc,
    PhoneNumberFormat,
)
from phonenumbers import phonenumberutil as lib
from phonenumbers.re_util import re_compile
from phonenumbers.util import to_long

from crm_contracts.runtime.errors import Invalid

# Parsing and checking a number asks `re.compile` for its region's metadata patterns every
# time (answered from `re`'s cache, after hashing each pattern): phonenumbers' own switch
# keeps them compiled instead, a sixth of a number's parse and check (measured).
phonenumbers.enable_pattern_cache()

# Maybe "+", maybe a bracket, a digit, then digits, spaces, hyphens and brackets, ending in a
# digit: what `parse` reduces to its digits (no letters, extension or second number to find).
PLAIN = re.compile(r"\+?\(?[0-9][0-9 ()-]*[0-9]\Z")
NOT_DIGITS = re.compile(r"[^0-9]+")
# A national prefix is stripped only if what is left may be a number (as in `parse`).
TOO_SHORT_WHEN_STRIPPED = (
    lib.ValidationResult.TOO_SHORT,
    lib.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    lib.ValidationResult.INVALID_LENGTH,
)
# The number types `_number_type_helper` tries, in its order (mobile: see `_types`).
TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


def normalise_phone(raw: str, region: str) -> str:
    """E.164; Invalid naming the field `phone` otherwise."""
    number = _plain(raw, region)
    if number is None:
        try:
            number = phonenumbers.parse(raw, region)
        except NumberParseException as exc:
            raise Invalid(f"not a phone number ({exc})", "phone") from None
    if not _valid(number):
        raise Invalid("not a valid phone number", "phone")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _plain(raw: str, region: str | None) -> PhoneNumber | None:
    """What `phonenumbers.parse(raw, region)` gives for digits, maybe after "+", maybe spaced;
    None when only it can tell (another shape, or a number it refuses)."""
    if len(raw) > lib._MAX_INPUT_STRING_LENGTH or not PLAIN.match(raw):
        return None
    digits = NOT_DIGITS.sub("", raw)
    if len(digits) <= lib._MIN_LENGTH_FOR_NSN:
        return None
    return _international(digits, region) if raw[0] == "+" else _national(digits, region)


def _international(digits: str, region: str | None) -> PhoneNumber | None:
    """The digits after "+": the country code, then the national number."""
    country_code, national = lib._extract_country_code(digits)
    if country_code == 0 or len(national) < lib._MIN_LENGTH_FOR_NSN:
        return None
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None) if region else None
    return _number(country_code, national, region, metadata)


def _national(digits: str, region: str | None) -> PhoneNumber | None:
    """Digits without "+" ("8 912 …"): the region's international prefix and then a country
    code, or its own country code, or a national number of the region (`parse` steps)."""
    if not lib._is_valid_region_code(region):
        return None  # `parse` refuses: no region to read it in
    metadata = PhoneMetadata.metadata_for_region(str(region).upper(), None)
    if metadata is None or metadata.country_code is None:  # never, for a valid region
        return None
    try:
        country_code, national = lib._maybe_extract_country_code(
            digits, metadata, False, PhoneNumber()
        )
    except NumberParseException:
        return None
    if country_code == 0:
        country_code, national = metadata.country_code, digits
    if len(national) < lib._MIN_LENGTH_FOR_NSN:
        return None
    return _number(country_code, national, region, metadata)


def _number(
    country_code: int, national: str, region: str | None, metadata: PhoneMetadata | None
) -> PhoneNumber | None:
    """The rest of `parse`: the metadata of the number's own region, its national prefix
    stripped if what is left may be a number, the length checks."""
    number_region = lib.region_code_for_country_code(country_code)
    if number_region != region:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, number_region)
    if metadata is not None:
        _, stripped, _ = lib._maybe_strip_national_prefix_carrier_code(national, metadata)
        if lib._test_number_length(stripped, metadata) not in TOO_SHORT_WHEN_STRIPPED:
            national = stripped
    if not lib._MIN_LENGTH_FOR_NSN <= len(national) <= lib._MAX_LENGTH_FOR_NSN:
        return None
    number = PhoneNumber(country_code=country_code)
    lib._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = to_long(national)
    return number


def _valid(number: PhoneNumber) -> bool:
    """`phonenumbers.is_valid_number`: the region of the number, then its check there."""
    country_code = number.country_code
    if (
        country_code is None
        or (regions := lib.COUNTRY_CODE_TO_REGION_CODE.get(country_code)) is None
    ):
        return False
    national = lib.national_significant_number(number)
    region = regions[0] if len(regions) == 1 else _region_among(regions, national)
    if region is None:
        return False
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region.upper())
    if metadata is None or (
        region != REGION_CODE_FOR_NON_GEO_ENTITY
        and country_code != lib.country_code_for_valid_region(region)
    ):
        return False
    return _typed(national, metadata)


def _region_among(regions: tuple[str, ...], national: str) -> str | None:
    """`_region_code_for_number_from_list`."""
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re_compile(metadata.leading_digits).match(national):
                return region
        elif _typed(national, metadata):
            return region
    return None


# (id of a metadata, length) → (general pattern, the types' patterns joined); metadata objects
# are loaded once and kept by the library, so their ids stay theirs.
_joined: dict[tuple[int, int], tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {}


def _typed(national: str, metadata: PhoneMetadata) -> bool:
    """`_number_type_helper(national, metadata) != UNKNOWN`, with one pattern for the types."""
    key = (id(metadata), len(national))
    patterns = _joined.get(key)
    if patterns is None:
        patterns = _joined[key] = _patterns(metadata, len(national))
    general, types = patterns
    return (
        general is not None
        and types is not None
        and general.fullmatch(national) is not None
        and types.fullmatch(national) is not None
    )


def _patterns(
    metadata: PhoneMetadata, length: int
) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    general = _pattern(metadata.general_desc, length)
    types = [p for desc in _types(metadata) if (p := _pattern(desc, length)) is not None]
    joined = "|".join(f"(?:{p})" for p in types)
    return (
        re.compile(general) if general is not None else None,
        re.compile(joined) if types else None,
    )


def _types(metadata: PhoneMetadata) -> list[PhoneNumberDesc | None]:
    """Mobile counts only where its pattern differs from fixed line's (else never tried)."""
    descs = [getattr(metadata, name) for name in TYPES]
    return descs if metadata.same_mobile_and_fixed_line_pattern else [*descs, metadata.mobile]


def _pattern(desc: PhoneNumberDesc | None, length: int) -> str | None:
    """The pattern `_is_number_matching_desc` would match a number of `length` with, if any."""
    if desc is None:
        return None
    lengths, pattern = desc.possible_length, desc.national_number_pattern
    if (len(lengths) > 0 and length not in lengths) or not pattern:
        return None
    return pattern
