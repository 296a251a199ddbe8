import asyncio

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext

import crm_contracts.runtime.bus  # noqa: F401 - installs the shim
from crm_contracts.runtime.nats_timeouts import as_nats_timeout


def test_a_bare_timeout_becomes_the_nats_error_that_faststream_expects():
    async def fetch():
        raise TimeoutError

    with pytest.raises(NatsTimeoutError):
        asyncio.run(as_nats_timeout(fetch)())


def test_other_outcomes_pass_through():
    async def ok():
        return ["message"]

    async def broken():
        raise ValueError("boom")

    assert asyncio.run(as_nats_timeout(ok)()) == ["message"]
    with pytest.raises(ValueError):
        asyncio.run(as_nats_timeout(broken)())


def test_installed_on_pull_subscriptions():
    assert getattr(JetStreamContext.PullSubscription.fetch, "crm_timeout_shim", False)
