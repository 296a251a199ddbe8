"""kill -9 of the real service process between JetStream's ack and the tracking write, on
both event stores: after a restart the stream holds every stored event exactly once."""

import asyncio

import httpx

from crm_contracts.envelope import derived_id
from deal_pipeline.adapters.event_mapping import to_contract
from deal_pipeline.adapters.relay import RELAY_NAME
from tests.support.nats import stream_messages
from tests.support.net import wait_until
from tests.support.services import ServiceProcess

KEY = {"X-API-Key": "crash-key"}


def published_ids(app) -> list[str]:
    events = (
        app.store.mapper.to_domain_event(n)
        for n in app.store.recorder.select_notifications(None, 10_000)
    )
    return [str(c.event_id) for c in map(to_contract, events) if c is not None]


def stream_ids(url: str) -> list[str]:
    return [m.headers["Nats-Msg-Id"] for m in asyncio.run(stream_messages(url))]


def duplicates_acked(metrics: str) -> int:
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("crm_events_published_total{") and 'result="duplicate"' in line
    )


def test_kill_9_between_publish_and_tracking_loses_and_doubles_nothing(
    crm, store, nats_server, tmp_path
):
    # Stored before the service starts, so that its relay's first batch holds all of them.
    for i in range(5):
        deal_id = crm.opening.from_lead(f"lead-{i}", f"Client {i}", email=f"c{i}@mail.ru")
        crm.deals.move_stage(deal_id, "proposal")
        _, invoice = crm.deals.issue_invoice(deal_id, 100 + i)
        crm.deals.record_payment(deal_id, 50, invoice_id=invoice)
    before_crash = published_ids(crm)

    service = ServiceProcess(
        "deal_pipeline",
        store
        | {
            "DEAL_PIPELINE_NATS_URL": nats_server.url,
            "DEAL_PIPELINE_DATA_DIR": str(tmp_path / "service"),
            "DEAL_PIPELINE_API_KEY": KEY["X-API-Key"],
            # Published and acked, then held before the tracking write: the kill lands there.
            "DEAL_PIPELINE_RELAY_HOLD_BEFORE_TRACKING": "600",
        },
        tmp_path / "deal_pipeline.log",
    ).start()
    try:
        service.wait_ready()
        wait_until(lambda: stream_ids(nats_server.url) == before_crash, what="first batch acked")
        tracking = crm.store.factory.tracking_recorder()
        assert tracking.max_tracking_id(RELAY_NAME) is None  # published, not yet tracked
        service.stop(kill=True)

        service.env["DEAL_PIPELINE_RELAY_HOLD_BEFORE_TRACKING"] = "0"
        service.start().wait_ready()
        moved = httpx.post(
            f"{service.url}/v1/deals/{derived_id('deal', 'lead-0')}/stage",
            json={"stage": "won"},
            headers=KEY,
        )
        assert moved.status_code == 200, moved.text
        last = crm.store.recorder.max_notification_id()
        wait_until(lambda: tracking.max_tracking_id(RELAY_NAME) == last, what="relay caught up")
        # The restarted relay sent the untracked batch again; JetStream called each a duplicate.
        resent = duplicates_acked(httpx.get(f"{service.url}/metrics").text)
    finally:
        service.stop()

    expected = published_ids(crm)
    on_stream = stream_ids(nats_server.url)
    print(f"stored contract events: {len(expected)}, on the stream: {len(on_stream)}")
    assert len(expected) == len(before_crash) + 1 == 26
    assert resent == len(before_crash)
    assert on_stream == expected  # every stored event once, in the order stored
