"""nats-py 2.16 checks each header name for whitespace one character at a time in a Python
generator: with the three headers every CRM event carries, that check costs more than the
rest of a message's parsing, and a projection reads thousands of messages per batch. The
same parse with one regular-expression test per name; `parse_header_lines` returns exactly
what the library's does (tests/test_nats_headers.py compares them)."""

from __future__ import annotations

import re

from nats.aio.client import Client

_CRLF = b"\r\n"
_SPACE = re.compile(r"\s")  # what `str.isspace` calls whitespace, for the ASCII names kept


def parse_header_lines(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.split(_CRLF):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue  # a malformed name is skipped, as the library does
        if _SPACE.search(key):
            continue
        out[key] = value.strip().decode("utf-8", "replace")
    return out


ORIGINAL = Client._parse_header_lines


def install() -> None:
    Client._parse_header_lines = staticmethod(parse_header_lines)  # type: ignore[method-assign]  # patched in place
