"""A send this process planned reads its rule and cards from what the process keeps; one
planned by another process reads the bus (own_plans.py). Real nats-server, real SMTP server;
two connections as two replicas."""

import asyncio
from typing import Any

from notification.adapters.directory import Directory
from notification.adapters.own_plans import PLANNED_BY, new_origin, planned_by, sending
from notification.adapters.rule_store import RuleStore
from notification.domain.defaults import DEFAULT_RULES
from tests.support.net import wait_until

from .test_deal_opened_email import opened
from .test_directory_replicas import replicas, won
from .test_kv_watch import reads_of
from .two_replicas import two_replicas

HERE = new_origin()  # the instance `b` (or the one rule store) of a test
ELSEWHERE = {PLANNED_BY: new_origin()}


def test_a_send_planned_here_reads_no_deal_card_from_the_bus(
    nats_server, start_service, publish, smtp_server, deliveries
):
    service = start_service(
        seed_default_rules=True,
        telegram_bot_token=None,  # its rule still fires: skipped, with the cards read
        manager_emails={"m1": "ivan@shop.test"},
    )

    async def listen() -> tuple[Any, list[bytes]]:
        return await reads_of(nats_server.url, "notification_deals")

    loop = asyncio.new_event_loop()
    listener, asked = loop.run_until_complete(listen())
    try:
        publish(opened("d1"))
        wait_until(lambda: len(smtp_server.messages) == 1, what="the e-mail")
        wait_until(
            lambda: sorted(d["status"] for d in deliveries(service)) == ["sent", "skipped"],
            what="both sends over",
        )
        loop.run_until_complete(listener.flush())
    finally:
        loop.run_until_complete(listener.close())
        loop.close()
    # The plan wrote the card (no read); the old code read it again for each of the two sends.
    assert asked == []
    assert smtp_server.messages[0]["Subject"] == "New deal: Deal d1"


def test_a_send_planned_elsewhere_reads_the_bus_though_an_older_card_is_kept(nats_server):
    """`b` keeps the deal as opened; `a` records the win and plans its send. Its watch not
    told yet (made silent here), `b` must not answer that send from memory."""

    async def scenario(a: Directory, b: Directory) -> list[Any]:
        b.deals.written = lambda *told: None  # a silent watch
        await b.apply(opened("d1"))
        await a.apply(won("d1"))
        with sending(ELSEWHERE, HERE):
            elsewhere = (await b.card("deals", "d1"))["stage"]
        await b.apply(opened("d2"))
        await a.apply(won("d2"))
        with sending(planned_by(HERE), HERE):  # what `b` planned: from memory, silent or not
            here = (await b.card("deals", "d2"))["stage"]
        with sending(None, HERE):  # a scheduled send carries no mark
            unmarked = (await b.card("deals", "d2"))["stage"]
        return [elsewhere, here, unmarked]

    assert replicas(nats_server.url, scenario) == ["won", "new", "won"]


def test_a_rule_disabled_on_the_other_replica_is_told_to_a_send_planned_here(nats_server):
    async def go() -> list[Any]:
        async with two_replicas(nats_server.url) as brokers:
            a, b = RuleStore(brokers[0]), RuleStore(brokers[1])
            rule = DEFAULT_RULES[0]
            await a.put(rule)
            await b.all()  # `b` plans with it
            listener, asked = await reads_of(nats_server.url, "notification_rules")
            await a.put(rule.model_copy(update={"enabled": False}))
            with sending(planned_by(HERE), HERE):
                for _ in range(500):  # the watch tells `b` within moments
                    found = await b.get(rule.id)
                    if found is not None and not found.enabled:
                        break
                    await asyncio.sleep(0.01)
            await listener.flush()
            await listener.close()
            return [found is not None and found.enabled, asked]

    assert asyncio.run(go()) == [False, []]
