"""The event catalogue: one AsyncAPI 3.0 document for the whole bus, generated from the
FastStream code of every service and merged.

Each service registers a function that builds its broker (its real subscribers, and publisher
objects declaring what it sends) without connecting, as an entry point of the group
`crm.asyncapi` in its `pyproject.toml`:

    [project.entry-points."crm.asyncapi"]
    lead-intake = "lead_intake.asyncapi:broker_for_docs"

so this library finds them without depending on any service. FastStream turns each broker into
an AsyncAPI document; the merge makes one channel per event subject whose message is the
contract (its JSON Schema exactly as `crm_contracts.schemas` exports it, with the nested
definitions under `components/schemas`, and an example from `crm_contracts.examples`), a
`send` operation per publishing service and a `receive` operation per subscriber and channel
it receives (a wildcard subscriber such as `crm.>` receives every channel it matches), plus
the channels of the DLQ and reminder streams the services use.

`make schemas` writes it to `crm_contracts/asyncapi.json` (package data: every service serves
it at `/asyncapi.json` and as a page at `/asyncapi`); `python -m crm_contracts.catalogue
--check` only compares, and a contracts test fails when the file is out of date.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any, cast

from faststream.nats import NatsBroker

from crm_contracts import subjects
from crm_contracts.envelope import Event
from crm_contracts.events import (
    EVENT_TYPES,
    ClientRegistered,
    ClientUpdated,
    DealAmountChanged,
    DealAssigned,
    DealInvoiceIssued,
    DealLost,
    DealOpened,
    DealPaymentReceived,
    DealReopened,
    DealStageChanged,
    DealWon,
    LeadReceived,
    ManagerUpdated,
    NotificationFailed,
    NotificationSent,
    PipelineDefined,
    PlanSet,
    TaskCancelled,
    TaskCompleted,
    TaskScheduled,
    event_type_of,
)
from crm_contracts.examples import example_of
from crm_contracts.runtime.bus import event_headers, make_broker
from crm_contracts.runtime.consuming import DLQ_HEADERS, DLQ_SUBJECT
from crm_contracts.schemas import current_schemas
from crm_contracts.streams import CRM, CRM_DLQ, CRM_REMINDERS, REMINDERS_PREFIX

GROUP = "crm.asyncapi"
DOCUMENT = Path(__file__).with_name("asyncapi.json")
TITLE = "CRM event catalogue"
DOCS_NATS_URL = "nats://127.0.0.1:4222"  # the server of `make run`; brokers for docs never connect
SERVER = "nats"

Builder = Callable[[], NatsBroker]
Json = dict[str, Any]

SUMMARIES: dict[type[Event], str] = {
    LeadReceived: "A lead accepted by lead-intake, validated and normalised.",
    DealOpened: "A deal opened, for a lead or by hand, in the pipeline's first stage.",
    DealStageChanged: "A deal moved between open stages.",
    DealWon: "A deal moved into a won stage.",
    DealLost: "A deal moved into a lost stage, with the reason.",
    DealReopened: "A won or lost deal moved back into an open stage.",
    DealAmountChanged: "A deal's expected amount (and cost) changed.",
    DealAssigned: "A deal got another manager.",
    DealInvoiceIssued: "An invoice issued for a deal, with the client's requisites.",
    DealPaymentReceived: "A payment received for a deal (the date revenue reports use).",
    TaskScheduled: "A task (call, meeting, …) scheduled or rescheduled on a deal.",
    TaskCompleted: "A task done.",
    TaskCancelled: "A task cancelled.",
    ClientRegistered: "A new client, matched by none of its phone and e-mail.",
    ClientUpdated: "A client's whole card as it is now.",
    ManagerUpdated: "A manager's whole card as it is now.",
    PlanSet: "A manager's revenue plan for a month.",
    PipelineDefined: "A pipeline's definition now (created or edited).",
    NotificationSent: "A notification sent.",
    NotificationFailed: "A notification given up on, with the reason.",
}
PARAMETERS = {
    "subject": "The subject the message was on: `crm.…`, or `crmrem.due.…` for a reminder.",
    "key": "The reminder's key: `task.<task>.<rule>`, `event.<event id>.<rule>` or "
    "`digest.<rule>`.",
}
DESCRIPTION = f"""Every fact the CRM records is one JSON message on NATS JetStream. Four \
services share only these contracts (`libs/contracts`, package `crm_contracts`).

