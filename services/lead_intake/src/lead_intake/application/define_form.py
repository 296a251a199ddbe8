"""An operator creates or replaces a form; its public key is kept unless a new one is given,
so pages already embedding the form keep working after an edit."""

from __future__ import annotations

from lead_intake.application.ports import FormsStore
from lead_intake.domain.forms import Form, FormIn, define_form


async def define_or_replace(forms: FormsStore, form_id: str, body: FormIn) -> Form:
    old = await forms.get(form_id)
    if old and body.public_key is None:
        body = body.model_copy(update={"public_key": old.public_key})
    form = define_form(form_id, body)
    await forms.put(form)
    return form
