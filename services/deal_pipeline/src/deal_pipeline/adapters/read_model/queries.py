"""Reads of the read model: filtered, keyset-paged and sorted, with bound parameters only.
A page asks for one row more than its limit, to know whether another page follows."""

from __future__ import annotations

import json
from typing import Any

from deal_pipeline.adapters.read_model.projection import micros
from deal_pipeline.adapters.read_model.sql import Row, Tx
from deal_pipeline.domain.listing import After, DealQuery
from deal_pipeline.domain.search import ClientTerms

SORT_COLUMNS = {"opened_at": "opened_at", "updated_at": "updated_at", "amount": "amount_minor"}
DEAL_COLUMNS = (
    "id, lead_id, client_id, pipeline_id, stage, status, manager_id, title, amount, currency,"
    " paid_total, opened_at, updated_at, version"
)


def like(text: str) -> str:
    """A substring pattern: the user's %, _ and \\ match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def deals(tx: Tx, query: DealQuery) -> tuple[list[Row], After | None]:
    where: list[str] = []
    params: list[Any] = []
    equal = {
        "pipeline_id": query.pipeline_id,
        "stage": query.stage,
        "status": query.status,
        "manager_id": query.manager_id,
        "client_id": query.client_id,
    }
    for column, value in equal.items():
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.opened_from is not None:
        where.append("opened_at >= ?")
        params.append(micros(query.opened_from))
    if query.opened_to is not None:
        where.append("opened_at < ?")
        params.append(micros(query.opened_to))
    if query.text:
        where.append("title_folded LIKE ? ESCAPE '\\'")
        params.append(like(query.text))
    column = SORT_COLUMNS[query.sort.key]
    direction, beyond = ("DESC", "<") if query.sort.descending else ("ASC", ">")
    if query.after is not None:
        where.append(f"({column} {beyond} ? OR ({column} = ? AND id {beyond} ?))")
        params += [query.after.value, query.after.value, query.after.id]
    rows = tx.execute(
        f"SELECT {DEAL_COLUMNS}, {column} AS sort_value FROM dp_rm_deals"
        f" {'WHERE ' + ' AND '.join(where) if where else ''}"
        f" ORDER BY {column} {direction}, id {direction} LIMIT ?",
        (*params, query.limit + 1),
    )
    return _page(rows, query.limit, lambda row: After(row["sort_value"], row["id"]))


def clients(
    tx: Tx, terms: ClientTerms | None, after: After | None, limit: int
) -> tuple[list[Row], After | None]:
    """By phone or e-mail (exact, normalised) or a piece of the name; ordered by id."""
    where: list[str] = []
    params: list[Any] = []
    if terms is not None:
        matches = ["name_folded LIKE ? ESCAPE '\\'"]
        params.append(like(terms.name))
        for kind, value in (("phone", terms.phone), ("email", terms.email)):
            if value:
                matches.append(
                    "id IN (SELECT client_id FROM dp_rm_contacts WHERE kind = ? AND value = ?)"
                )
                params += [kind, value]
        where.append(f"({' OR '.join(matches)})")
    if after is not None:
        where.append("id > ?")
        params.append(after.id)
    rows = tx.execute(
        "SELECT id, name, phones, emails, version FROM dp_rm_clients"
        f" {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id LIMIT ?",
        (*params, limit + 1),
    )
    for row in rows:
        row["phones"], row["emails"] = json.loads(row["phones"]), json.loads(row["emails"])
    return _page(rows, limit, lambda row: After(None, row["id"]))


def pipelines(tx: Tx) -> list[Row]:
    rows = tx.execute("SELECT pipeline_id, definition, version FROM dp_rm_pipelines")
    return [
        {"pipeline_id": r["pipeline_id"], "version": r["version"], **json.loads(r["definition"])}
        for r in sorted(rows, key=lambda r: r["pipeline_id"])
    ]


def _page(rows: list[Row], limit: int, after_of: Any) -> tuple[list[Row], After | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, after_of(rows[-1])
