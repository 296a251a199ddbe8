"""Intake's routers as `main` wires them, on fakes of the ports (no NATS): with the form fast
path in front of the stack, or without it (the route answers every post)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_contracts.runtime.service import service_app
from lead_intake.adapters.rate_limits import LocalRateLimit
from lead_intake.api import forms as forms_api
from lead_intake.api import leads, public
from lead_intake.api.form_fast_path import FormFastPath
from lead_intake.api.guard import BodyGuard
from lead_intake.application.submit_lead import SubmitLead
from lead_intake.domain.abuse import RateLimiter
from lead_intake.metrics import count_refusal
from services.lead_intake.tests.fakes import FakeForms, FakeKeys, FakePublisher, FakeSpool

OPERATOR_KEY, INTEGRATION_KEY = "operator-key", "integration-key"
MAX_BYTES = 2048


@dataclass
class Reached:
    """The stack, noting the paths of the requests that reach it."""

    app: ASGIApp
    paths: list[str]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def fake_app(
    forms: FakeForms, per_form: RateLimiter, fast: bool, min_fill_seconds: float = 0.0
) -> tuple[FastAPI, list[str]]:
    """The app, and the paths of the requests its stack answered."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    async def readiness() -> dict[str, object]:
        return {}

    submit = SubmitLead(FakePublisher(), FakeSpool(), FakeKeys(), "RU", 1.0)
    app = service_app("test", "lead-intake", readiness, lifespan, observe_refusals=count_refusal)
    app.add_middleware(BodyGuard, max_bytes=MAX_BYTES, observe=count_refusal)
    app.include_router(leads.build_router(submit, INTEGRATION_KEY))
    limits = (LocalRateLimit(RateLimiter(600, 1000)), LocalRateLimit(per_form))
    submission = public.FormSubmission(forms, submit, limits, min_fill_seconds, "RU")
    app.include_router(public.build_router(submission))
    app.include_router(forms_api.build_router(forms, OPERATOR_KEY))
    paths: list[str] = []
    stack = app.build_middleware_stack

    def built() -> ASGIApp:
        reached = Reached(stack(), paths)
        return FormFastPath(reached, submission, MAX_BYTES, count_refusal) if fast else reached

    app.build_middleware_stack = built  # type: ignore[method-assign]
    return app, paths
