"""Operator API for rules: `PUT/GET/DELETE /v1/rules/{id}` and `GET /v1/rules`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response
from fastapi.responses import JSONResponse

from crm_contracts.runtime.security import api_key_required
from notification.application.manage_rules import RuleAdmin
from notification.domain.rules import RULE_ID

# Validated on every route: a bad id is a 422, and the bucket's own keys (e.g. the seed
# marker) are out of reach.
RuleId = Annotated[str, Path(pattern=RULE_ID)]


def rules_router(api_key: str, admin: RuleAdmin) -> APIRouter:
    router = APIRouter(
        prefix="/v1/rules", tags=["rules"], dependencies=[Depends(api_key_required(api_key))]
    )

    @router.get("")
    async def list_rules() -> dict[str, Any]:
        return {"rules": [r.model_dump(mode="json") for r in await admin.all()]}

    @router.get("/{rule_id}")
    async def get_rule(rule_id: RuleId) -> dict[str, Any]:
        return (await admin.get(rule_id)).model_dump(mode="json")

    @router.put("/{rule_id}")
    async def put_rule(rule_id: RuleId, body: dict[str, Any] = Body(...)) -> JSONResponse:
        rule, created = await admin.put(rule_id, body)
        return JSONResponse(rule.model_dump(mode="json"), status_code=201 if created else 200)

    @router.delete("/{rule_id}", status_code=204)
    async def delete_rule(rule_id: RuleId) -> Response:
        await admin.delete(rule_id)
        return Response(status_code=204)

    return router
