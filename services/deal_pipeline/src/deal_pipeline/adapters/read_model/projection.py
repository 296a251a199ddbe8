"""Stored domain events → read model rows. Each statement checks the row's version, so an
event applied twice (it cannot be, the position moves in the same transaction) changes
nothing. Events of indexes, counters, managers and plans have no rows here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from eventsourcing.utils import resolve_topic

from deal_pipeline.adapters.read_model.sql import Tx
from deal_pipeline.domain.client import Client
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.listing import fold
from deal_pipeline.domain.pipeline import PipelineDefinition

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BIGINT = 2**63 - 1


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def minor_units(amount: Decimal) -> int:
    """The sort key of an amount (kopecks), kept inside BIGINT."""
    return max(-BIGINT, min(BIGINT, int(Decimal(amount) * 100)))


# The events that have rows here (`apply`); Deal.Event covers Deal.Opened too.
PROJECTED = (Deal.Event, Client.Registered, Client.Updated, PipelineDefinition.TermsSet)


@lru_cache(maxsize=256)
def has_rows(topic: str) -> bool:
    """Whether events of this stored topic change rows: the others (a third of a lead's
    events: its contact's index entry, the round-robin counter) need not be decoded. A topic
    that does not resolve is decoded, and fails there as before."""
    try:
        return issubclass(resolve_topic(topic), PROJECTED)
    except Exception:
        return True


def apply(tx: Tx, e: object) -> None:
    if isinstance(e, Deal.Event):
        _deal(tx, e)
    elif isinstance(e, Client.Registered | Client.Updated):
        _client(tx, e)
    elif isinstance(e, PipelineDefinition.TermsSet):
        _pipeline(tx, e)


def _deal(tx: Tx, e: Deal.Event) -> None:
    deal_id, version, at = str(e.originator_id), e.originator_version, micros(e.timestamp)
    if isinstance(e, Deal.Opened):
        tx.execute(
            "INSERT INTO dp_rm_deals (id, lead_id, client_id, pipeline_id, stage, status,"
            " manager_id, title, title_folded, amount, amount_minor, currency, paid_total,"
            " opened_at, updated_at, version) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?,"
            " '0', ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                deal_id,
                e.lead_id,
                e.client_id,
                e.pipeline_id,
                e.stage,
                e.manager_id,
                e.title,
                fold(e.title),
                str(e.amount),
                minor_units(e.amount),
                e.currency,
                at,
                at,
                version,
            ),
        )
        return
    changes: dict[str, Any] = {}
    if isinstance(e, Deal.StageChanged):
        changes = {"stage": e.to_stage, "status": e.status}
    elif isinstance(e, Deal.AmountChanged):
        changes = {
            "amount": str(e.amount),
            "amount_minor": minor_units(e.amount),
            "currency": e.currency,
        }
    elif isinstance(e, Deal.Assigned):
        changes = {"manager_id": e.manager_id}
    elif isinstance(e, Deal.PaymentReceived):
        changes = {"paid_total": str(e.paid_total)}
    changes |= {"updated_at": at, "version": version}
    assignments = ", ".join(f"{column} = ?" for column in changes)  # names from this code only
    tx.execute(
        f"UPDATE dp_rm_deals SET {assignments} WHERE id = ? AND version < ?",
        (*changes.values(), deal_id, version),
    )


def _client(tx: Tx, e: Client.Registered | Client.Updated) -> None:
    client_id, version = str(e.originator_id), e.originator_version
    if isinstance(e, Client.Registered):
        phones, emails = [e.phone] if e.phone else [], [e.email] if e.email else []
    else:
        phones, emails = list(e.phones), list(e.emails)
    stored = tx.execute(
        "INSERT INTO dp_rm_clients (id, name, name_folded, phones, emails, updated_at, version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
        " name_folded = excluded.name_folded, phones = excluded.phones,"
        " emails = excluded.emails, updated_at = excluded.updated_at, version = excluded.version"
        " WHERE dp_rm_clients.version < excluded.version RETURNING id",
        (
            client_id,
            e.name,
            fold(e.name or ""),
            json.dumps(phones),
            json.dumps(emails),
            micros(e.timestamp),
            version,
        ),
    )
    if not stored:  # an older event than the row: its contacts are not current either
        return
    if version > 1:  # stored at version 1 the client's row is new, and so it has no contacts
        tx.execute("DELETE FROM dp_rm_contacts WHERE client_id = ?", (client_id,))
    contacts = [("phone", p) for p in phones] + [("email", m) for m in emails]
    for kind, value in dict.fromkeys(contacts):
        tx.execute(
            "INSERT INTO dp_rm_contacts (kind, value, client_id) VALUES (?, ?, ?)",
            (kind, value, client_id),
        )


def _pipeline(tx: Tx, e: PipelineDefinition.TermsSet) -> None:
    definition = {
        "name": e.name,
        "stages": e.stages,
        "lost_reasons": e.lost_reasons,
        "manager_ids": e.manager_ids,
    }
    tx.execute(
        "INSERT INTO dp_rm_pipelines (pipeline_id, definition, version) VALUES (?, ?, ?)"
        " ON CONFLICT (pipeline_id) DO UPDATE SET definition = excluded.definition,"
        " version = excluded.version WHERE dp_rm_pipelines.version < excluded.version",
        (e.pipeline_id, json.dumps(definition), e.originator_version),
    )
