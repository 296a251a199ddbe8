"""NATS KV buckets of lead intake: form definitions and idempotency keys."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from faststream.nats import NatsBroker
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from crm_contracts.runtime.bus import bus_connected
from lead_intake.domain.forms import Form

log = logging.getLogger(__name__)
FORMS_BUCKET = "intake_forms"
IDEMPOTENCY_BUCKET = "intake_idempotency"
KV_TIMEOUT = 2.0


class StoreUnavailable(RuntimeError):
    """NATS is not reachable; callers answer 503 (operator API) or fall back (intake)."""


async def _bucket(broker: NatsBroker, name: str, ttl: float | None, replicas: int) -> KeyValue:
    if not bus_connected(broker):
        raise StoreUnavailable("NATS is not connected")
    try:
        return await asyncio.wait_for(
            broker.key_value(name, ttl=ttl, replicas=replicas), KV_TIMEOUT
        )
    except Exception as exc:
        raise StoreUnavailable(str(exc)) from exc


class FormStore:
    """Forms live in KV; each replica also keeps the last known set in memory, so forms keep
    working for visitors while NATS is down (their leads go to the spool)."""

    def __init__(self, broker: NatsBroker, replicas: int) -> None:
        self.broker = broker
        self.replicas = replicas
        self.cache: dict[str, Form] = {}

    async def _kv(self) -> KeyValue:
        return await _bucket(self.broker, FORMS_BUCKET, None, self.replicas)

    async def put(self, form: Form) -> None:
        kv = await self._kv()
        try:
            await asyncio.wait_for(
                kv.put(form.form_id, form.model_dump_json().encode()), KV_TIMEOUT
            )
        except Exception as exc:
            raise StoreUnavailable(str(exc)) from exc
        self.cache[form.form_id] = form

    async def delete(self, form_id: str) -> bool:
        existed = await self.get(form_id) is not None
        kv = await self._kv()
        try:
            await asyncio.wait_for(kv.delete(form_id), KV_TIMEOUT)
        except Exception as exc:
            raise StoreUnavailable(str(exc)) from exc
        self.cache.pop(form_id, None)
        return existed

    async def get(self, form_id: str) -> Form | None:
        """From KV when reachable (and refresh the cache), else the last known definition."""
        try:
            kv = await self._kv()
            entry = await asyncio.wait_for(kv.get(form_id), KV_TIMEOUT)
        except KeyNotFoundError:
            self.cache.pop(form_id, None)
            return None
        except Exception:
            return self.cache.get(form_id)
        form = Form.model_validate_json(entry.value or b"{}")
        self.cache[form_id] = form
        return form

    def cached(self, form_id: str) -> Form | None:
        return self.cache.get(form_id)

    async def all(self) -> list[Form]:
        kv = await self._kv()
        try:
            keys = await asyncio.wait_for(kv.keys(), KV_TIMEOUT)
        except NoKeysError:
            keys = []
        except Exception as exc:
            raise StoreUnavailable(str(exc)) from exc
        forms = [form for key in sorted(keys) if (form := await self.get(key))]
        self.cache = {form.form_id: form for form in forms}
        return forms

    async def refresh_forever(self, every: float) -> None:
        """Picks up forms edited through other replicas; quiet while NATS is down."""
        while True:
            try:
                await self.all()
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("refreshing forms failed")
            await asyncio.sleep(every)


@dataclass(frozen=True)
class Seen:
    lead_id: str


class IdempotencyStore:
    """Submission keys already turned into a lead, kept for `ttl` seconds."""

    def __init__(self, broker: NatsBroker, ttl: float, replicas: int) -> None:
        self.broker = broker
        self.ttl = ttl
        self.replicas = replicas

    @staticmethod
    def _key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()  # any text → a valid KV key

    async def seen(self, key: str) -> Seen | None:
        """None also when NATS is down: then the stream's dedup window is the guard."""
        try:
            kv = await _bucket(self.broker, IDEMPOTENCY_BUCKET, self.ttl, self.replicas)
            entry = await asyncio.wait_for(kv.get(self._key(key)), KV_TIMEOUT)
        except Exception:
            return None
        return Seen(lead_id=(entry.value or b"").decode())

    async def remember(self, key: str, lead_id: str) -> None:
        try:
            kv = await _bucket(self.broker, IDEMPOTENCY_BUCKET, self.ttl, self.replicas)
            await asyncio.wait_for(kv.put(self._key(key), lead_id.encode()), KV_TIMEOUT)
        except Exception as exc:
            log.warning("could not record idempotency key: %s", exc)
