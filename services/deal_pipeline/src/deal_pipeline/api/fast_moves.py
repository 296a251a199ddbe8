"""`POST /v1/deals/{deal_id}/stage`, the command a pipeline board sends most, without the
per-request machinery of FastAPI and the middleware (`crm_contracts.runtime.fast_path`): with
the command itself in place on SQLite, FastAPI's routing, dependencies and middleware were
half the CPU of a move. Taken here: the right key, a deal id in its canonical form (lower-case
hex with hyphens, as this service writes it) and a JSON body that parses as a `MoveStage`.
Anything else goes on to the stack, body and all, and the route in `deals.py` answers exactly
as before; that route is also what the OpenAPI document shows."""

from __future__ import annotations

import hmac
import re
from uuid import UUID

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_contracts.runtime.fast_path import again, answer_json, is_json, whole_body
from deal_pipeline.api.deals import view_json
from deal_pipeline.api.models import DealView, MoveStage
from deal_pipeline.application.deal_commands import DealCommands
from deal_pipeline.application.ports import StoreCall

ROUTE = "/v1/deals/{deal_id}/stage"
HEX = "[0-9a-f]"
PATH = re.compile(f"/v1/deals/({HEX}{{8}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{12}})/stage")


class FastMoves:
    def __init__(self, app: ASGIApp, deals: DealCommands, run: StoreCall, api_key: str) -> None:
        self.app = app
        self.deals = deals
        self.run = run
        self.key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        path = PATH.fullmatch(scope["path"])
        if path is None:
            return await self.app(scope, receive, send)
        key = content_type = None
        # The first of repeated keys, as Starlette reads a header; the last content type, as
        # FastAPI reads the body's.
        for name, value in scope["headers"]:
            if name == b"x-api-key" and key is None:
                key = value
            elif name == b"content-type":
                content_type = value
        if key is None or not hmac.compare_digest(key, self.key) or not is_json(content_type):
            return await self.app(scope, receive, send)
        first, body = await whole_body(receive)
        move = parsed(body) if body is not None else None
        if move is None:
            return await self.app(scope, again(first, receive), send)
        deal_id = UUID(path[1])

        async def command() -> tuple[int, bytes]:
            deal = await self.run(self.deals.move_stage, deal_id, move.stage, move.lost_reason)
            return 200, view_json(DealView.of(deal))

        await answer_json(scope, receive, send, ROUTE, command)


def parsed(body: bytes) -> MoveStage | None:
    try:
        return MoveStage.model_validate_json(body)
    except ValidationError:
        return None  # the route answers with the 422 it words
