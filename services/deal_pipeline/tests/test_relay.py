"""The relay against a real nats-server, on both event stores: every stored event on the
stream exactly once, in order, with ids derived from (aggregate, version)."""

import asyncio
import json

from crm_contracts.envelope import derived_id
from crm_contracts.runtime.bus import make_broker
from crm_contracts.streams import ensure_streams
from deal_pipeline.adapters.event_mapping import to_contract
from deal_pipeline.adapters.relay import RELAY_NAME, Relay
from deal_pipeline.adapters.store_watch import StoreWatch
from tests.support.nats import stream_messages
from tests.support.net import wait_until


async def relay_once(crm, url: str, name: str = RELAY_NAME) -> int:
    broker = make_broker(url, "test-relay")
    await broker.connect()
    await ensure_streams(broker.connection.jetstream())
    relay = Relay(crm.store, broker, batch=3, name=name)
    position = await relay.position()
    while True:
        position, count = await relay.publish_batch(position)
        if count == 0:
            break
    await broker.stop()
    return position


def published_ids(app) -> list[str]:
    """The event ids the stream must hold: one per stored event that has a contract."""
    events = (
        app.store.mapper.to_domain_event(n)
        for n in app.store.recorder.select_notifications(None, 10_000)
    )
    return [str(c.event_id) for c in map(to_contract, events) if c is not None]


def test_stored_events_are_published_once_in_order_with_derived_ids(crm, nats_server):
    deal_id = crm.opening.from_lead("lead-1", "Ann")
    crm.deals.move_stage(deal_id, "proposal")
    crm.deals.move_stage(deal_id, "won")
    other = crm.opening.from_lead("lead-2", "Bob")

    last = asyncio.run(relay_once(crm, nats_server.url))
    assert last == crm.store.recorder.max_notification_id()
    messages = asyncio.run(stream_messages(nats_server.url))
    deal_messages = [m for m in messages if m.subject.startswith("crm.deals.")]
    assert [m.subject for m in deal_messages] == [
        "crm.deals.opened",
        "crm.deals.stage_changed",
        "crm.deals.won",
        "crm.deals.opened",
    ]
    assert [m.headers["Nats-Msg-Id"] for m in deal_messages] == [
        str(derived_id("event", deal_id, 1)),
        str(derived_id("event", deal_id, 2)),
        str(derived_id("event", deal_id, 3)),
        str(derived_id("event", other, 1)),
    ]
    won = json.loads(deal_messages[2].data)
    assert (won["from_stage"], won["to_stage"], won["status"]) == ("proposal", "won", "won")
    assert won["correlation_id"] == "lead-1" and won["manager_id"] == "m1"
    assert [m.headers["Nats-Msg-Id"] for m in messages] == published_ids(crm)
    assert crm.store.factory.tracking_recorder().max_tracking_id(RELAY_NAME) == last


def test_a_relay_that_lost_its_position_publishes_no_duplicates(crm, nats_server):
    """As after kill -9 between the ack and the tracking write: the same events go out again
    with the same Nats-Msg-Id, and JetStream keeps one of each."""
    deal_id = crm.opening.from_lead("lead-1", "Ann")
    crm.deals.move_stage(deal_id, "qualified")
    asyncio.run(relay_once(crm, nats_server.url))
    crm.deals.move_stage(deal_id, "proposal")
    asyncio.run(relay_once(crm, nats_server.url, name="relay-without-position"))
    messages = asyncio.run(stream_messages(nats_server.url))
    assert [m.headers["Nats-Msg-Id"] for m in messages] == published_ids(crm)
    assert len(messages) == 4  # client, opened, two moves


def test_relay_resumes_after_its_tracked_position(crm, nats_server):
    crm.opening.from_lead("lead-1", "Ann")
    asyncio.run(relay_once(crm, nats_server.url))
    crm.opening.from_lead("lead-2", "Bob")
    asyncio.run(relay_once(crm, nats_server.url))
    assert [m.headers["Nats-Msg-Id"] for m in asyncio.run(stream_messages(nats_server.url))] == (
        published_ids(crm)
    )


async def run_relay_until(crm, url: str, done) -> None:
    """A running relay that could only learn of new events by being woken: its idle poll is
    an hour, far beyond the test's wait."""
    broker = make_broker(url, "test-relay")
    await broker.connect()
    await ensure_streams(broker.connection.jetstream())
    relay = Relay(crm.store, broker, idle_poll=3600)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(asyncio.to_thread(done), timeout=30)
    finally:
        await relay.stop(task)
        await broker.stop()


def saves_each_seen_on_the_stream(app, url: str):
    """Save, wait for the stream to show it, three times: after the relay's first read, only
    a wake-up can bring it the next event."""

    def run() -> None:
        for i in range(3):
            app.opening.from_lead(f"lead-{i}", "Ann")
            expected = 2 * (i + 1)  # the client and the deal
            wait_until(
                lambda n=expected: len(asyncio.run(stream_messages(url))) == n,
                what=f"{expected} messages",
            )

    return run


def test_a_save_in_this_process_wakes_the_relay(crm, nats_server):
    asyncio.run(
        run_relay_until(crm, nats_server.url, saves_each_seen_on_the_stream(crm, nats_server.url))
    )


