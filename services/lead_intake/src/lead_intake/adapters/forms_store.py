"""Form definitions: NATS KV is the truth; each replica keeps the last known set in memory and
in a small file, so forms keep working for visitors while NATS is down, also after a restart
(their leads go to the spool)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from faststream.nats import NatsBroker
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from lead_intake.adapters.kv import KV_TIMEOUT, StoreUnavailable, bucket
from lead_intake.domain.forms import Form

log = logging.getLogger(__name__)
FORMS_BUCKET = "intake_forms"


class FormStore:
    def __init__(self, broker: NatsBroker, replicas: int, mirror: Path) -> None:
        self.broker = broker
        self.replicas = replicas
        self.mirror = mirror
        self.cache: dict[str, Form] = self._load()

    def _load(self) -> dict[str, Form]:
        try:
            data = json.loads(self.mirror.read_text())
            return {f["form_id"]: Form.model_validate(f) for f in data}
        except FileNotFoundError:
            return {}
        except Exception:
            log.exception("ignoring an unreadable %s", self.mirror)
            return {}

    def _keep(self, cache: dict[str, Form]) -> None:
        """Replace the cache; rewrite the mirror (atomically) only when something changed."""
        if cache == self.cache and self.mirror.exists():
            return
        self.cache = cache
        self.mirror.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.mirror.with_suffix(".tmp")
        tmp.write_text(json.dumps([f.model_dump(mode="json") for f in cache.values()]))
        os.replace(tmp, self.mirror)

    def _set(self, form_id: str, form: Form | None) -> None:
        cache = {k: v for k, v in self.cache.items() if k != form_id}
        if form is not None:
            cache[form_id] = form
        self._keep(cache)

    async def _kv(self) -> KeyValue:
        return await bucket(self.broker, FORMS_BUCKET, None, self.replicas)

    async def put(self, form: Form) -> None:
        kv = await self._kv()
        try:
            await asyncio.wait_for(
                kv.put(form.form_id, form.model_dump_json().encode()), KV_TIMEOUT
            )
        except Exception as exc:
            raise StoreUnavailable(str(exc)) from exc
        self._set(form.form_id, form)

    async def delete(self, form_id: str) -> bool:
        existed = await self.get(form_id) is not None
        kv = await self._kv()
        try:
            await asyncio.wait_for(kv.delete(form_id), KV_TIMEOUT)
        except Exception as exc:
            raise StoreUnavailable(str(exc)) from exc
        self._set(form_id, None)
        return existed

    async def get(self, form_id: str) -> Form | None:
        """From KV when reachable (and refresh the cache), else the last known definition."""
        try:
            entry = await asyncio.wait_for((await self._kv()).get(form_id), KV_TIMEOUT)
        except KeyNotFoundError:
            self._set(form_id, None)
            return None
        except Exception:
            return self.cache.get(form_id)
        form = Form.model_validate_json(entry.value or b"{}")
        self._set(form_id, form)
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
        self._keep({form.form_id: form for form in forms})
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
