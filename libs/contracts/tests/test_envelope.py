from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from crm_contracts.envelope import derived_id
from crm_contracts.events import ANY_EVENT, DealOpened, LeadReceived
from crm_contracts.pipelines import DEFAULT_PIPELINE, Pipeline, Stage


def test_derived_ids_are_stable_and_distinct():
    assert derived_id("deal", "lead-1") == derived_id("deal", "lead-1")
    assert derived_id("deal", "lead-1") != derived_id("deal", "lead-2")
    assert derived_id("deal", "lead-1") != derived_id("event", "lead-1")


def test_occurred_at_is_normalised_to_utc():
    moscow = timezone(timedelta(hours=3))
    event = DealOpened(
        aggregate_id="d",
        producer="t",
        deal_id="d",
        pipeline_id="p",
        stage="new",
        occurred_at=datetime(2026, 3, 1, 3, 0, tzinfo=moscow),
    )
    assert event.occurred_at == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused():
    with pytest.raises(ValidationError):
        DealOpened(
            aggregate_id="d",
            producer="t",
            deal_id="d",
            pipeline_id="p",
            stage="new",
            occurred_at=datetime(2026, 3, 1),
        )


def test_any_event_parses_by_type_and_ignores_unknown_fields():
    lead = LeadReceived(
        aggregate_id="l",
        producer="t",
        lead_id="l",
        form_id="f",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        contact={},
    )
    data = lead.model_dump(mode="json") | {"added_later": 1}
    parsed = ANY_EVENT.validate_python(data)
    assert isinstance(parsed, LeadReceived)
    assert parsed == lead


def test_default_pipeline_order_and_funnel_stages():
    assert [s.name for s in DEFAULT_PIPELINE.funnel_stages] == [
        "new",
        "qualified",
        "proposal",
        "invoice",
        "won",
    ]
    assert DEFAULT_PIPELINE.first_stage.name == "new"


@pytest.mark.parametrize(
    "stages, reason",
    [
        ([Stage(name="a"), Stage(name="a", kind="won"), Stage(name="x", kind="lost")], "unique"),
        ([Stage(name="a"), Stage(name="b", kind="won")], "lost"),
        (
            [Stage(name="w", kind="won"), Stage(name="a"), Stage(name="x", kind="lost")],
            "first stage",
        ),
    ],
)
def test_pipeline_validation(stages, reason):
    with pytest.raises(ValidationError, match=reason):
        Pipeline(id="p", stages=tuple(stages))