- Stream `{CRM}` (`{subjects.ALL}`): every event, kept ten years, so analytics can be rebuilt \
from sequence 1. Duplicate window 5 minutes.
- Stream `{CRM_DLQ}` (`{subjects.DLQ_PREFIX}.>`): messages a consumer gave up on, under \
`{subjects.DLQ_PREFIX}.<original subject>`; outside `crm.>`, so a replay never sees them.
- Stream `{CRM_REMINDERS}` (`{REMINDERS_PREFIX}.>`): the notification service's delayed sends \
(JetStream message schedules).

Every event message carries the headers `Nats-Msg-Id` (= `event_id`: JetStream drops a second \
publish of the same event), `Crm-Event-Type` and, when set, `Crm-Correlation-Id`. Money is a \
decimal string, never a float; date-times are ISO 8601 with a zone, `occurred_at` in UTC. \
Consumers ignore fields they do not know: a contract evolves by adding optional fields, \
anything else is a new `event_type` or `schema_version`.

Generated from the services' FastStream code by `make schemas`; do not edit by hand."""


def docs_broker(service: str) -> NatsBroker:
    """A broker for a service's `broker_for_docs`: configured like the real one, never
    connected."""
    return make_broker(DOCS_NATS_URL, service)


def builders() -> dict[str, Builder]:
    """Every installed service's broker builder (entry point group `crm.asyncapi`), by name."""
    found = sorted(entry_points(group=GROUP), key=lambda point: point.name)
    return {point.name: cast(Builder, point.load()) for point in found}


def service_spec(service: str, broker: NatsBroker) -> Json:
    """FastStream's AsyncAPI 3.0 document of one service's broker."""
    from faststream.specification import AsyncAPI

    spec = AsyncAPI(broker, title=service, version=_version()).to_specification()
    return cast(Json, json.loads(json.dumps(spec.to_jsonable())))


def generate(found: Mapping[str, Builder] | None = None) -> Json:
    """The merged document of the given builders (default: every registered one)."""
    found = builders() if found is None else found
    return merge({name: service_spec(name, build()) for name, build in found.items()})


def dumps(document: Json) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _version() -> str:
    return version("crm-contracts")


# --- merging ------------------------------------------------------------------------------


def _pointer(document: Json, ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _follow(document: Json, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _pointer(document, node["$ref"])
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _rewrite_refs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                value.replace(old, new, 1)
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value, old, new)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(value, old, new) for value in node]
    return node


def _subject_matches(subject_filter: str, address: str) -> bool:
    """Whether a NATS filter (`*`, `>`) receives a channel's address (`{param}` stands for
    one or more tokens)."""
    tokens = re.sub(r"\{[^}]+\}", "param", address).split(".")
    parts = subject_filter.split(".")
    for index, part in enumerate(parts):
        if part == ">":
            return len(tokens) > index
        if index >= len(tokens) or part not in ("*", tokens[index]):
            return False
    return len(parts) == len(tokens)


def _stream_of(address: str) -> str | None:
    for prefix, stream in (
        (f"{subjects.DLQ_PREFIX}.", CRM_DLQ),
        (f"{REMINDERS_PREFIX}.", CRM_REMINDERS),
        ("crm.", CRM),
    ):
        if address.startswith(prefix):
            return stream
    return None


def _channel_id(address: str) -> str:
    """`crmrem.schedule.{key}` → `crmrem_schedule`, `other.>` → `other`."""
    tokens = [t for t in address.split(".") if not t.startswith("{") and t not in ("*", ">")]
    return re.sub(r"[^A-Za-z0-9_-]", "_", "_".join(tokens)) or "channel"


