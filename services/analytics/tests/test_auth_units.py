"""The pure parts of staff access: password hashes, session tokens, the sign-in throttle and
where a sign-in may redirect."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analytics.api.auth import safe_next
from analytics.domain.auth import sessions
from analytics.domain.auth.passwords import hash_password, parse_hash, verify_password
from analytics.domain.auth.sessions import SessionRefused
from analytics.domain.auth.throttle import LoginThrottle

SECRET = b"unit-secret"


def test_a_password_hash_round_trips():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and stored.count("$") == 5
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("", stored)
    assert hash_password("correct horse") != stored  # a fresh salt each time


def test_a_malformed_hash_never_matches():
    good = hash_password("pw", n=2**10)
    n, r, p, salt, key = parse_hash(good)
    assert (n, r, p, len(salt), len(key)) == (1024, 8, 1, 16, 32)
    for bad in (
        "pw",
        "",
        good.replace("scrypt$", "bcrypt$"),
        good.replace("$1024$", "$1000$"),  # not a power of two
        good.replace("$1024$", f"${2**30}$"),  # would take gigabytes: refused, not computed
        good.rsplit("$", 1)[0] + "$!!!",
        good + "$extra",
    ):
        assert not verify_password("pw", bad), bad
        with pytest.raises(ValueError):
            parse_hash(bad)


def test_a_session_token_round_trips():
    token = sessions.issue(SECRET, "anna", "operator", 60, now=1000)
    assert sessions.read(SECRET, token, now=1059) == sessions.Session("anna", "operator", 1060)


@pytest.mark.parametrize("ttl, now", [(0, 1000), (60, 1060), (60, 99_999)])
def test_a_session_token_expires(ttl: int, now: float) -> None:
    token = sessions.issue(SECRET, "anna", "viewer", ttl, now=1000)
    with pytest.raises(SessionRefused) as refused:
        sessions.read(SECRET, token, now=now)
    assert refused.value.reason == "session expired"


def test_a_changed_or_foreign_token_is_invalid():
    token = sessions.issue(SECRET, "anna", "viewer", 60, now=1000)
    payload, signature = token.split(".")
    promoted = sessions.issue(SECRET, "anna", "operator", 60, now=1000).split(".")[0]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for bad in (
        f"{promoted}.{signature}",
        f"{payload}.{flipped}",
        sessions.issue(b"other-secret", "anna", "viewer", 60, now=1000),
        payload,
        "",
        ".",
        "ééé.ééé",
    ):
        with pytest.raises(SessionRefused) as refused:
            sessions.read(SECRET, bad, now=1001)
        assert refused.value.reason == "invalid session", bad
    # Tampering is found before expiry: an old forged token is "invalid", not "expired".
    with pytest.raises(SessionRefused, match="invalid session"):
        sessions.read(SECRET, f"{promoted}.{signature}", now=10**9)


def test_the_throttle_holds_a_guesser_for_the_window():
    throttle = LoginThrottle(limit=3, window=300)
    for t in (0, 10, 20):
        assert throttle.retry_after("Anna", "10.0.0.1", t) == 0
        throttle.failed("Anna", "10.0.0.1", t)
    assert throttle.retry_after("anna", "10.0.0.1", 30) == 270  # until the first ages out
    assert throttle.retry_after("anna", "10.0.0.2", 30) == 0  # another address
    assert throttle.retry_after("boris", "10.0.0.1", 30) == 0  # another account
    assert throttle.retry_after("anna", "10.0.0.1", 300) == 0
    throttle.failed("anna", "10.0.0.1", 301)
    assert throttle.retry_after("anna", "10.0.0.1", 302) == 8
    throttle.succeeded("ANNA", "10.0.0.1")
    assert throttle.retry_after("anna", "10.0.0.1", 302) == 0


def test_the_throttle_keeps_its_memory_bounded():
    throttle = LoginThrottle(limit=3, window=300, max_keys=100)
    for i in range(1000):
        throttle.failed(f"user{i}", "10.0.0.1", float(i))
    assert len(throttle._failures) <= 100


@pytest.mark.parametrize(
    "asked, goes_to",
    [
        ("/", "/"),
        (
            "/reports/funnel?from=2026-03-01&to=2026-04-01",
            "/reports/funnel?from=2026-03-01&to=2026-04-01",
        ),
        (None, "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("http://evil.example/", "/"),
        ("/\r\nSet-Cookie: x=1", "/"),
        ("/\x00", "/"),
        ("/logout", "/"),
    ],
)
def test_safe_next(asked: str, goes_to: str) -> None:
    assert safe_next(asked) == goes_to


def test_the_cli_prints_a_hash_of_stdin():
    run = [sys.executable, "-m", "analytics.passwords"]
    done = subprocess.run(run, input="s3cret pass\n", capture_output=True, text=True, check=True)
    assert verify_password("s3cret pass", done.stdout.strip())
    empty = subprocess.run(run, input="\n", capture_output=True, text=True)
    assert empty.returncode != 0 and "empty" in empty.stderr
