"""Password hashes of dashboard accounts: scrypt from the standard library, stored as one
self-describing string `scrypt$N$r$p$<salt b64>$<hash b64>`, so the cost can be raised later
without invalidating the hashes already in the settings."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # 16 MiB and ~50 ms per hash: slow for a guesser, fine for a sign-in
SALT_BYTES = 16
KEY_BYTES = 32
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16  # a hash asking for more is refused, not computed


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    maxmem = 128 * n * r * p + 2**20  # scrypt's own need plus slack; OpenSSL caps at 32 MiB
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=size)


def hash_password(password: str, n: int = N, r: int = R, p: int = P) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, n, r, p, KEY_BYTES)
    encoded = (base64.b64encode(x).decode() for x in (salt, key))
    return "$".join([SCHEME, str(n), str(r), str(p), *encoded])


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, key) of a stored hash; ValueError when it is not one of ours."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("not a scrypt$N$r$p$salt$hash string")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = (base64.b64decode(x, validate=True) for x in parts[4:])
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"malformed scrypt hash: {exc}") from None
    power_of_two = n > 1 and n & (n - 1) == 0
    if not (power_of_two and n <= _MAX_N and 0 < r <= _MAX_R and 0 < p <= _MAX_P):
        raise ValueError("scrypt parameters out of range")
    if not salt or len(key) < 16:
        raise ValueError("scrypt salt or hash too short")
    return n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """True when `password` gives `stored`; a malformed hash never matches."""
    try:
        n, r, p, salt, key = parse_hash(stored)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(key)), key)
