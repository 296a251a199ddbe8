"""The projection's cheap paths, pure: `evolve` as `dataclasses.replace`, an event with nothing
to pseudonymise kept as it is, and the Bloom filter of stored keys never saying "no" to a key
it was given."""

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from analytics.domain.projection.folds import pseudonymise
from analytics.domain.projection.latest import KnownKeys
from analytics.domain.projection.rows import PROJECTED_ROWS, DealRow, Row, evolve
from services.analytics.tests.history import DealStory

T0 = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
SALT = "salt"


def sample(row_type: type[Row], seed: int) -> Row:
    """A row of `row_type` whose every field holds a value of its type, varied by `seed`."""
    values = {}
    for f in dataclasses.fields(row_type):
        kind = str(f.type)
        if "datetime" in kind and "tuple" not in kind and "list" not in kind:
            values[f.name] = T0.replace(minute=seed)
        elif kind.startswith("date"):
            values[f.name] = T0.date()
        elif "Decimal" in kind:
            values[f.name] = Decimal(seed)
        elif "UUID" in kind:
            values[f.name] = uuid.UUID(int=seed)
        elif kind.startswith(("int", "float")):
            values[f.name] = seed
        elif kind.startswith(("tuple", "list")):
            values[f.name] = type(f.default)() if f.default is not dataclasses.MISSING else []
        else:
            values[f.name] = f"{f.name}-{seed}"
    return row_type(**values)


@pytest.mark.parametrize("row_type", PROJECTED_ROWS, ids=lambda t: t.TABLE)
def test_evolve_is_dataclasses_replace_and_leaves_the_row_as_it_was(row_type):
    row, other = sample(row_type, 1), sample(row_type, 2)
    before = dataclasses.replace(row)
    for changed in (dataclasses.fields(row_type)[:1], dataclasses.fields(row_type)):
        changes = {f.name: getattr(other, f.name) for f in changed}
        assert evolve(row, **changes) == dataclasses.replace(row, **changes)
    assert evolve(row) == row and evolve(row) is not row
    assert row == before


def test_evolve_refuses_a_field_the_row_does_not_have():
    with pytest.raises(AttributeError):
        evolve(sample(DealRow, 1), no_such_field=1)


def test_an_event_with_nothing_to_pseudonymise_is_kept_as_it_is():
    opened = DealStory("d1", T0, "1000").events[0]
    assert pseudonymise(opened, SALT) is opened
    with_phone = opened.model_copy(update={"title": "call +7 916 123-45-67 today"})
    masked = pseudonymise(with_phone, SALT)
    assert masked is not with_phone and "916" not in masked.title
    assert masked.model_dump(exclude={"title"}) == with_phone.model_dump(exclude={"title"})


def test_the_filter_knows_every_key_it_was_given_and_few_others():
    keys = KnownKeys(bits=1 << 16)
    given = [str(uuid.uuid4()) for _ in range(2000)]
    keys.update(given[:1000])
    for key in given[1000:]:
        keys.add(key)
    assert all(key in keys for key in given)
    others = [str(uuid.uuid4()) for _ in range(5000)]
    assert sum(key in keys for key in others) < 50  # about one expected at this fill
    keys.clear()
    assert not any(key in keys for key in given)
