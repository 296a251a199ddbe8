"""Attribution's paths kept per owner as the events come (docs/reports.md "attribution"). The
path of a deal is cut from its owner's touches: the owner is its client, or its own lead
when it has none (both fixed when the deal opens), and its touches are those of every lead
that opened one of its deals. So an owner's touches only ever grow, by a lead's touches once
the link between the two is known, whichever of the lead and the deal comes first. Each batch
adds them as rows of `owner_paths`, whose engine unites the rows of one owner.

What keeps this cheap: a deal usually opens right after its lead, so the lead's touches are
still in memory (`recent`, bounded); a lead usually comes before its deal, so a lead no link
names yet needs no look-up, which a Bloom filter of the linked leads answers with certainty
(`linked`). Anything else is looked up in the store, a batch at a time."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from analytics.domain.projection.latest import KnownKeys
from analytics.domain.projection.rows import LeadOwnerRow, OwnerPathRow, TouchRow

TouchKey = tuple[datetime, str, str, str]  # touch_at, channel, source, campaign
RECENT_LEADS = 20_000  # leads whose touches are kept in memory (a deal opens soon after its lead)
LINKED_BITS = 1 << 27  # 16 MiB: a false "maybe" once in ~10^5 leads at 2 million links


def touch_key(at: datetime, channel: str, source: str, campaign: str) -> TouchKey:
    """A touch as the store keeps it: its time in UTC to the millisecond (DateTime64(3)),
    which the engine reads back without a zone."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return (at.replace(microsecond=at.microsecond // 1000 * 1000), channel, source, campaign)


class PathKeeper:
    def __init__(self, recent: int = RECENT_LEADS, bits: int = LINKED_BITS) -> None:
        self.capacity = max(recent, 1)
        self.recent: OrderedDict[str, list[TouchKey]] = OrderedDict()
        self.linked = KnownKeys(bits)
        self.loaded = False  # `linked` filled from the store

    def forget(self) -> None:
        self.recent.clear()
        self.linked.clear()
        self.loaded = False

    def learn(self, linked_leads: Callable[[], Iterable[str]]) -> None:
        """Once, before a batch is stored: every lead the store has a link of."""
        if not self.loaded:
            self.linked.update(linked_leads())
            self.loaded = True

    def rows(
        self,
        touches: list[TouchRow],
        links: list[LeadOwnerRow],
        touches_of: Callable[[set[str]], dict[str, list[TouchKey]]],
        owners_of: Callable[[set[str]], list[tuple[str, str]]],
    ) -> list[OwnerPathRow]:
        """The touches this batch adds to owners: those of its links' leads, and its leads'
        touches for the owners stored links already name. `touches_of` and `owners_of` read
        the store (leads → their touches; leads → (lead, owner) of their links)."""
        arrived: dict[str, list[TouchKey]] = defaultdict(list)
        for t in touches:
            arrived[t.lead_id].append(touch_key(t.touch_at, t.channel, t.source, t.campaign))
        for lead_id, keys in arrived.items():
            self._remember(lead_id, keys)
        unknown = {link.lead_id for link in links if link.lead_id not in self.recent}
        for lead_id, keys in touches_of(unknown).items() if unknown else ():
            self._remember(lead_id, keys)
        added: dict[str, set[TouchKey]] = defaultdict(set)
        for link in links:
            added[link.owner].update(self.recent.get(link.lead_id, ()))
        # A lead whose deal came first: the links stored before this batch name its owners.
        maybe = {lead_id for lead_id in arrived if lead_id in self.linked}
        for lead_id, owner in owners_of(maybe) if maybe else ():
            added[owner].update(arrived[lead_id])
        for link in links:
            self.linked.add(link.lead_id)
        return [OwnerPathRow(owner, sorted(keys)) for owner, keys in added.items() if keys]

    def _remember(self, lead_id: str, keys: list[TouchKey]) -> None:
        known = self.recent.pop(lead_id, [])
        self.recent[lead_id] = known + [k for k in keys if k not in known]
        while len(self.recent) > self.capacity:
            self.recent.popitem(last=False)
