from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.stack import start_stack


@pytest.fixture
def stack(nats_server, smtp_server, tmp_path: Path):
    procs: dict = {}
    try:
        procs.update(start_stack(nats_server, smtp_server.port, tmp_path))
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
