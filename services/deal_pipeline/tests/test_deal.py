"""Domain rules of the Deal aggregate (no I/O)."""

import pytest

from crm_contracts.envelope import derived_id
from crm_contracts.pipelines import DEFAULT_PIPELINE as P
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import DealClosed, UnknownStage


def new_deal() -> Deal:
    return Deal.open(P, lead_id="lead-1", title="Ann", manager_id="m1")


def test_opens_in_the_first_stage_with_an_id_derived_from_the_lead():
    deal = new_deal()
    assert (deal.stage, deal.status, deal.version) == ("new", "open", 1)
    assert deal.id == derived_id("deal", "lead-1")
    assert deal.stage_entered_version == 1


def test_moves_forward_skipping_and_back_remembering_where_each_stay_began():
    deal = new_deal()
    deal.move_to(P, "proposal")
    deal.move_to(P, "qualified")
    events = deal.collect_events()
    assert [type(e).__name__ for e in events] == ["Opened", "StageChanged", "StageChanged"]
    skip, back = events[1], events[2]
    assert (skip.from_stage, skip.to_stage, skip.from_stage_entered_version) == (
        "new",
        "proposal",
        1,
    )
    assert (back.from_stage, back.to_stage, back.from_stage_entered_version) == (
        "proposal",
        "qualified",
        2,
    )
    assert back.from_stage_entered_at == skip.timestamp
    assert deal.stage == "qualified" and deal.version == 3


def test_moving_to_the_same_stage_records_nothing():
    deal = new_deal()
    deal.move_to(P, "new")
    assert len(deal.collect_events()) == 1


def test_won_closes_the_deal_and_refuses_further_moves():
    deal = new_deal()
    deal.move_to(P, "won")
    assert deal.status == "won"
    with pytest.raises(DealClosed):
        deal.move_to(P, "new")
    assert len(deal.collect_events()) == 2


def test_lost_keeps_the_reason_only_for_lost():
    deal = new_deal()
    deal.move_to(P, "qualified", lost_reason="ignored")
    assert deal.lost_reason is None
    deal.move_to(P, "lost", lost_reason="too expensive")
    assert (deal.status, deal.lost_reason) == ("lost", "too expensive")
    with pytest.raises(DealClosed):
        deal.move_to(P, "won")


def test_unknown_stage_is_refused_and_records_nothing():
    deal = new_deal()
    with pytest.raises(UnknownStage, match="pipeline has new, qualified"):
        deal.move_to(P, "shipped")
    assert len(deal.collect_events()) == 1
