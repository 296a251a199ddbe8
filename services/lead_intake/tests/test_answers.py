"""The fast path answers a lead with the very bytes FastAPI makes of the route's model."""

import pytest

from lead_intake.api.leads import accepted, accepted_body
from lead_intake.application.submit_lead import Outcome

LEAD_ID = "63c5f4c9-d0da-53c6-bee2-7aa12b2a1391"


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(LEAD_ID, "accepted"),
        Outcome(LEAD_ID, "queued"),
        Outcome(LEAD_ID, "accepted", duplicate=True),
        Outcome('a "quoted" \\ id, é, \n\t\x01\x7f', "accepted"),  # a key's value from NATS KV
        Outcome("", "accepted", duplicate=True),
    ],
)
def test_the_fast_answer_is_the_json_of_the_routes_model(outcome):
    assert accepted_body(outcome) == accepted(outcome).model_dump_json().encode()
