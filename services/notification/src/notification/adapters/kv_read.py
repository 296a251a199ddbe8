"""A KV read as nats-py's `KeyValue.get` makes it (the stream leader's last message on the
key's subject), without its cost: the library parses the stored headers with the e-mail
package's parser, a third of the CPU of each read, and the service reads several cards,
a rule and a delivery record for every send."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime

from nats.aio.client import Client
from nats.js.api import DEFAULT_PREFIX
from nats.js.errors import APIError, InvalidKeyError, NotFoundError

from crm_contracts.runtime.nats_headers import parse_header_lines

TIMEOUT = 5.0  # nats-py's JetStream default, as `KeyValue.get` waits
DELETED = ("DEL", "PURGE")  # a delete's or purge's marker (header KV-Operation)
KEY = re.compile(r"[-/_=a-zA-Z0-9]([-/_=.a-zA-Z0-9]*[-/_=a-zA-Z0-9])?")  # as nats-py checks


async def last_value(connection: Client, bucket: str, key: str) -> tuple[bytes, int]:
    """The key's value and revision; NotFoundError when it was never written or is deleted."""
    value, revision, _ = await last_entry(connection, bucket, key)
    return value, revision


async def last_entry(connection: Client, bucket: str, key: str) -> tuple[bytes, int, float]:
    """`last_value` and when it was written (seconds since the epoch)."""
    if not KEY.fullmatch(key):  # a wildcard would read some other key
        raise InvalidKeyError(key)
    request = json.dumps({"last_by_subj": f"$KV.{bucket}.{key}"}).encode()
    reply = await connection.request(
        f"{DEFAULT_PREFIX}.STREAM.MSG.GET.KV_{bucket}", request, timeout=TIMEOUT
    )
    answer = json.loads(reply.data)
    if "error" in answer:
        APIError.from_error(answer["error"])  # raises the library's error (404: NotFoundError)
    message = answer["message"]
    headers = parse_header_lines(base64.b64decode(message["hdrs"])) if "hdrs" in message else {}
    if headers.get("KV-Operation") in DELETED:
        raise NotFoundError
    value = base64.b64decode(message.get("data") or "")
    return value, message["seq"], written_at(message["time"])


def written_at(moment: str) -> float:
    """Seconds since the epoch of the server's RFC 3339 time (to the second: enough for a TTL
    of days; Python 3.11 does not read nanoseconds)."""
    return datetime.fromisoformat(moment[:19] + "+00:00").timestamp()
