"""JetStream as the use cases see it: connected or not, and a publish that waits for the ack
(`publish_event`, straight through nats-py: every lead is published, the hot path of intake)."""

from __future__ import annotations

from faststream.nats import NatsBroker

from crm_contracts.events import LeadReceived
from crm_contracts.runtime.bus import bus_connected, publish_event


class JetStreamPublisher:
    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker

    def connected(self) -> bool:
        return bus_connected(self.broker)

    async def publish(self, event: LeadReceived, timeout: float) -> bool:
        """Raises when JetStream does not ack within `timeout`; True for a duplicate."""
        ack = await publish_event(self.broker, event, timeout)
        return bool(ack.duplicate)