def test_a_relay_cancelled_as_a_save_wakes_it_ends(crm, nats_server):
    """The wake-up and the cancel in the same turn of the event loop: the cancel is not lost
    (with `asyncio.wait_for` it was, on Python 3.11, and the relay went back to its
    hour-long idle wait: a test hung there in CI)."""

    async def run() -> bool:
        broker = make_broker(nats_server.url, "test-relay")
        await broker.connect()
        await ensure_streams(broker.connection.jetstream())
        relay = Relay(crm.store, broker, idle_poll=3600)
        task = asyncio.create_task(relay.run())
        try:
            await asyncio.to_thread(wait_until, lambda: relay_is_idle(task), what="idle")
            crm.opening.from_lead("lead-1", "Ann")  # in this thread: wakes it at the next turn
            await asyncio.sleep(0)
            task.cancel()
            await asyncio.wait({task}, timeout=10)
            return task.done()
        finally:
            if not task.done():
                await relay.stop(task)
            await broker.stop()

    assert asyncio.run(run())


def relay_is_idle(task: asyncio.Task[None]) -> bool:
    """Waiting for a wake-up: its chain of awaits passes through `Wakeup.wait`."""
    awaiting = task.get_coro()
    while awaiting is not None:
        code = getattr(awaiting, "cr_code", None)
        if code is not None and code.co_qualname == "Wakeup.wait":
            return True
        awaiting = getattr(awaiting, "cr_await", None)
    return False


def test_a_save_by_another_process_wakes_the_relay_on_postgres(postgres_server, nats_server):
    """PostgreSQL NOTIFYs each insert; the relay LISTENs, so a save by another application
    (which cannot call our in-process hook) is published without waiting for the poll."""
    from deal_pipeline.main import use_cases

    name = postgres_server.create_database()
    relaying = use_cases(postgres_server.env(name))
    writer = use_cases(postgres_server.env(name))
    try:
        done = saves_each_seen_on_the_stream(writer, nats_server.url)
        asyncio.run(run_relay_until(relaying, nats_server.url, done))
    finally:
        relaying.close()
        writer.close()
        postgres_server.drop_database(name)


def test_a_relay_that_tracks_rarely_stores_its_position_when_idle_and_at_stop(crm, nats_server):
    """Under a stream of saves the position is written at most every `tracking_interval`
    (the first batch is written at once); a round that finds nothing new writes it, and so
    does stopping."""
    tracking = crm.store.factory.tracking_recorder()
    url = nats_server.url

    def saved(lead_id: str) -> int:
        crm.opening.from_lead(lead_id, "Ann")
        return crm.store.recorder.max_notification_id()

    def on_stream(count: int) -> None:
        wait_until(lambda: len(asyncio.run(stream_messages(url))) == count, what=f"{count}")

    def tracked(position: int) -> None:
        wait_until(lambda: tracking.max_tracking_id(RELAY_NAME) == position, what="tracked")

    async def run(idle_poll: float, steps) -> None:
        broker = make_broker(url, "test-relay")
        await broker.connect()
        await ensure_streams(broker.connection.jetstream())
        relay = Relay(crm.store, broker, idle_poll=idle_poll, tracking_interval=3600)
        task = asyncio.create_task(relay.run())
        try:
            await asyncio.to_thread(steps)
            await relay.stop(task)
        finally:
            await broker.stop()

    def published_then_stopped() -> None:
        tracked(saved("lead-0"))  # the first batch
        first = tracking.max_tracking_id(RELAY_NAME)
        saved("lead-1")
        on_stream(4)  # published; on SQLite no round since (only a wake-up starts one)
        if not StoreWatch(crm.store.recorder, lambda: None).notifies:
            # (PostgreSQL's NOTIFY of the same save wakes it again: an idle round writes it.)
            assert tracking.max_tracking_id(RELAY_NAME) == first

    asyncio.run(run(3600, published_then_stopped))
    assert tracking.max_tracking_id(RELAY_NAME) == crm.store.recorder.max_notification_id()

    def published_then_idle() -> None:
        saved("lead-2")
        on_stream(6)
        tracked(saved("lead-3"))  # by the round after it, which finds nothing new

    asyncio.run(run(0.05, published_then_idle))
    published = [m.headers["Nats-Msg-Id"] for m in asyncio.run(stream_messages(url))]
    assert published == published_ids(crm)


def test_a_batch_refused_part_way_is_published_again_whole_each_event_once(crm, nats_server):
    """A batch's publishes go out together: when JetStream stores the first ones and refuses
    the rest (here a full stream), the batch fails, its position does not move, and the next
    try sends it whole. The stream then holds every event once, in store order."""
    from nats.js.api import DiscardPolicy

    for i in range(3):
        crm.opening.from_lead(f"lead-{i}", "Ann")  # a client and a deal each: six events

    async def run() -> None:
        broker = make_broker(nats_server.url, "test-relay")
        await broker.connect()
        js = broker.connection.jetstream()
        await ensure_streams(js)
        config = (await js.stream_info("CRM")).config
        await js.update_stream(config.evolve(max_msgs=4, discard=DiscardPolicy.NEW))
        relay = Relay(crm.store, broker, batch=100, publish_timeout=2)
        try:
            refused = None
            try:
                await relay.publish_batch(0)
            except Exception as exc:  # the fifth and sixth: "maximum messages exceeded"
                refused = exc
            assert refused is not None
            assert await relay.position() == 0
            assert len(await stream_messages(nats_server.url)) == 4

            await js.update_stream(config)  # room again
            last = crm.store.recorder.max_notification_id()
            assert (await relay.publish_batch(0))[0] == last
        finally:
            await broker.stop()

    asyncio.run(run())
    published = [m.headers["Nats-Msg-Id"] for m in asyncio.run(stream_messages(nats_server.url))]
    assert published == published_ids(crm) and len(published) == 6
