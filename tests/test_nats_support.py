"""The tests' nats-server: a port taken between its choice and the server's bind (tests run
side by side) gives new ports on a first start; a restart keeps its own. And the free ports
the tests' servers get: never one handed out lately again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import net
from tests.support.nats import NatsServer
from tests.support.net import port_open


def test_a_first_start_on_a_taken_port_takes_new_ones_and_a_restart_keeps_its_own(
    tmp_path: Path,
):
    for name in "ab":
        (tmp_path / name).mkdir()
    first = NatsServer(tmp_path / "a" / "jetstream").start()
    second = NatsServer(tmp_path / "b" / "jetstream")
    second.port = first.port  # taken, as by another test's server
    try:
        second.start()
        assert second.port != first.port
        assert port_open(second.port) and port_open(second.monitor_port)
        port = second.port
        second.restart()
        assert second.port == port
    finally:
        second.stop()
        first.stop()


def test_a_restart_whose_port_was_taken_fails_with_its_log(tmp_path: Path):
    for name in "ab":
        (tmp_path / name).mkdir()
    server = NatsServer(tmp_path / "a" / "jetstream").start()
    other = NatsServer(tmp_path / "b" / "jetstream")
    try:
        server.stop()
        other.port = server.port  # taken while it was down
        other.start()
        assert other.port == server.port
        with pytest.raises(RuntimeError, match="could not listen"):
            server.start()  # a restart: clients know its port, so no other is tried
    finally:
        other.stop()
        server.stop()


def test_a_port_the_system_gives_again_at_once_is_not_handed_out_twice(monkeypatch):
    given = iter([41001, 41001, 41002, 41001, 41003])  # a port just closed, given again

    class Socket:  # the system's side, as `free_ports` uses it
        def bind(self, address: tuple[str, int]) -> None:
            self.port = next(given)

        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", self.port)

        def close(self) -> None:
            pass

    monkeypatch.setattr(net.socket, "socket", Socket)
    assert net.free_port() == 41001
    assert net.free_ports(2) == [41002, 41003]
