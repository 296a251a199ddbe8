"""Schemathesis over a service's OpenAPI schema, in-process: whatever it sends, never a 5xx, and
every refusal has the one error shape. Each service says which operations to skip, how many
examples each gets and how to steer a case toward real records (`prepare`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

Prepare = Callable[[Any, Iterator[int]], None]


def no_input_gets_a_server_error(
    app: Any,
    *,
    headers: Mapping[str, str],
    skip: Collection[str] = (),
    at_least: int = 1,
    examples: int = 20,
    prepare: Prepare | None = None,
    base_url: str | None = None,
) -> None:
    """`app` is an ASGI app called in-process, or (with `base_url`) its OpenAPI document, the
    cases then going over HTTP to a real process there. `prepare(case, turns)` may rewrite a
    case before it is sent; `turns` counts calls so a preparer can alternate (real ids half the
    time, generated ones the other half)."""
    if base_url is None:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    else:
        schema = schemathesis.openapi.from_dict(app)
    over = {} if base_url is None else {"base_url": base_url}
    operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.path not in skip]
    assert len(operations) >= at_least, [op.path for op in operations]
    turns = itertools.count()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            if prepare is not None:
                prepare(case, turns)
            response = case.call(headers=dict(headers), **over)
            where = f"{case.method} {case.formatted_path} {case.query!r} {case.body!r}"
            assert response.status_code < 500, f"{where}: {response.text[:500]}"
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error", "errors"} and body["error"], f"{where}: {body}"

        fuzz()
