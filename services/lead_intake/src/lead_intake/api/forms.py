"""Operator API for form definitions (header `X-API-Key`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from crm_contracts.runtime.errors import NotFound
from crm_contracts.runtime.security import api_key_required
from lead_intake.application.define_form import define_or_replace
from lead_intake.application.ports import FormsStore
from lead_intake.domain.forms import FORM_ID, Form, FormIn

FormId = Annotated[str, Path(pattern=FORM_ID)]


def build_router(forms: FormsStore, api_key: str) -> APIRouter:
    """A store that cannot be reached raises `Unavailable`: a 503 `store_unavailable`."""
    router = APIRouter(
        prefix="/v1/forms", tags=["forms"], dependencies=[Depends(api_key_required(api_key))]
    )

    @router.get("", response_model=list[Form])
    async def list_forms() -> list[Form]:
        return await forms.all()

    @router.put("/{form_id}", response_model=Form)
    async def put_form(form_id: FormId, body: FormIn) -> Form:
        """Create or replace a form; the public key is kept unless a new one is given."""
        return await define_or_replace(forms, form_id, body)

    @router.get("/{form_id}", response_model=Form)
    async def get_form(form_id: FormId) -> Form:
        form = await forms.get(form_id)
        if form is None:
            raise NotFound(f"no form {form_id}", "form_id")
        return form

    @router.delete("/{form_id}", status_code=204)
    async def delete_form(form_id: FormId) -> Response:
        if not await forms.delete(form_id):
            raise NotFound(f"no form {form_id}", "form_id")
        return Response(status_code=204)

    return router
