"""Where the freshness bench's time goes: each lead's and deal's time on the bus, read back from
the CRM stream (JetStream stamps every stored message), and the arithmetic of "visible"."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field

import nats

LEAD_SUBJECT = "crm.leads.received"
DEAL_SUBJECT = "crm.deals.opened"


@dataclass
class BusTimes:
    """Wall-clock seconds at which JetStream stored each lead and each lead's deal."""

    lead_stored: dict[str, float] = field(default_factory=dict)
    deal_stored: dict[str, float] = field(default_factory=dict)  # by the lead that opened it


async def bus_times(url: str, stream: str = "CRM") -> BusTimes:
    """Reads the leads and opened deals of the stream with an ephemeral pull consumer."""
    times = BusTimes()
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for subject, into in ((LEAD_SUBJECT, times.lead_stored), (DEAL_SUBJECT, times.deal_stored)):
            sub = await js.pull_subscribe(subject, stream=stream)
            try:
                while True:
                    try:
                        batch = await sub.fetch(1000, timeout=2)
                    except nats.errors.TimeoutError:
                        break
                    for msg in batch:
                        lead_id = json.loads(msg.data).get("lead_id")
                        if lead_id:
                            into.setdefault(lead_id, msg.metadata.timestamp.timestamp())
                        await msg.ack()
                    if batch[-1].metadata.num_pending == 0:
                        break
            finally:
                await sub.unsubscribe()
    finally:
        await nc.close()
    return times


def visible_times(starts: list[float], polls: list[tuple[float, int]]) -> list[float | None]:
    """The i-th start (in time order) is visible at the first poll whose count reaches i, and
    not before its own start; None when no poll reached it."""
    poll_times = [t for t, _ in polls]
    counts = [c for _, c in polls]
    best = []  # running max of the counts: a count never goes down in a funnel of new deals
    high = 0
    for c in counts:
        high = max(high, c)
        best.append(high)
    seen: list[float | None] = []
    for i, start in enumerate(sorted(starts), start=1):
        k = bisect.bisect_left(best, i)
        if k == len(best):
            seen.append(None)
            continue
        k = max(k, bisect.bisect_left(poll_times, start))  # a poll after the start itself
        seen.append(poll_times[k] if k < len(poll_times) else None)
    return seen


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (not empty)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def spread(values: list[float]) -> dict[str, float]:
    """p50, p99 and max, in milliseconds."""
    if not values:
        return {}
    return {
        "p50_ms": round(percentile(values, 0.5) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


async def backlog(url: str) -> dict[str, int]:
    """Per durable consumer of every stream, the messages it has not acked yet: what each
    service still had to do when the funnel had counted every lead (notification's e-mails
    come well after)."""
    out: dict[str, int] = {}
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for stream in await js.streams_info():
            for consumer in await js.consumers_info(stream.config.name):
                if consumer.config.durable_name:
                    out[consumer.name] = consumer.num_pending + consumer.num_ack_pending
    finally:
        await nc.close()
    return out
