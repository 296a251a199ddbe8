"""Two lead-intake replicas as real processes on one nats-server: the rate limits count the
submissions of both together, a submission key raced on both makes one lead, and a repeat on
either replica is known from the shared key store."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from services.lead_intake.tests.helpers import (
    CONTACT_FORM,
    INTEGRATION,
    OPERATOR,
    ORIGIN,
    lead_events,
    wait_on_the_bus,
)
from tests.support.net import wait_until
from tests.support.services import ServiceProcess, running

BURST = 10  # per client address; both replicas' clients are 127.0.0.1
SUBMIT = "/v1/forms/contact/submit"
BROWSER = {"Origin": ORIGIN, "Accept": "application/json"}
KEYS = 12  # submission keys raced on both replicas


@pytest.fixture
def replicas(nats_server, tmp_path: Path):
    procs = [
        ServiceProcess(
            "lead_intake",
            {
                "LEAD_INTAKE_NATS_URL": nats_server.url,
                "LEAD_INTAKE_DATA_DIR": str(tmp_path / f"intake-{i}"),  # a spool each
                "LEAD_INTAKE_API_KEY": OPERATOR["X-API-Key"],
                "LEAD_INTAKE_RATE_BURST_PER_IP": str(BURST),
                # a token back every 1000 minutes: none comes back while the test runs
                "LEAD_INTAKE_RATE_PER_IP_PER_MINUTE": "0.001",
                "LEAD_INTAKE_RATE_BURST_PER_FORM": "100000",
            },
            tmp_path / f"lead_intake-{i}.log",
        )
        for i in range(2)
    ]
    with running(procs):
        for proc in procs:
            wait_on_the_bus(proc.url)
        form = httpx.put(f"{procs[0].url}/v1/forms/contact", json=CONTACT_FORM, headers=OPERATOR)
        assert form.status_code == 200, form.text
        yield procs


def form_fields(i: int, **extra: str) -> dict[str, str]:
    rendered = int((time.time() - 10) * 1000)  # the page was rendered 10 s ago
    return {
        "phone": f"+7912{i:07d}",
        "consent": "on",
        "_form_key": CONTACT_FORM["public_key"],
        "_rendered_at": str(rendered),
    } | extra


def published(replica: ServiceProcess, result: str) -> float:
    """Leads this replica sent to JetStream that it acked as `result` ("new", "duplicate")."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in httpx.get(f"{replica.url}/metrics").text.splitlines()
        if line.startswith("crm_events_published_total{")
        and 'subject="crm.leads.received"' in line
        and f'result="{result}"' in line
    )


def test_the_rate_limit_counts_both_replicas_together(nats_server, replicas):
    async def submit_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(replicas[i % 2].url + SUBMIT, data=form_fields(i), headers=BROWSER)
                    for i in range(2 * BURST)
                )
            )

    answers = asyncio.run(submit_all())
    statuses = Counter(a.status_code for a in answers)
    # Exact: every replica takes from one bucket in NATS KV by compare-and-set, and no token
    # comes back during the test.
    assert statuses == {202: BURST, 429: BURST}, [a.text for a in answers]
    for limited in (a for a in answers if a.status_code == 429):
        assert limited.json()["errors"][0]["field"] == "ip"
        assert int(limited.headers["retry-after"]) >= 1
    accepted = {a.json()["lead_id"] for a in answers if a.status_code == 202}
    assert Counter(e["lead_id"] for e in lead_events(nats_server.url)) == dict.fromkeys(accepted, 1)
    # Refused by either replica afterwards, also by one that saw none of the bucket's takes.
    for replica in replicas:
        late = httpx.post(replica.url + SUBMIT, data=form_fields(99), headers=BROWSER)
        assert late.status_code == 429


def test_a_key_raced_on_both_replicas_makes_one_lead(nats_server, replicas):
    def lead(i: int) -> dict:
        return {"phone": f"+7913{i:07d}", "email": f"raced{i}@mail.ru"}

    async def race() -> list[tuple[httpx.Response, httpx.Response]]:
        async with httpx.AsyncClient(timeout=30) as client:

            async def both(i: int) -> tuple[httpx.Response, httpx.Response]:
                headers = INTEGRATION | {"Idempotency-Key": f"raced-{i}"}
                first, second = await asyncio.gather(
                    *(
                        client.post(r.url + "/v1/leads", json=lead(i), headers=headers)
                        for r in replicas
                    )
                )
                return first, second

            return list(await asyncio.gather(*(both(i) for i in range(KEYS))))

    lead_ids = []
    for first, second in asyncio.run(race()):
        assert first.status_code == second.status_code == 202, (first.text, second.text)
        answers = [first.json(), second.json()]
        assert answers[0]["lead_id"] == answers[1]["lead_id"]
        assert {a["status"] for a in answers} == {"accepted"}
        # One made the lead; the other is told it is a repeat of it.
        assert sorted(a["duplicate"] for a in answers) == [False, True]
        lead_ids.append(answers[0]["lead_id"])
    # A later retry on either replica: the same lead, nothing new on the stream.
    for i, lead_id in enumerate(lead_ids):
        for replica in replicas:
            again = httpx.post(
                replica.url + "/v1/leads",
                json=lead(i),
                headers=INTEGRATION | {"Idempotency-Key": f"raced-{i}"},
            )
            assert again.json() == {"lead_id": lead_id, "status": "accepted", "duplicate": True}
    events = Counter(e["lead_id"] for e in lead_events(nats_server.url))
    assert events == dict.fromkeys(lead_ids, 1)


def test_a_repeat_on_the_other_replica_is_known_from_the_shared_store(nats_server, replicas):
    first, second = replicas
    body = {"phone": "+79140000001", "submission_id": "crm-import-7"}
    made = httpx.post(first.url + "/v1/leads", json=body, headers=INTEGRATION).json()
    assert made["duplicate"] is False

    def answered_from_the_store() -> bool:
        """The second replica answers the repeat without publishing it, so it holds after
        the stream's dedup window too (until then the stream would also drop it)."""
        before = published(second, "duplicate") + published(second, "new")
        again = httpx.post(second.url + "/v1/leads", json=body, headers=INTEGRATION).json()
        repeats.append(again)
        return published(second, "duplicate") + published(second, "new") == before

    repeats: list[dict] = []
    wait_until(answered_from_the_store, what="the key in the second replica's copy")
    assert {(r["lead_id"], r["duplicate"]) for r in repeats} == {(made["lead_id"], True)}

    # A form's submission id (the embed script sets one) posted to both replicas at once.
    async def post_both() -> list[httpx.Response]:
        data = form_fields(2, _submission_id="visit-42-submit-1")
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(client.post(r.url + SUBMIT, data=data, headers=BROWSER) for r in replicas)
            )

    form_answers = asyncio.run(post_both())
    assert [a.status_code for a in form_answers] == [202, 202]
    assert form_answers[0].json() == form_answers[1].json()

    events = Counter(e["lead_id"] for e in lead_events(nats_server.url))
    assert events == {made["lead_id"]: 1, form_answers[0].json()["lead_id"]: 1}
