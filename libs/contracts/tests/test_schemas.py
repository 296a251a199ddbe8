import copy

from crm_contracts.events import EVENT_TYPES
from crm_contracts.schemas import current_schemas, export, incompatibilities


def test_published_schemas_are_up_to_date():
    # Fails when a contract changed without `make schemas` (or in an incompatible way).
    assert export(check_only=True) == []


def test_every_event_type_has_one_schema_and_one_subject():
    assert len(current_schemas()) == len(EVENT_TYPES)
    assert len({cls.SUBJECT for cls in EVENT_TYPES}) == len(EVENT_TYPES)
    assert all(cls.SUBJECT.startswith("crm.") for cls in EVENT_TYPES)
    assert "lead.received.v1.json" in current_schemas()


def _lead_schema():
    return copy.deepcopy(current_schemas()["lead.received.v1.json"])


def test_adding_an_optional_field_is_compatible():
    old = _lead_schema()
    new = _lead_schema()
    new["properties"]["new_optional"] = {"type": "string"}
    assert incompatibilities(old, new) == []


def test_removed_field_is_reported():
    old = _lead_schema()
    new = _lead_schema()
    del new["properties"]["message"]
    assert incompatibilities(old, new) == ["message: removed"]


def test_type_change_is_reported():
    old = _lead_schema()
    new = _lead_schema()
    new["properties"]["form_id"] = {"type": "integer"}
    assert incompatibilities(old, new) == ["form_id: type changed from string to integer"]


def test_nested_removal_is_reported():
    old = _lead_schema()
    new = _lead_schema()
    del new["$defs"]["Touch"]["properties"]["yclid"]
    assert "touch.yclid: removed" in incompatibilities(old, new)


def test_new_required_field_is_reported():
    old = _lead_schema()
    new = _lead_schema()
    new["required"] = [*new["required"], "consent"]
    assert incompatibilities(old, new) == ["consent: new required field"]
