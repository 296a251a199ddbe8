"""The AsyncAPI event catalogue: up to date with the services' FastStream code, every contract a
channel with its exact schema and a valid example, every subscription a receive operation, and
served by every service as JSON and as a page."""

from __future__ import annotations

import json
import re
from contextlib import asynccontextmanager

import pytest
from fastapi.testclient import TestClient

from crm_contracts.catalogue import (
    _subject_matches,
    builders,
    contract_schema,
    docs_broker,
    dumps,
    generate,
    merge,
    published,
    service_spec,
)
from crm_contracts.events import (
    EVENT_TYPES,
    LeadReceived,
    NotificationFailed,
    NotificationSent,
    event_type_of,
)
from crm_contracts.examples import EXAMPLES
from crm_contracts.runtime.bus import event_headers
from crm_contracts.runtime.service import service_app
from crm_contracts.schemas import current_schemas

SERVICES = {"lead-intake", "deal-pipeline", "notification", "analytics"}
ENTRY_POINT = '[project.entry-points."crm.asyncapi"]\n{name} = "{module}.asyncapi:broker_for_docs"'


def producer_of(cls: type) -> str:
    if cls is LeadReceived:
        return "lead-intake"
    if cls in (NotificationSent, NotificationFailed):
        return "notification"
    return "deal-pipeline"


@pytest.fixture(scope="module")
def document():
    return published()


@pytest.fixture(scope="module")
def service_specs():
    return {name: service_spec(name, build()) for name, build in builders().items()}


def test_every_service_registers_its_bus():
    missing = SERVICES - set(builders())
    hints = [
        f"services/{n.replace('-', '_')}/pyproject.toml:\n"
        + ENTRY_POINT.format(name=n, module=n.replace("-", "_"))
        for n in sorted(missing)
    ]
    assert not missing, "no crm.asyncapi entry point (then `uv sync`) in\n" + "\n".join(hints)


def test_published_catalogue_is_up_to_date(document):
    # Fails when a contract, an example or a service's subscribers/publishers changed without
    # `make schemas`.
    assert dumps(document) == dumps(generate()), "asyncapi.json is out of date: `make schemas`"


def test_examples_are_valid_messages_of_their_event():
    assert set(EXAMPLES) == set(EVENT_TYPES)
    for cls, example in EXAMPLES.items():
        event = cls.model_validate(example)
        assert event.model_dump(mode="json") == example, cls.__name__  # serialises back as is
        assert event.producer == producer_of(cls), cls.__name__


def test_every_event_is_a_channel_with_its_schema_and_example(document):
    channels, messages = document["channels"], document["components"]["messages"]
    schemas = current_schemas()
    for cls in EVENT_TYPES:
        name = cls.__name__
        assert channels[name]["address"] == cls.SUBJECT
        assert channels[name]["x-stream"] == "CRM"
        assert channels[name]["summary"]
        message = messages[name]
        assert message["name"] == event_type_of(cls)
        file = f"{event_type_of(cls)}.v{cls.model_fields['schema_version'].default}.json"
        assert contract_schema(document, cls) == schemas[file], name
        [example] = message["examples"]
        event = cls.model_validate(example["payload"])
        assert example["headers"] == event_headers(event)
        assert event.model_dump(mode="json") == example["payload"]


def operations_on(document, channel_id, action):
    return [
        op
        for op in document["operations"].values()
        if op["channel"]["$ref"] == f"#/channels/{channel_id}" and op["action"] == action
    ]


def test_each_event_is_sent_by_its_producer(document):
    for cls in EVENT_TYPES:
        [send] = operations_on(document, cls.__name__, "send")
        assert send["tags"] == [{"name": producer_of(cls)}], cls.__name__