class _Merge:
    def __init__(self) -> None:
        self.channels: dict[str, Json] = {}
        self.messages: dict[str, Json] = {}
        self.schemas: dict[str, Json] = {}
        self.operations: dict[str, Json] = {}
        self.by_address: dict[str, str] = {}  # channel address → channel id
        self.event_channels: dict[str, type[Event]] = {}  # channel id → contract
        self.contract_schemas = current_schemas()
        self.fixed_schemas: list[str] = []  # the shared and the contracts' schemas, in order

    # schemas

    def add_schema(self, name: str, schema: Json) -> None:
        if self.schemas.get(name, schema) != schema:
            raise ValueError(f"two different schemas named {name!r}")
        self.schemas[name] = schema

    def copy_schemas(self, spec: Json, node: Any) -> None:
        """Bring the `components/schemas` a FastStream document's node refers to."""
        for ref in _refs(node):
            name = ref.removeprefix("#/components/schemas/")
            if name != ref and name not in self.schemas:
                schema = spec["components"]["schemas"][name]
                self.add_schema(name, schema)
                self.copy_schemas(spec, schema)

    # channels

    def add_event(self, cls: type[Event]) -> None:
        name = cls.__name__
        schema = copy.deepcopy(self.contract_schemas[_schema_file(cls)])
        for def_name, definition in schema.pop("$defs", {}).items():
            self.add_schema(def_name, _rewrite_refs(definition, "#/$defs/", _SCHEMAS))
        self.add_schema(name, _rewrite_refs(schema, "#/$defs/", _SCHEMAS))
        example = cls.model_validate(example_of(cls)).model_dump(mode="json")
        self.messages[name] = {
            "name": event_type_of(cls),
            "title": name,
            "summary": SUMMARIES[cls],
            "contentType": "application/json",
            "headers": {"$ref": f"{_SCHEMAS}EventHeaders"},
            "payload": {"$ref": f"{_SCHEMAS}{name}"},
            "correlationId": {
                "description": "The lead id that began the story.",
                "location": "$message.header#/Crm-Correlation-Id",
            },
            "examples": [
                {
                    "name": event_type_of(cls),
                    "summary": SUMMARIES[cls],
                    "headers": event_headers(cls.model_validate(example)),
                    "payload": example,
                }
            ],
        }
        channel: Json = {"address": cls.SUBJECT, "title": name, "summary": SUMMARIES[cls]}
        doc = cls.__dict__.get("__doc__")
        if doc:
            channel["description"] = inspect.cleandoc(doc)
        self.add_channel(name, channel, name)
        self.event_channels[name] = cls

    def add_channel(self, channel_id: str, channel: Json, message_id: str) -> None:
        address = channel["address"]
        parameters = re.findall(r"\{([^}]+)\}", address)
        self.channels[channel_id] = channel | {
            "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
            **(
                {"parameters": {p: {"description": PARAMETERS.get(p, p)} for p in parameters}}
                if parameters
                else {}
            ),
            "servers": [{"$ref": f"#/servers/{SERVER}"}],
            **({"x-stream": stream} if (stream := _stream_of(address)) else {}),
        }
        self.by_address[address] = channel_id

    def side_channel(self, spec: Json, address: str, description: str | None, payload: Any) -> str:
        """A channel that carries no contract (DLQ, reminders), made from what FastStream says
        of it; the first service to mention it defines it."""
        if address in self.by_address:
            return self.by_address[address]
        channel_id = _channel_id(address)
        if channel_id in self.channels:
            raise ValueError(f"two channels named {channel_id!r}")
        message: Json = {"name": channel_id, "title": address, "contentType": "application/json"}
        if address == DLQ_SUBJECT:
            description = (
                f"Messages a consumer gave up on, in the stream {CRM_DLQ}: the original bytes "
                "and headers unchanged, plus who gave up and why. Read and replay them as "
                "docs/operations.md says."
            )
            message |= {
                "headers": {"$ref": f"{_SCHEMAS}DeadLetterHeaders"},
                "payload": {"description": "The original message, byte for byte."},
                "examples": [_dead_letter_example()],
            }
        elif payload == {"$ref": f"{_SCHEMAS}EmptyPayload"}:
            message["payload"] = {}
        else:
            self.copy_schemas(spec, payload)
            message["payload"] = payload
        self.messages[channel_id] = message
        channel: Json = {"address": address, "title": address}
        if description:
            channel["description"] = description
        self.add_channel(channel_id, channel, channel_id)
        return channel_id

    # operations

    def add_operation(self, operation_id: str, operation: Json) -> None:
        if operation_id in self.operations:
            raise ValueError(f"two operations named {operation_id!r}")
        self.operations[operation_id] = operation

    def add_sends(self, service: str, spec: Json) -> None:
        for key, address, description, payload in _operations(spec, "send"):
            contract = self.event_channels.get(self.by_address.get(address, ""))
            if contract is not None:
                declared = _follow(spec, payload or {}).get("title")
                if declared != contract.__name__:
                    raise ValueError(
                        f"{service}: {key} publishes {declared!r} on {address}, "
                        f"whose contract is {contract.__name__}"
                    )
                channel_id = contract.__name__
            else:
                channel_id = self.side_channel(spec, address, description, payload)
            self.add_operation(key, _operation("send", service, key, channel_id, description))

    def add_receives(self, service: str, spec: Json) -> None:
        """After every service's sends: a subscriber receives each channel it matches."""
        for key, address, description, payload in _operations(spec, "receive"):
            wildcard = any(token in ("*", ">") for token in address.split("."))
            if address in self.by_address:
                matched = [self.by_address[address]]
            else:
                matched = [c for a, c in self.by_address.items() if _subject_matches(address, a)]
            if not matched:
                matched = [self.side_channel(spec, address, description, payload)]
            for channel_id in matched:
                operation = _operation("receive", service, key, channel_id, description)
                if wildcard:
                    operation["x-filter"] = address
                self.add_operation(key if len(matched) == 1 else f"{key}.{channel_id}", operation)

    def add_shared_schemas(self) -> None:
        self.add_schema(
            "EventHeaders",
            {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "= event_id: JetStream drops a second publish of the "
                        "same event inside the 5-minute duplicate window.",
                    },
                    "Crm-Event-Type": {"type": "string", "description": "= event_type."},
                    "Crm-Correlation-Id": {
                        "type": "string",
                        "description": "= correlation_id, when set.",
                    },
                },
                "required": ["Nats-Msg-Id", "Crm-Event-Type"],
            },
        )
        self.add_schema(
            "DeadLetterHeaders",
            {
                "type": "object",
                "description": "The original message's headers, plus these.",
                "properties": {
                    "Nats-Msg-Id": {
                        "type": "string",
                        "description": "<consumer>:<stream sequence of the original>.",
                    },
                }
                | {
                    name: {"type": "string", "description": text}
                    for name, text in DLQ_HEADERS.items()
                },
                "required": ["Nats-Msg-Id", *DLQ_HEADERS],
            },
        )

    def document(self) -> Json:
        """In a stable order (FastStream's own order of publishers varies between runs): the
        events as `EVENT_TYPES` lists them, then the other channels and schemas by name."""
        events = list(self.event_channels)
        others = sorted(set(self.channels) - set(events))
        channels = {cid: self.channels[cid] for cid in events + others}
        messages = {mid: self.messages[mid] for mid in events + others}
        known = list(self.fixed_schemas)
        schemas = {n: self.schemas[n] for n in known + sorted(set(self.schemas) - set(known))}
        order = {cid: index for index, cid in enumerate(channels)}

        def place(item: tuple[str, Json]) -> tuple[int, bool, str]:
            operation_id, operation = item
            channel_id = operation["channel"]["$ref"].rsplit("/", 1)[-1]
            return order[channel_id], operation["action"] != "send", operation_id

        return {
            "asyncapi": "3.0.0",
            "info": {"title": TITLE, "version": _version(), "description": DESCRIPTION},
            "defaultContentType": "application/json",
            "servers": {
                SERVER: {
                    "host": DOCS_NATS_URL.removeprefix("nats://"),
                    "protocol": "nats",
                    "description": "NATS with JetStream as `make run` starts it; each "
                    "service's `<PREFIX>_NATS_URL` names the real one.",
                }
            },
            "channels": channels,
            "operations": dict(sorted(self.operations.items(), key=place)),
            "components": {"messages": messages, "schemas": schemas},
        }


