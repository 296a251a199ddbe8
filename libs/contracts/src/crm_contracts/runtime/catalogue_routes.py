"""The event catalogue on every service: `GET /asyncapi.json` (the AsyncAPI 3.0 document that
`make schemas` writes into this package) and `GET /asyncapi`, the same as a page rendered on
the server (no script, no external asset: it works offline). Both stay out of the OpenAPI
schema: they are about the bus, not the service's API."""

from __future__ import annotations

import json
import re
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from crm_contracts.runtime.errors import NotFound

DOCUMENT = "asyncapi.json"
Json = dict[str, Any]
SCHEMAS = "#/components/schemas/"


@cache
def document_text() -> str:
    """The committed document, read once per process."""
    resource = files("crm_contracts").joinpath(DOCUMENT)
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound("the event catalogue is not built: run `make schemas`") from None


@cache
def page() -> str:
    return render_page(json.loads(document_text()))


def install_catalogue(app: FastAPI) -> None:
    @app.get("/asyncapi.json", include_in_schema=False)
    def asyncapi_json() -> Response:
        return Response(document_text(), media_type="application/json")

    @app.get("/asyncapi", include_in_schema=False)
    def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(page())


# --- rendering ------------------------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
header p, section > p { max-width: 80ch; }
h1 { margin-bottom: 0; }
h2 { margin: 0 0 4px; font-size: 20px; }
h2 code { font-size: 17px; }
h3 { margin: 16px 0 6px; font-size: 15px; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
code { background: #eceff3; padding: 1px 4px; border-radius: 3px; }
pre { background: #fff; border: 1px solid #dde1e6; padding: 10px; overflow-x: auto; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 16px 20px;
  margin: 18px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px;
  border-bottom: 1px solid #e6e8eb; }
th { background: #f0f2f5; font-weight: 600; }
.muted { color: #5e6875; }
.tag { display: inline-block; background: #e3ecfa; color: #1b4b91; border-radius: 10px;
  padding: 0 8px; margin-right: 4px; font-size: 13px; }
nav ul { columns: 2; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dt { font-weight: 600; }
dd { margin: 0; }
"""


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _prose(text: str) -> str:
    """Paragraphs and `- ` lists of a description."""
    out = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        if all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "".join(out)


def _anchor(prefix: str, name: str) -> str:
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_-]', '_', name)}"


def _follow(document: Json, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _type(node: Any) -> str:
    """A schema's type in a few words (HTML); referenced types link to their table."""
    if not isinstance(node, dict) or not node:
        return "any"
    if "$ref" in node:
        name = node["$ref"].removeprefix(SCHEMAS)
        return f'<a href="#{_anchor("type", name)}">{escape(name)}</a>'
    if "const" in node:
        return f"<code>{escape(json.dumps(node['const']))}</code>"
    if "enum" in node:
        return " | ".join(f"<code>{escape(json.dumps(v))}</code>" for v in node["enum"])
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in node:
            return " | ".join(_type(option) for option in node[combinator])
    kind = node.get("type")
    if kind == "array":
        return f"list of {_type(node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"object of string → {_type(node['additionalProperties'])}"
    text = escape(str(kind)) if kind else "any"
    if "format" in node:
        text += f" ({escape(node['format'])})"
    if "pattern" in node:
        text += f" <code>{escape(node['pattern'])}</code>"
    return text


def _fields(document: Json, schema: Any) -> str:
    schema = _follow(document, schema)
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    if not properties:
        return '<p class="muted">Any JSON; see the description.</p>'
    required = set(schema.get("required", []))
    rows = []
    for name, field in properties.items():
        default = (
            f"<code>{escape(json.dumps(field['default'], ensure_ascii=False))}</code>"
            if "default" in field
            else ""
        )
        rows.append(
            f"<tr><td><code>{escape(name)}</code></td><td>{_type(field)}</td>"
            f"<td>{'yes' if name in required else ''}</td><td>{default}</td>"
            f"<td>{_inline(field.get('description', ''))}</td></tr>"
        )
    return (
        "<table><tr><th>field</th><th>type</th><th>required</th><th>default</th>"
        f"<th>description</th></tr>{''.join(rows)}</table>"
    )


def _operations(document: Json, channel_id: str, action: str) -> str:
    items = []
    for operation_id, operation in document.get("operations", {}).items():
        if operation["channel"]["$ref"] != f"#/channels/{channel_id}":
            continue
        if operation["action"] != action:
            continue
        services = "".join(
            f'<span class="tag">{escape(t["name"])}</span>' for t in operation.get("tags", [])
        )
        filtered = operation.get("x-filter")
        via = f" on <code>{escape(filtered)}</code>" if filtered else ""
        title = escape(operation.get("title", operation_id))
        description = _inline(operation.get("description", ""))
        items.append(f"<li>{services}<code>{title}</code>{via} <span>{description}</span></li>")
    return f"<ul>{''.join(items)}</ul>" if items else '<p class="muted">none</p>'


def _channel(document: Json, channel_id: str, channel: Json) -> str:
    parts = [
        f'<section id="{_anchor("channel", channel_id)}">',
        f"<h2><code>{escape(channel['address'])}</code></h2>",
        f'<p class="muted">{escape(channel.get("title", channel_id))}'
        + (f" · stream <code>{escape(channel['x-stream'])}</code>" if "x-stream" in channel else "")
        + "</p>",
    ]
    if "summary" in channel:
        parts.append(f"<p>{_inline(channel['summary'])}</p>")
    if "description" in channel:
        parts.append(_prose(channel["description"]))
    if channel.get("parameters"):
        parts.append("<dl>")
        for name, parameter in channel["parameters"].items():
            description = _inline(parameter.get("description", ""))
            parts.append(f"<dt><code>{{{escape(name)}}}</code></dt><dd>{description}</dd>")
        parts.append("</dl>")
    parts.append(f"<h3>Producers</h3>{_operations(document, channel_id, 'send')}")
    parts.append(f"<h3>Consumers</h3>{_operations(document, channel_id, 'receive')}")
    for reference in channel.get("messages", {}).values():
        message = _follow(document, reference)
        name = message.get("name")
        parts.append(f"<h3>Payload{f' — <code>{escape(name)}</code>' if name else ''}</h3>")
        payload = message.get("payload", {})
        if isinstance(payload, dict) and payload.get("description") and "$ref" not in payload:
            parts.append(f"<p>{_inline(payload['description'])}</p>")
        parts.append(_fields(document, payload))
        if "headers" in message:
            parts.append(f"<h3>Headers</h3>{_fields(document, message['headers'])}")
        for example in message.get("examples", []):
            shown = {k: example[k] for k in ("headers", "payload") if k in example}
            text = json.dumps(shown, indent=2, ensure_ascii=False)
            label = escape(example.get("name", ""))
            parts.append(
                f"<h3>Example <span class='muted'>{label}</span></h3><pre>{escape(text)}</pre>"
            )
    parts.append("</section>")
    return "".join(parts)


def _referenced_types(document: Json) -> list[str]:
    """The schemas a payload's fields refer to (Contact, Touch, …), in document order."""
    names = document.get("components", {}).get("schemas", {})
    payloads = {
        message.get("payload", {}).get("$ref", "").removeprefix(SCHEMAS)
        for message in document.get("components", {}).get("messages", {}).values()
        if isinstance(message.get("payload"), dict)
    }
    text = json.dumps([names[n] for n in payloads if n in names])
    return [n for n in names if f'"{SCHEMAS}{n}"' in text]


def render_page(document: Json) -> str:
    info = document.get("info", {})
    channels = document.get("channels", {})
    schemas = document.get("components", {}).get("schemas", {})
    toc = "".join(
        f'<li><a href="#{_anchor("channel", cid)}"><code>{escape(c["address"])}</code></a> '
        f'<span class="muted">{escape(c.get("title", ""))}</span></li>'
        for cid, c in channels.items()
    )
    types = "".join(
        f'<section id="{_anchor("type", name)}"><h2>{escape(name)}</h2>'
        + (_prose(schemas[name]["description"]) if "description" in schemas[name] else "")
        + _fields(document, schemas[name])
        + "</section>"
        for name in _referenced_types(document)
    )
    servers = "".join(
        f"<li><code>{escape(s.get('protocol', ''))}://{escape(s.get('host', ''))}</code> "
        f"{_inline(s.get('description', ''))}</li>"
        for s in document.get("servers", {}).values()
    )
    title = escape(info.get("title", "Event catalogue"))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{title}</h1><p class='muted'>AsyncAPI {escape(document.get('asyncapi', ''))}"
        f" · version {escape(info.get('version', ''))} · "
        "<a href='asyncapi.json'>asyncapi.json</a></p>"
        f"{_prose(info.get('description', ''))}<h3>Servers</h3><ul>{servers}</ul></header>"
        f"<nav><h2>Channels</h2><ul>{toc}</ul></nav>"
        f"{''.join(_channel(document, cid, c) for cid, c in channels.items())}"
        f"<h2>Types</h2>{types}</main></body></html>"
    )
