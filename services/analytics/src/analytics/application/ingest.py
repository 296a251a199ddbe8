"""The projection's use case: a batch of bus messages into the analytics tables.

Each message is parsed once. Events and single-event rows collapse on their keys in
ReplacingMergeTree, so a redelivery changes nothing. Latest-state rows (deals, tasks,
clients) are kept in memory (domain/projection/latest.py): an event newer than every version
of its key seen so far is applied to the row at once. A key is re-folded from its stored
history (`fold_events`) only when that is the only way to be right: an older version shows up
late, or the key is not in memory but may have been stored before (after a restart or an
eviction). A re-folded row of an unchanged version is written again, and being the fuller one
it wins."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from operator import attrgetter
from typing import Any, Generic, Protocol

import orjson
from pydantic import ValidationError

from analytics.domain.hashing import scrub, scrub_plan
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.folds import FOLDS, Beside, fold, pseudonymise
from analytics.domain.projection.latest import KnownKeys, Latest, LatestRows, R
from analytics.domain.projection.lead_facts import LeadFactKeeper, LeadFacts
from analytics.domain.projection.paths import PathKeeper, TouchKey
from analytics.domain.projection.rows import (
    DealRow,
    FoldEventRow,
    LeadOwnerRow,
    LeadRow,
    Row,
    TouchRow,
)
from analytics.domain.projection.tables import event_row, rows_of
from crm_contracts.envelope import Event
from crm_contracts.events import BY_TYPE

log = logging.getLogger(__name__)
DEFAULT_CAPACITY = 100_000  # latest rows kept per folded table


class ProjectionStore(Protocol):
    """Where projected rows go (adapters/projection_store.py)."""

    def write(self, rows: Sequence[Row]) -> None:
        """All the rows of one table in one INSERT (`rows` share one type)."""

    def history(self, stream: str, keys: set[str]) -> list[Event]:
        """Every stored event of the keys of one folded table (any order, repeats allowed)."""

    def keys(self, stream: str) -> Iterable[str]:
        """Every key of one folded table that has stored history."""

    def linked_leads(self) -> Iterable[str]:
        """Every lead a stored `lead_owners` row names (repeats allowed)."""

    def owners_of(self, leads: set[str]) -> list[tuple[str, str]]:
        """(lead, owner) of the stored links of these leads."""

    def touches_of(self, leads: set[str]) -> dict[str, list[TouchKey]]:
        """The stored touches of these leads (those with none left out)."""

    def lead_facts_of(self, deals: set[str]) -> dict[str, LeadFacts]:
        """The lead facts stored rows of these deals carry (deals with none left out)."""


class GenericEvent(Event):
    """An event type this version does not know yet: kept raw in `events`."""


@dataclass
class Parsed:
    events: list[Event] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)  # each event's JSON object
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in batch, reason)

    @property
    def payloads(self) -> list[str]:
        return [orjson.dumps(d).decode() for d in self.data]

    def forget(self) -> None:
        """Let go of the events and their data now, whoever still holds these lists: the
        worker thread that projected them may not have dropped its arguments yet. Done before
        the collector runs again, else its first pass walks every event of the batch."""
        self.events.clear()
        self.data.clear()


def parse_batch(bodies: Sequence[bytes | str]) -> Parsed:
    parsed = Parsed()
    for index, body in enumerate(bodies):
        try:
            data = orjson.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            known = BY_TYPE.get(data.get("event_type"))
            event = (known or GenericEvent).model_validate(data)
        except (ValidationError, ValueError, TypeError) as exc:  # TypeError: a list as type
            parsed.rejected.append((index, str(exc)[:500]))
            continue
        parsed.events.append(event)
        parsed.data.append(data)
    return parsed


class FoldedTable(Generic[R]):
    """One latest-state table: its rows in memory and the keys it has ever stored. `beside`
    makes a row of another table from an event applied to a row (folds.py)."""

    def __init__(
        self,
        row_type: type[R],
        key_of: Callable[[Event], str | None],
        apply: Callable[[Event, R | None, ProjectionConfig], R | None],
        beside: Beside,
        capacity: int,
    ) -> None:
        self.row_type, self.key_of, self.apply = row_type, key_of, apply
        self.beside = beside
        self.latest: LatestRows[R] = LatestRows(capacity)
        self.known = KnownKeys()
        self.loaded = False  # `known` filled from the store
        self.refolded: set[str] = set()  # the keys the last batch folded from their history

    def forget(self) -> None:
        self.latest.clear()
        self.known.clear()
        self.loaded = False

    def learn_keys(self, store: ProjectionStore) -> None:
        """Once, before a batch is stored: which keys the store already has."""
        if not self.loaded:
            self.known.update(store.keys(self.row_type.TABLE))
            self.loaded = True

    def project(
        self,
        store: ProjectionStore,
        events: list[Event],
        config: ProjectionConfig,
        stored: Callable[[], None] = lambda: None,
        made: list[Row] | None = None,
    ) -> list[R]:
        """The rows this batch changed, in their final state; the rows `beside` makes of the
        events applied go to `made` (a re-folded key's: of its whole history). `stored()`
        returns once the batch's `fold_events` are stored, so that a history read includes
        them."""
        made = [] if made is None else made
        by_key: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            if key := self.key_of(event):
                by_key[key].append(event)
        changed: dict[str, R] = {}
        refold: set[str] = set()
        self.refolded = refold
        for key, keyed in by_key.items():
            entry = self.latest.get(key)
            if entry is None:
                if key in self.known:
                    refold.add(key)  # stored before, not in memory: its history decides
                    continue
                entry = Latest()
                self.latest.put(key, entry)
                self.known.add(key)
            for event in sorted(keyed, key=lambda e: e.aggregate_version):
                version = event.aggregate_version
                if version in entry.versions:
                    continue  # a redelivery
                if entry.versions and version < max(entry.versions):
                    refold.add(key)  # late: it goes between versions already applied
                    break
                entry.versions.add(version)
                row = self.apply(event, entry.row, config)
                if row is not None:
                    entry.row = changed[key] = row
                    if (extra := self.beside(event, row)) is not None:
                        made.append(extra)
        if refold:
            stored()
            history = store.history(self.row_type.TABLE, refold)
            folded = fold(history, {}, self.key_of, self.apply, config, self.beside, made)
            versions: dict[str, set[int]] = defaultdict(set)
            for event in history:
                if key := self.key_of(event):
                    versions[key].add(event.aggregate_version)
            for key in refold:
                row = folded.get(key)
                self.latest.put(key, Latest(row, versions[key]))
                if row is not None:
                    changed[key] = row
        return list(changed.values())

    def keep(self, rows: Iterable[R], key: Callable[[R], str]) -> None:
        """`rows`, completed after the fold, replace the rows in memory of their keys."""
        for row in rows:
            if (entry := self.latest.get(key(row))) is not None:
                entry.row = row


class Projector:
    """The projection of one database. Owns the latest rows in memory, so one instance per
    writer: the live projection has one, a rebuild its own."""

    def __init__(
        self, store: ProjectionStore, config: ProjectionConfig, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        self.store, self.config = store, config
        self.tables: list[FoldedTable[Any]] = [
            FoldedTable(row_type, key_of, apply, beside, capacity)
            for row_type, key_of, apply, beside in FOLDS
        ]
        self.paths = PathKeeper()
        self.lead_facts = LeadFactKeeper()

    def forget(self) -> None:
        """The tables were replaced under us (a rebuild swapped them in): start cold."""
        for table in self.tables:
            table.forget()
        self.paths.forget()
        self.lead_facts.forget()

    def project(self, events: list[Event], data: list[dict[str, Any]]) -> None:
        """One INSERT per table per batch; safe to call again with the same batch."""
        config, store = self.config, self.store
        for table in self.tables:
            table.learn_keys(store)
        self.paths.learn(store.linked_leads)
        writes = BatchWrites(store)
        try:
            private = [pseudonymise(e, config.hash_salt) for e in events]
            # The histories first: a re-fold reads them back. Then the rows in an order that
            # keeps the writer busy while the rest is computed, the smallest INSERT last:
            # the batch ends when its last INSERT lands.
            dumped: list[str | None] = [None] * len(data)  # each event's own JSON, once made
            writes.submit(self._history_rows(private, events, data, dumped))
            by_table: dict[type[Row], list[Row]] = defaultdict(list)
            for event in events:
                for row in rows_of(event, config):
                    by_table[type(row)].append(row)
            leads = by_table.pop(LeadRow, [])
            self.lead_facts.learn(leads)  # type: ignore[arg-type]
            # The leads before the deals that carry their facts: should a later INSERT fail,
            # no deal row counts a lead the store does not have.
            writes.submit(leads)
            beside: list[Row] = []  # one table's (known_payments): the deals' fold makes them
            for table in self.tables:
                rows = table.project(store, private, config, writes.wait, beside)
                if table.row_type is DealRow:
                    rows = self._with_lead_facts(table, rows)
                writes.submit(rows)
            writes.submit(beside)
            salt = config.hash_salt
            writes.submit(
                [
                    event_row(e, _scrubbed(e, d, salt, j))
                    for e, d, j in zip(events, data, dumped, strict=True)
                ]
            )
            for made in by_table.values():
                writes.submit(made)
            writes.submit(
                self.paths.rows(
                    by_table.get(TouchRow, []),  # type: ignore[arg-type]
                    by_table.get(LeadOwnerRow, []),  # type: ignore[arg-type]
                    store.touches_of,
                    store.owners_of,
                )
            )
            writes.wait()
        except BaseException:
            writes.settle()
            # Memory ran ahead of the store: the batch comes again, and must not be taken
            # for a redelivery. Start cold; what was stored is read back from the store.
            self.forget()
            raise

    def _with_lead_facts(self, table: FoldedTable[DealRow], deals: list[DealRow]) -> list[DealRow]:
        """The batch's deal rows with their lead's facts where known; memory keeps the
        completed rows, so the facts go on to the deal's later versions."""
        completed = self.lead_facts.complete(deals, self.store.lead_facts_of, table.refolded)
        table.keep(
            (new for new, old in zip(completed, deals, strict=True) if new is not old),
            attrgetter("deal_id"),
        )
        return completed

    def _history_rows(
        self,
        private: list[Event],
        events: list[Event],
        data: list[dict[str, Any]],
        own_json: list[str | None],
    ) -> list[FoldEventRow]:
        """Each folded key's history, contacts pseudonymised. An event with nothing to
        pseudonymise is stored as it came (the same JSON, without a second dump), which is
        left in `own_json` for the raw table."""
        rows: list[FoldEventRow] = []
        for index, (e, original, d) in enumerate(zip(private, events, data, strict=True)):
            keyed = [(t.row_type.TABLE, k) for t in self.tables if (k := t.key_of(e))]
            if keyed:
                if _as_it_came(e, original, d):
                    dumped = own_json[index] = orjson.dumps(d).decode()
                else:
                    dumped = e.model_dump_json()
                rows.extend(
                    FoldEventRow(stream, key, e.aggregate_version, e.event_id, dumped)
                    for stream, key in keyed
                )
        return rows


class BatchWrites:
    """A batch's INSERTs, run in order on the one writer thread while the rest of the batch is
    still computed: the engine writes without the GIL, so the two overlap."""

    def __init__(self, store: ProjectionStore) -> None:
        self.store = store
        self.pending: list[Future[None]] = []

    def submit(self, rows: Sequence[Row]) -> None:
        if rows:
            self.pending.append(_writer().submit(self.store.write, rows))

    def wait(self) -> None:
        """Every INSERT submitted so far has landed; the first failure raised."""
        pending, self.pending = self.pending, []
        failure: BaseException | None = None
        for write in pending:
            try:
                write.result()
            except BaseException as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def settle(self) -> None:
        """After a failure: nothing of this batch is left writing (its errors are moot)."""
        with suppress(BaseException):
            self.wait()


@cache
def _writer() -> ThreadPoolExecutor:
    """One writer thread for the process: INSERTs land in the order they were submitted."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-writer")


def _as_it_came(event: Event, original: Event, data: dict[str, Any]) -> bool:
    """The message's own JSON reads back as exactly this event: nothing pseudonymised, no key
    the model does not know (it could carry a contact), and no field left to a default made
    at parse time (an id or a time would differ at every re-read)."""
    if event is not original:
        return False
    known, made = _keys_of(type(event))
    return data.keys() <= known and made <= data.keys()


@cache
def _keys_of(model: type[Event]) -> tuple[frozenset[str], frozenset[str]]:
    """A model's fields, and those whose default is made at parse time (`default_factory`)."""
    fields = model.model_fields
    made = {name for name, f in fields.items() if f.default_factory is not None}
    return frozenset(fields), frozenset(made)


def _scrubbed(event: Event, data: dict[str, Any], salt: str, own_json: str | None) -> str:
    """The payload for the raw `events` table: `own_json` (the event's JSON as it came, when
    already made) if scrubbing changes nothing."""
    if isinstance(event, GenericEvent):
        return orjson.dumps(scrub(data, salt)).decode()
    scrubbed = scrub_plan(type(event)).apply(data, salt)
    if scrubbed is data and own_json is not None:
        return own_json
    return orjson.dumps(scrubbed).decode()


def ingest(
    store: ProjectionStore, events: list[Event], payloads: list[str], config: ProjectionConfig
) -> None:
    """One batch by a projector that remembers nothing (every key folded from its history)."""
    Projector(store, config).project(events, [orjson.loads(p) for p in payloads])
