"""`python -m analytics.passwords`: reads a password and prints its hash for
`ANALYTICS_DASHBOARD_USERS`. Asks twice on a terminal; otherwise reads the first line of stdin
(`echo -n secret | python -m analytics.passwords`), so the password never lands in argv."""

from __future__ import annotations

import getpass
import sys

from analytics.domain.auth.passwords import hash_password


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        sys.exit("the passwords differ")
    return password


def main() -> None:
    password = read_password()
    if not password:
        sys.exit("an empty password is refused")
    print(hash_password(password))


if __name__ == "__main__":
    main()
