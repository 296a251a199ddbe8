"""An SMTP server that accepts and drops every message, run as its own process by the freshness
bench (`python -m bench.fresh_smtp PORT`): a deal e-mail per lead must not cost the process
that paces the leads and times the funnel."""

from __future__ import annotations

import sys
import threading

from aiosmtpd.controller import Controller


class Discard:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def main() -> None:
    controller = Controller(Discard(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    try:
        threading.Event().wait()  # until the bench terminates the process
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
