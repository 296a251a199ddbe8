import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from crm_contracts.envelope import CRM_NAMESPACE, derived_id
from crm_contracts.events import ANY_EVENT, DealOpened, LeadReceived
from crm_contracts.pipelines import DEFAULT_PIPELINE, Pipeline, Stage


def test_derived_ids_are_stable_and_distinct():
    assert derived_id("deal", "lead-1") == derived_id("deal", "lead-1")
    assert derived_id("deal", "lead-1") != derived_id("deal", "lead-2")
    assert derived_id("deal", "lead-1") != derived_id("event", "lead-1")
    # Ids already stored and published: the scheme must never change.
    assert str(derived_id("deal", "lead-1")) == "db596c70-b4da-5b33-b6ac-f7101855965e"


@given(st.lists(st.one_of(st.text(), st.integers(), st.uuids()), min_size=1, max_size=4))
def test_derived_ids_are_uuid5_of_the_joined_parts(parts):
    joined = "/".join(str(p) for p in parts)
    try:
        expected = uuid.uuid5(CRM_NAMESPACE, joined)
    except UnicodeEncodeError:  # a lone surrogate: neither way makes an id
        with pytest.raises(UnicodeEncodeError):
            derived_id(*parts)
        return
    assert derived_id(*parts) == expected


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
