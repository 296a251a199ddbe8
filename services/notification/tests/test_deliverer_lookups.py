"""When the deliverer looks a send up in the log first (in-memory ports): not for a send that
goes now (its claim finds a send done before), nor for one it skips (its write leaves a send
done before as it is); only for one it defers to after quiet hours."""

from __future__ import annotations

from notification.domain.deliveries import Delivery

from .fakes import FakeDeliveryLog
from .test_deliverer_unit import World, due_for, rule


class CountingLog(FakeDeliveryLog):
    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[str] = []

    async def get(self, delivery_id: str) -> Delivery | None:
        self.looked_up.append(delivery_id)
        return await super().get(delivery_id)


def counted(world: World) -> CountingLog:
    log = CountingLog()
    world.log = world.outcomes.log = world.deliverer.deliveries = log
    return log


async def test_a_send_that_goes_now_is_claimed_without_a_look_and_sent_once():
    world = World(rule("telegram"))
    log = counted(world)
    await world.deliverer.on_due(due_for())
    await world.deliverer.on_due(due_for())  # a redelivery: the claim finds it sent
    assert log.looked_up == []
    assert len(world.channels["telegram"].sent) == 1
    assert [d.status for d in world.outcomes.announced] == ["sent"]


async def test_a_skip_does_not_look_and_leaves_a_send_done_elsewhere_as_it_was():
    world = World(rule("telegram"))
    log = counted(world)
    await world.deliverer.on_due(due_for())  # sent by a replica with Telegram on
    world.channels["telegram"].off = "no bot token"  # this replica has it off
    await world.deliverer.on_due(due_for())
    assert log.looked_up == []
    assert world.record().status == "sent"
    assert world.outcomes.statuses() == [("sent", None)]
    assert [d.status for d in world.outcomes.announced] == ["sent"]  # found done: said again