_SCHEMAS = "#/components/schemas/"


def _schema_file(cls: type[Event]) -> str:
    return f"{event_type_of(cls)}.v{cls.model_fields['schema_version'].default}.json"


def _operation(
    action: str, service: str, key: str, channel_id: str, description: str | None
) -> Json:
    operation: Json = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "title": key,
    }
    if description:
        operation["description"] = description
    return operation | {
        "messages": [{"$ref": f"#/channels/{channel_id}/messages/{_message_of(channel_id)}"}],
        "tags": [{"name": service}],
    }


def _operations(spec: Json, action: str) -> Iterator[tuple[str, str, str | None, Any]]:
    """(title, channel address, description, message payload) of a FastStream document's
    operations of one action."""
    for key, operation in spec.get("operations", {}).items():
        if operation["action"] != action:
            continue
        channel = _follow(spec, operation["channel"])
        messages = operation.get("messages") or [{}]
        payload = _follow(spec, messages[0]).get("payload")
        yield key, channel["address"], channel.get("description"), payload


def _message_of(channel_id: str) -> str:
    return channel_id  # every channel carries one message, named like it


def _dead_letter_example() -> Json:
    lead = LeadReceived.model_validate(example_of(LeadReceived))
    return {
        "name": "lead.received parked by deal_pipeline_leads",
        "headers": event_headers(lead)
        | {
            "Nats-Msg-Id": "deal_pipeline_leads:1042",
            "Crm-Dlq-Consumer": "deal_pipeline_leads",
            "Crm-Dlq-Reason": "OperationalError('database is locked')",
            "Crm-Dlq-Deliveries": "12",
        },
        "payload": lead.model_dump(mode="json"),
    }


