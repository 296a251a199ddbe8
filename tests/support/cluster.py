"""The three NATS nodes of `deploy/nats/` as local nats-server processes: the deployed config
files, templated for loopback ports and temporary store dirs (not a second copy of them)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nats

from tests.support.nats import nats_server_binary
from tests.support.net import free_ports, port_open, wait_until

CONFIGS = Path(__file__).resolve().parents[2] / "deploy" / "nats"
NODES = ("nats-1", "nats-2", "nats-3")


@dataclass
class Node:
    name: str
    store_dir: Path
    port: int
    monitor_port: int
    cluster_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"


def _replace(text: str, pattern: str, value: str, where: str) -> str:
    """One substitution that must happen: a reshaped deploy config fails loudly here."""
    out, count = re.subn(pattern, value, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"{where}: no line matching {pattern!r} to template")
    return out


def templated(node: Node, nodes: list[Node]) -> str:
    """The deployed config of `node` with loopback ports, its own store dir, and routes to
    the other nodes' cluster ports instead of the compose host names."""
    where = f"{node.name}.conf"
    text = (CONFIGS / where).read_text()
    text = _replace(text, r"^port: \d+$", f"host: 127.0.0.1\nport: {node.port}", where)
    text = _replace(text, r"^http: \d+$", f'http: "127.0.0.1:{node.monitor_port}"', where)
    text = _replace(text, r"^(\s*)store_dir: .*$", rf"\g<1>store_dir: {node.store_dir}", where)
    text = _replace(text, r"^(\s*)max_file_store: .*$", r"\g<1>max_file_store: 1GB", where)
    text = _replace(
        text, r"^(\s*)port: 6222$", rf"\g<1>host: 127.0.0.1\n\g<1>port: {node.cluster_port}", where
    )
    for other in nodes:
        text = _replace(
            text,
            rf"nats-route://{other.name}:6222",
            f"nats-route://127.0.0.1:{other.cluster_port}",
            where,
        )
    return text


class NatsCluster:
    """`url` names every node, as the services are given it in production."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ports = free_ports(3 * len(NODES))  # nine at once: no two nodes can meet on one
        self.nodes = [
            Node(name, root / name / "jetstream", *ports[3 * i : 3 * i + 3])
            for i, name in enumerate(NODES)
        ]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    @property
    def monitor_url(self) -> str:
        return self.nodes[0].monitor_url

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def start(self) -> NatsCluster:
        """All three nodes serving, or none left running."""
        try:
            for node in self.nodes:
                self.start_node(node, wait=False)
            for node in self.nodes:
                self._wait_listening(node)
            # Listening is not serving: JetStream answers once the nodes have elected a leader.
            wait_until(self._jetstream_ready, timeout=60, interval=0.5, what="a JetStream leader")
        except BaseException:
            self.stop()
            raise
        return self

    def _jetstream_ready(self) -> bool:
        async def ask() -> bool:
            nc = await nats.connect(self.url.split(","), connect_timeout=2)
            try:
                await nc.jetstream().account_info()
                return True
            finally:
                await nc.close()

        return asyncio.run(ask())

    def start_node(self, node: Node, wait: bool = True) -> None:
        node.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.root / f"{node.name}.conf"
        config.write_text(templated(node, self.nodes))
        node.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / f"{node.name}.log", "ab"),  # noqa: SIM115
        )
        if wait:
            self._wait_listening(node)

    def _wait_listening(self, node: Node) -> None:
        """Up to 60 s (a loaded machine); a node that exits or never listens shows its log."""

        def listening() -> bool:
            if node.process is not None and node.process.poll() is not None:
                raise RuntimeError(f"{node.name} exited")
            return port_open(node.port)

        try:
            wait_until(listening, timeout=60, what=f"{node.name} to listen")
        except (TimeoutError, RuntimeError) as exc:
            log = (self.root / f"{node.name}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}; its log ends:\n{log}") from exc

    def kill(self, node: Node) -> None:
        """kill -9: no goodbye to the other nodes, no flush."""
        if node.process and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(timeout=20)
        node.process = None

    def stop(self) -> None:
        for node in self.nodes:
            if node.process and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process:
                try:
                    node.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    node.process.kill()
            node.process = None