def test_every_subscription_is_a_receive_operation(document, service_specs):
    seen = 0
    for service, spec in service_specs.items():
        for key, operation in spec["operations"].items():
            if operation["action"] != "receive":
                continue
            address = spec["channels"][key]["address"]
            matching = [
                cid
                for cid, ch in document["channels"].items()
                if ch["address"] == address or _subject_matches(address, ch["address"])
            ]
            assert matching, (service, key)
            for channel_id in matching:
                receivers = operations_on(document, channel_id, "receive")
                assert any(
                    op["title"] == key and op["tags"] == [{"name": service}] for op in receivers
                ), (service, key, channel_id)
                seen += 1
    assert seen > len(EVENT_TYPES)


def test_who_receives_what(document):
    def receivers(channel_id):
        return {op["tags"][0]["name"] for op in operations_on(document, channel_id, "receive")}

    assert receivers("LeadReceived") == {"deal-pipeline", "notification", "analytics"}
    for cls in EVENT_TYPES[1:]:
        assert receivers(cls.__name__) == {"notification", "analytics"}, cls.__name__
    assert receivers("crmrem_due") == {"notification"}
    assert receivers("crmdlq") == set()
    dead_letterers = {op["tags"][0]["name"] for op in operations_on(document, "crmdlq", "send")}
    assert dead_letterers == {"deal-pipeline", "notification", "analytics"}
    assert document["channels"]["crmdlq"]["x-stream"] == "CRM_DLQ"
    assert document["channels"]["crmrem_schedule"]["x-stream"] == "CRM_REMINDERS"


def test_every_reference_resolves(document):
    text = json.dumps(document)
    for ref in set(re.findall(r'"\$ref": "([^"]+)"', text)):
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] and document["info"]["version"]


def test_a_publisher_of_the_wrong_contract_is_refused():
    broker = docs_broker("mixed-up")
    broker.publisher(LeadReceived.SUBJECT, schema=NotificationSent, title="wrong")
    with pytest.raises(ValueError, match="whose contract is LeadReceived"):
        merge({"mixed-up": service_spec("mixed-up", broker)})


def test_a_subscription_outside_every_channel_gets_its_own():
    broker = docs_broker("odd")

    @broker.subscriber("elsewhere.>", title="odd.listener")
    async def listen(body: str) -> None: ...

    document = merge({"odd": service_spec("odd", broker)})
    [operation] = [op for op in document["operations"].values() if op["title"] == "odd.listener"]
    assert document["channels"]["elsewhere"]["address"] == "elsewhere.>"
    assert operation["x-filter"] == "elsewhere.>"


def test_subject_matching():
    assert _subject_matches("crm.>", "crm.deals.won")
    assert not _subject_matches("crm.>", "crmdlq.{subject}")
    assert _subject_matches("crmrem.due.>", "crmrem.due.{key}")
    assert not _subject_matches("crmrem.due.>", "crmrem.schedule.{key}")
    assert _subject_matches("crm.*.won", "crm.deals.won")
    assert not _subject_matches("crm.*", "crm.deals.won")
    assert _subject_matches("crm.leads.received", "crm.leads.received")


@pytest.fixture(scope="module")
def client():
    @asynccontextmanager
    async def lifespan(_app):
        yield

    async def ready():
        return {}

    with TestClient(service_app("CRM test", "test", ready, lifespan)) as c:
        yield c


def test_every_service_serves_the_document(client, document):
    answer = client.get("/asyncapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == document


def test_every_service_serves_a_readable_page(client, document):
    answer = client.get("/asyncapi")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    for channel in document["channels"].values():
        assert f"<code>{channel['address']}</code>" in page
    for cls in EVENT_TYPES:
        assert cls.SUBJECT in page
        assert "lead_id" in page and "paid_total" in page  # field tables
    assert "Ivan Petrov" in page  # the examples
    assert "deal_pipeline.open_deal_from_lead" in page  # consumers
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing external


def test_catalogue_routes_stay_out_of_the_openapi_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/asyncapi" not in paths and "/asyncapi.json" not in paths
