"""`last_value` answers as nats-py's `KeyValue.get` does, on a real nats-server."""

import asyncio
from typing import Any

import nats
import pytest
from nats.js.errors import InvalidKeyError, NotFoundError

from notification.adapters.kv_read import last_value


async def both(kv: Any, connection: Any, key: str) -> list[Any]:
    """The library's answer and ours: (value, revision), or NotFoundError's type."""
    answers: list[Any] = []
    for read in (kv.get, lambda k: last_value(connection, "b", k)):
        try:
            answer = await read(key)
        except NotFoundError:  # the library's KeyNotFoundError is one too
            answers.append(NotFoundError)
            continue
        answers.append((answer.value, answer.revision) if hasattr(answer, "value") else answer)
    return answers


def test_same_answers_as_the_library(nats_server):
    async def go() -> list[list[Any]]:
        connection = await nats.connect(nats_server.url)
        try:
            kv = await connection.jetstream().create_key_value(bucket="b")
            await kv.put("kept", b'{"a": 1}')
            await kv.put("kept", b'{"a": 2}')
            for key in ("deleted", "purged"):
                await kv.put(key, b"{}")
            await kv.delete("deleted")
            await kv.purge("purged")
            keys = ("kept", "deleted", "purged", "never")
            return [await both(kv, connection, key) for key in keys]
        finally:
            await connection.close()

    assert asyncio.run(go()) == [
        [(b'{"a": 2}', 2)] * 2,
        [NotFoundError] * 2,
        [NotFoundError] * 2,
        [NotFoundError] * 2,
    ]


@pytest.mark.parametrize("key", [">", "*", "a.>", "a b", ".a", ""])
def test_a_key_that_is_not_one_is_refused(nats_server, key):
    async def go() -> None:
        connection = await nats.connect(nats_server.url)
        try:
            with pytest.raises(InvalidKeyError):
                await last_value(connection, "b", key)
        finally:
            await connection.close()

    asyncio.run(go())
