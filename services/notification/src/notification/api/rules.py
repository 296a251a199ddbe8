"""Operator API for rules: `PUT/GET/DELETE /v1/rules/{id}` and `GET /v1/rules`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from crm_contracts.runtime.errors import rejection
from crm_contracts.runtime.security import api_key_required
from notification.adapters.rule_store import RuleStore
from notification.app.digests import DigestClock
from notification.domain.rules import RULE_ID, Rule
from notification.domain.templates import check

# Validated on every route: a bad id is a 422, and the bucket's own keys (e.g. the seed
# marker) are out of reach.
RuleId = Annotated[str, Path(pattern=RULE_ID)]


def _not_found(rule_id: str) -> JSONResponse:
    return rejection(404, "not_found", [{"field": "rule_id", "reason": f"no rule {rule_id!r}"}])


def rules_router(api_key: str, rules: RuleStore, clock: DigestClock) -> APIRouter:
    router = APIRouter(
        prefix="/v1/rules", tags=["rules"], dependencies=[Depends(api_key_required(api_key))]
    )

    @router.get("")
    async def list_rules() -> dict[str, Any]:
        return {"rules": [r.model_dump(mode="json") for r in await rules.all()]}

    @router.get("/{rule_id}")
    async def get_rule(rule_id: RuleId) -> Any:
        rule = await rules.get(rule_id)
        return rule.model_dump(mode="json") if rule else _not_found(rule_id)

    @router.put("/{rule_id}")
    async def put_rule(rule_id: RuleId, body: dict[str, Any] = Body(...)) -> Any:
        if body.get("id", rule_id) != rule_id:
            return rejection(
                422, "validation_failed", [{"field": "id", "reason": "differs from the path"}]
            )
        try:
            rule = Rule.model_validate(body | {"id": rule_id})
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]) or "body", "reason": e["msg"]}
                for e in exc.errors()
            ]
            return rejection(422, "validation_failed", errors)
        problems = check(rule.template)
        if problems:
            return rejection(
                422,
                "validation_failed",
                [{"field": p.split(": ", 1)[0], "reason": p.split(": ", 1)[1]} for p in problems],
            )
        existed = await rules.get(rule_id) is not None
        await rules.put(rule)
        await clock.sync(rule)
        return JSONResponse(rule.model_dump(mode="json"), status_code=200 if existed else 201)

    @router.delete("/{rule_id}", status_code=204)
    async def delete_rule(rule_id: RuleId) -> Response:
        if not await rules.delete(rule_id):
            return _not_found(rule_id)
        await clock.drop(rule_id)
        return Response(status_code=204)

    return router
