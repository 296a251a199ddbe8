"""Operator API for form definitions (header `X-API-Key`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from crm_contracts.runtime.errors import rejection
from lead_intake.adapters.forms_store import FormStore
from lead_intake.adapters.kv import StoreUnavailable
from lead_intake.domain.forms import FORM_ID, Form, FormIn, define_form

FormId = Annotated[str, Path(pattern=FORM_ID)]


def operator_router(check_key) -> APIRouter:  # type: ignore[no-untyped-def]
    router = APIRouter(prefix="/v1/forms", tags=["forms"], dependencies=[Depends(check_key)])

    def store(request: Request) -> FormStore:
        return request.app.state.forms

    def unavailable(exc: StoreUnavailable) -> JSONResponse:
        return rejection(503, "store_unavailable", [{"field": "", "reason": str(exc)[:200]}])

    def not_found(form_id: str) -> JSONResponse:
        return rejection(404, "not_found", [{"field": "form_id", "reason": f"no form {form_id}"}])

    @router.get("", response_model=list[Form])
    async def list_forms(request: Request) -> list[Form] | JSONResponse:
        try:
            return await store(request).all()
        except StoreUnavailable as exc:
            return unavailable(exc)

    @router.put("/{form_id}", response_model=Form)
    async def put_form(form_id: FormId, body: FormIn, request: Request) -> Form | JSONResponse:
        """Create or replace a form; the public key is kept unless a new one is given."""
        forms = store(request)
        try:
            old = await forms.get(form_id)
            if old and body.public_key is None:
                body = body.model_copy(update={"public_key": old.public_key})
            form = define_form(form_id, body)
            await forms.put(form)
        except StoreUnavailable as exc:
            return unavailable(exc)
        return form

    @router.get("/{form_id}", response_model=Form)
    async def get_form(form_id: FormId, request: Request) -> Form | JSONResponse:
        form = await store(request).get(form_id)
        return form or not_found(form_id)

    @router.delete("/{form_id}", status_code=204)
    async def delete_form(form_id: FormId, request: Request) -> Response:
        try:
            existed = await store(request).delete(form_id)
        except StoreUnavailable as exc:
            return unavailable(exc)
        return Response(status_code=204) if existed else not_found(form_id)

    return router
