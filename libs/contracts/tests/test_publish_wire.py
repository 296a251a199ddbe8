"""`publish_event` goes straight through nats-py; what lands on the stream must be what
FastStream's own publish put there (the way it published before), for every event type, so
that every consumer reads it alike: the same JSON bytes (non-ASCII text as UTF-8, amounts as
strings) and the same headers in the same order."""

from __future__ import annotations

import asyncio
import uuid

from crm_contracts.envelope import Event
from crm_contracts.events import EVENT_TYPES, DealOpened
from crm_contracts.examples import example_of
from crm_contracts.runtime.bus import (
    event_headers,
    make_broker,
    publish_event,
    start_when_reachable,
)
from crm_contracts.streams import CRM
from tests.support.nats import stream_messages

MESSAGE_IDS = ("Nats-Msg-Id", "Crm-Correlation-Id", "correlation_id")  # each message's own


def events() -> list[Event]:
    made = [cls.model_validate(example_of(cls)) for cls in EVENT_TYPES]
    opened = DealOpened.model_validate(example_of(DealOpened))
    # Text beyond ASCII, as titles and names are: FastStream's JSON keeps it as UTF-8.
    title = "Окна «Рассвет» — 2 шт."
    return [*made, opened.model_copy(update={"title": title, "event_id": uuid.uuid4()})]


def test_every_event_goes_on_the_wire_as_faststreams_publish_sent_it(nats_server):
    pairs = [(e, e.model_copy(update={"event_id": uuid.uuid4()})) for e in events()]

    async def publish_all() -> list[bool]:
        broker = make_broker(nats_server.url, "wire-test")
        await start_when_reachable(broker)
        try:
            duplicates = []
            for reference, direct in pairs:
                await broker.publish(
                    reference.model_dump(mode="json"),
                    reference.SUBJECT,
                    headers=event_headers(reference),
                    stream=CRM,
                    timeout=2.0,
                )
                duplicates.append(bool((await publish_event(broker, direct)).duplicate))
                duplicates.append(bool((await publish_event(broker, direct)).duplicate))
            return duplicates
        finally:
            await broker.stop()

    # The repeat of each is the stream's duplicate (the same Nats-Msg-Id).
    assert asyncio.run(publish_all()) == [False, True] * len(pairs)
    messages = asyncio.run(stream_messages(nats_server.url))
    assert len(messages) == 2 * len(pairs)
    for (reference, direct), via_faststream, straight in zip(
        pairs, messages[::2], messages[1::2], strict=True
    ):
        name = type(reference).__name__
        assert straight.subject == via_faststream.subject == reference.SUBJECT, name
        old, new = str(reference.event_id).encode(), str(direct.event_id).encode()
        assert straight.data == via_faststream.data.replace(old, new, 1), name  # the first key
        assert list(straight.headers) == list(via_faststream.headers), name
        same = {k: v for k, v in straight.headers.items() if k not in MESSAGE_IDS}
        assert same == {k: v for k, v in via_faststream.headers.items() if k not in MESSAGE_IDS}
        assert straight.headers["Nats-Msg-Id"] == str(direct.event_id), name
