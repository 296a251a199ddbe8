"""nats-py 2.16's PullSubscription.fetch raises a bare `asyncio.TimeoutError` when the fetch
deadline is already spent; FastStream's pull loop suppresses only `nats.errors.TimeoutError`,
so that plain timeout kills its fetch task: the supervisor restarts it after a pause and the
consumer stalls (projections fall seconds behind). Until the libraries agree, every fetch
timeout is raised as the nats-py error, which is also an `asyncio.TimeoutError`."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def as_nats_timeout(fetch: F) -> F:
    @functools.wraps(fetch)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fetch(*args, **kwargs)
        except NatsTimeoutError:
            raise
        except TimeoutError as exc:
            raise NatsTimeoutError from exc

    wrapper.__dict__["crm_timeout_shim"] = True
    return cast(F, wrapper)


def install() -> None:
    pull = JetStreamContext.PullSubscription
    if not getattr(pull.fetch, "crm_timeout_shim", False):
        pull.fetch = as_nats_timeout(pull.fetch)  # type: ignore[method-assign]  # patched in place


install()
