"""Decoding an `application/x-www-form-urlencoded` body in its declared charset.

Starlette reads such a body as Latin-1 whatever the charset, so bytes in another encoding
(windows-1251 without a declared charset, UTF-16) would be stored as mojibake. Here the
declared charset (UTF-8 by default) is honoured and bytes not valid in it are refused."""

from __future__ import annotations

import codecs
from email.message import Message
from urllib.parse import parse_qsl, unquote_to_bytes

DEFAULT_CHARSET = "utf-8"


def declared_charset(content_type: str) -> str:
    """The `charset` parameter of a Content-Type, or UTF-8; ValueError if unknown."""
    header = Message()
    header["content-type"] = content_type
    name = header.get_param("charset") or DEFAULT_CHARSET
    try:
        return codecs.lookup(str(name)).name
    except LookupError:
        raise ValueError(f"unknown charset {name!r}") from None


def _ascii_compatible(charset: str) -> bool:
    """Whether `&`, `=`, `+` and `%` are single ASCII bytes in it (not so in UTF-16/32)."""
    return "a=b&c+%".encode(charset, "ignore") == b"a=b&c+%"


def _decoded(raw: bytes, charset: str) -> str:
    """Percent escapes and raw bytes alike are bytes of the charset."""
    data = unquote_to_bytes(raw.replace(b"+", b" "))
    try:
        return data.decode(charset)
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise ValueError(f"not valid {charset} text (byte 0x{bad}); declare the charset") from None


def urlencoded_fields(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """(name, value) pairs in order; ValueError for bytes not valid in the charset."""
    charset = declared_charset(content_type)
    if not _ascii_compatible(charset):
        try:
            text = body.decode(charset)
        except UnicodeDecodeError:
            raise ValueError(f"not valid {charset} text") from None
        return parse_qsl(text, keep_blank_values=True, errors="strict")
    pairs = []
    for field in body.split(b"&"):
        if field:
            name, _, value = field.partition(b"=")
            pairs.append((_decoded(name, charset), _decoded(value, charset)))
    return pairs
