"""Request metrics of the shared service frame: every response counted by route template."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from crm_contracts.runtime.service import service_app


@asynccontextmanager
async def no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


async def always_ready() -> dict[str, object]:
    return {"ok": True}


def app_with_routes() -> FastAPI:
    app = service_app("test", "test", always_ready, no_lifespan)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/v1/forms/{form_id}")
    async def form(form_id: str) -> dict[str, str]:
        return {"form_id": form_id}

    return app


def count(route: str, status: str, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("crm_http_requests_total", labels) or 0.0


def route_labels() -> set[str]:
    return {
        s.labels["route"]
        for metric in REGISTRY.collect()
        if metric.name == "crm_http_requests"
        for s in metric.samples
    }


def test_an_unhandled_exception_is_counted_as_500() -> None:
    before = count("/boom", "500")
    with TestClient(app_with_routes(), raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
        metrics = client.get("/metrics").text
    assert count("/boom", "500") == before + 1
    assert 'crm_http_requests_total{method="GET",route="/boom",status="500"}' in metrics


def test_routes_are_labelled_by_template_and_unknown_paths_share_one_label() -> None:
    before = count("/v1/forms/{form_id}", "200")
    unknown = [f"/nope/{uuid.uuid4().hex}" for _ in range(3)]
    with TestClient(app_with_routes()) as client:
        assert client.get("/v1/forms/contact").status_code == 200
        for path in unknown:
            assert client.get(path).status_code == 404
        assert client.request("FROBNICATE", "/v1/forms/x").status_code == 405
    assert count("/v1/forms/{form_id}", "200") == before + 1
    assert count("unmatched", "404") >= 3
    assert count("/v1/forms/{form_id}", "405", method="other") >= 1
    labels = route_labels()
    assert not any(label.startswith("/nope/") or label == "/v1/forms/contact" for label in labels)
