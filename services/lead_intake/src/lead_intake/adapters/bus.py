"""JetStream as the use cases see it: connected or not, and a publish that waits for the ack
(every lead is published, the hot path of intake: see `acked_publish`)."""

from __future__ import annotations

from faststream.nats import NatsBroker

from crm_contracts.events import LeadReceived
from crm_contracts.runtime.bus import bus_connected
from lead_intake.adapters.acked_publish import AckedPublisher


class JetStreamPublisher:
    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker
        self.acked = AckedPublisher(broker)

    def connected(self) -> bool:
        return bus_connected(self.broker)

    async def publish(self, event: LeadReceived, timeout: float) -> bool:
        """Raises when JetStream does not ack within `timeout`; True for a duplicate."""
        return await self.acked.publish(event, timeout)