def merge(specs: Mapping[str, Json]) -> Json:
    """One document from the services' FastStream documents (by service name)."""
    merged = _Merge()
    merged.add_shared_schemas()
    for cls in EVENT_TYPES:
        merged.add_event(cls)
    merged.fixed_schemas = list(merged.schemas)
    for service in sorted(specs):
        merged.add_sends(service, specs[service])
    for service in sorted(specs):
        merged.add_receives(service, specs[service])
    return merged.document()


def contract_schema(document: Json, cls: type[Event]) -> Json:
    """An event's payload schema back as one self-contained JSON Schema (the nested
    definitions under `$defs`), as `crm_contracts.schemas` exports it."""
    schemas = document["components"]["schemas"]
    payload = document["components"]["messages"][cls.__name__]["payload"]
    root = _rewrite_refs(_follow(document, payload), _SCHEMAS, "#/$defs/")
    defs: Json = {}
    pending = [r.removeprefix("#/$defs/") for r in _refs(root)]
    while pending:
        name = pending.pop()
        if name not in defs:
            defs[name] = _rewrite_refs(schemas[name], _SCHEMAS, "#/$defs/")
            pending += [r.removeprefix("#/$defs/") for r in _refs(defs[name])]
    return cast(Json, root | ({"$defs": defs} if defs else {}))


# --- the published file -------------------------------------------------------------------


def published(path: Path = DOCUMENT) -> Json:
    return cast(Json, json.loads(path.read_text(encoding="utf-8")))


def export(path: Path = DOCUMENT, check_only: bool = False) -> bool:
    """Write the document; True if the file was (or, checking, would be) changed."""
    text = dumps(generate())
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    if not check_only:
        path.write_text(text, encoding="utf-8")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the AsyncAPI event catalogue.")
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--out", type=Path, default=DOCUMENT)
    args = parser.parse_args()
    changed = export(args.out, check_only=args.check)
    if args.check and changed:
        print(f"{args.out.name} is out of date: run `make schemas`", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
