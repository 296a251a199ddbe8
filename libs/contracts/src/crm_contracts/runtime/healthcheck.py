"""`python -m crm_contracts.runtime.healthcheck [service]`: exit 0 when the service in this
container answers `/healthz`, 1 otherwise (the image's HEALTHCHECK).

The service is named, or else found from the container's command (PID 1 runs one of the
console scripts, e.g. `lead-intake`); its port comes from its own settings class (entry point
group `crm.settings`), so a port set through the environment is the one probed."""

from __future__ import annotations

import sys
import urllib.request
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

GROUP = "crm.settings"


def settings_classes() -> dict[str, Any]:
    """Each service's settings class, by service name."""
    return {e.name: e.load() for e in entry_points(group=GROUP)}


def running_service(names: set[str]) -> str | None:
    """The service PID 1 runs: the console script named in its command line."""
    try:
        argv = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    found = [Path(arg.decode(errors="replace")).name for arg in argv]
    return next((name for name in found if name in names), None)


def healthy(service: str, timeout: float = 3.0) -> bool:
    settings = settings_classes()[service]()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    try:
        url = f"http://{host}:{settings.port}/healthz"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main(argv: list[str]) -> int:
    names = set(settings_classes())
    service = argv[0] if argv else running_service(names)
    if service not in names:
        print(f"which service? one of: {', '.join(sorted(names))}", file=sys.stderr)
        return 2
    return 0 if healthy(service) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
