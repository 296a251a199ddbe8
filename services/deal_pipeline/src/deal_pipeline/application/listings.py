"""List use cases: deals, clients and pipelines, answered from the read model after bringing
it up to date, so that a list shows every change stored before it was asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from deal_pipeline.domain.errors import InvalidValue
from deal_pipeline.domain.listing import (
    After,
    DealQuery,
    Sort,
    check_limit,
    decode_cursor,
    encode_cursor,
    fold,
)
from deal_pipeline.domain.search import ClientTerms, client_terms

CLIENT_ORDER = "id"


class ReadModelPort(Protocol):
    def catch_up(self) -> int: ...
    def rebuild(self) -> int: ...
    def deals(self, query: DealQuery) -> tuple[list[dict[str, Any]], After | None]: ...
    def clients(
        self, terms: ClientTerms | None, after: After | None, limit: int
    ) -> tuple[list[dict[str, Any]], After | None]: ...
    def pipelines(self) -> list[dict[str, Any]]: ...


class PipelineDefinitions(Protocol):
    def pipeline_definition(self, pipeline_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


class Listings:
    def __init__(
        self, read_model: ReadModelPort, definitions: PipelineDefinitions, phone_region: str
    ) -> None:
        self.read_model = read_model
        self.definitions = definitions
        self.phone_region = phone_region

    def deals(
        self,
        *,
        sort: str = "-opened_at",
        limit: int = 50,
        cursor: str | None = None,
        text: str | None = None,
        opened_from: datetime | None = None,
        opened_to: datetime | None = None,
        pipeline_id: str | None = None,
        stage: str | None = None,
        status: str | None = None,
        manager_id: str | None = None,
        client_id: str | None = None,
    ) -> Page:
        order = Sort.parse(sort)
        if opened_from and opened_to and opened_from > opened_to:
            raise InvalidValue("opened_to must not be before opened_from", "opened_to")
        query = DealQuery(
            sort=order,
            limit=check_limit(limit),
            after=decode_cursor(str(order), cursor) if cursor else None,
            text=fold(text) if text and text.strip() else None,
            opened_from=opened_from,
            opened_to=opened_to,
            pipeline_id=pipeline_id,
            stage=stage,
            status=status,
            manager_id=manager_id,
            client_id=client_id,
        )
        self.read_model.catch_up()
        rows, after = self.read_model.deals(query)
        return Page(rows, encode_cursor(str(order), after) if after else None)

    def clients(self, query: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        terms = client_terms(query, self.phone_region) if query and query.strip() else None
        after = decode_cursor(CLIENT_ORDER, cursor) if cursor else None
        self.read_model.catch_up()
        rows, last = self.read_model.clients(terms, after, check_limit(limit))
        return Page(rows, encode_cursor(CLIENT_ORDER, last) if last else None)

    def pipelines(self) -> list[dict[str, Any]]:
        """Every stored definition, and the built-in default while nobody has defined it."""
        self.read_model.catch_up()
        stored = self.read_model.pipelines()
        if not any(p["pipeline_id"] == "default" for p in stored):
            stored.insert(0, self.definitions.pipeline_definition("default"))
        return stored

    def rebuild(self) -> int:
        return self.read_model.rebuild()
