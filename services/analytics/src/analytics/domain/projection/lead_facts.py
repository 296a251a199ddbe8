"""Each deal row's lead facts (DealRow's `lead_*`), so that the lead funnel reads one row per
deal instead of joining every deal to the leads (docs/reports.md "lead funnel").

A lead's facts are fixed once it is received, so they may come from wherever they are known:
the batch's own leads, the leads received lately (in memory, bounded: a deal opens soon after
its lead), or the deal's rows already stored (a deal re-folded from its history, its row no
longer in memory). Once on a row they go with it to every later version. Where none of these
knows them the row is written without, and the funnel joins that deal to the leads as it
reads: slower, never different."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Container, Iterable
from datetime import datetime

from analytics.domain.projection.rows import DealRow, LeadRow, evolve

# received_at, channel, touch_source, utm_campaign: the lead row's columns the funnel reads
LeadFacts = tuple[datetime, str, str, str]
RECENT_LEADS = 100_000  # leads whose facts are kept in memory (some 25 MiB)


def facts_of(lead: LeadRow) -> LeadFacts:
    return (lead.received_at, lead.channel, lead.touch_source, lead.utm_campaign)


def with_facts(deal: DealRow, facts: LeadFacts) -> DealRow:
    received_at, channel, touch_source, campaign = facts
    return evolve(
        deal,
        lead_received_at=received_at,
        lead_channel=channel,
        lead_touch_source=touch_source,
        lead_campaign=campaign,
    )


def lacks_facts(deal: DealRow) -> bool:
    """The deal has a lead whose facts its row does not carry."""
    return bool(deal.lead_id) and deal.lead_received_at is None


class LeadFactKeeper:
    def __init__(self, recent: int = RECENT_LEADS) -> None:
        self.capacity = max(recent, 1)
        self.recent: OrderedDict[str, LeadFacts] = OrderedDict()

    def forget(self) -> None:
        self.recent.clear()

    def learn(self, leads: Iterable[LeadRow]) -> None:
        """The facts of a batch's leads, before its deals are folded."""
        for lead in leads:
            self.recent[lead.lead_id] = facts_of(lead)
            self.recent.move_to_end(lead.lead_id)
        while len(self.recent) > self.capacity:
            self.recent.popitem(last=False)

    def complete(
        self,
        deals: list[DealRow],
        stored: Callable[[set[str]], dict[str, LeadFacts]],
        refolded: Container[str] = (),
    ) -> list[DealRow]:
        """`deals` (rows about to be written), those lacking their lead's facts given them
        where known. `stored` reads the facts the stored rows of deals carry, by deal id; it
        is asked only about `refolded` deals (folded from their history: a row kept in memory
        already carries whatever its stored rows do) that memory cannot complete."""
        out: list[DealRow] = []
        unknown: list[int] = []  # positions in `out`
        for deal in deals:
            if lacks_facts(deal):
                facts = self.recent.get(deal.lead_id)
                if facts is not None:
                    deal = with_facts(deal, facts)
                elif deal.deal_id in refolded:
                    unknown.append(len(out))
            out.append(deal)
        if unknown:
            found = stored({out[k].deal_id for k in unknown})
            for k in unknown:
                if (facts := found.get(out[k].deal_id)) is not None:
                    out[k] = with_facts(out[k], facts)
        return out
