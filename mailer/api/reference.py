"""The API's reference page, /api/v1/docs: the OpenAPI document (/api/v1/openapi.json) as a
page of the site, rendered on the server.

Swagger UI and ReDoc build their page in the browser with scripts and styles from a CDN,
inline ones among them; the site's Content-Security-Policy (mailer/app.py) allows neither.
The document does not change while the app runs, so it is read once per app into the
``Reference`` below and each request only renders it. The page's own words are
translated; the document's (summaries, descriptions) are English.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, render_template, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from mailer.api.idempotency import HEADER as IDEMPOTENCY_HEADER, KEPT_FOR
from mailer.api.schemas import DEFAULT_PAGE, MAX_PAGE

# Beside the document, under mailer.api.PREFIX (not imported: mailer.api imports this module).
bp = Blueprint("api_reference", __name__, url_prefix="/api/v1")

EXTENSION = "api_reference"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
# The document's tags are the API's blueprint names.
SECTION_TITLES = {
    "api_clients": _l("Clients"),
    "api_messages": _l("Messages"),
    "api_mailings": _l("Mailings"),
    "api_reports": _l("Attempts and deliveries"),
    "api_manager": _l("Manager"),
}
PLACES = {"path": _l("path parameter"), "query": _l("query parameter"), "header": _l("header"),
          "cookie": _l("cookie")}
# The keywords shown as a value's limits, in the document's own words ("maxLength: 255").
LIMITS = ("default", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minLength",
          "maxLength", "minItems", "maxItems", "pattern")
SCHEMA_REF = "#/components/schemas/"


@dataclass(frozen=True)
class TypeOf:
    """A value's type: a JSON type (with its format), a schema by name, or an array of one."""
    name: str = ""
    format: str = ""
    ref: str = ""
    items: TypeOf | None = None


@dataclass(frozen=True)
class Field:
    """A parameter (``place`` set) or a property of an object."""
    name: str
    type: TypeOf
    required: bool
    nullable: bool
    enum: tuple[str, ...]
    description: Markup
    limits: tuple[str, ...]
    place: object = ""


@dataclass(frozen=True)
class Answer:
    status: str
    description: Markup
    media_type: str
    schema: TypeOf | None
    headers: tuple[str, ...]


@dataclass(frozen=True)
class Operation:
    anchor: str
    method: str
    path: str
    summary: Markup
    parameters: tuple[Field, ...]
    body: TypeOf | None
    body_fields: tuple[Field, ...]
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Section:
    anchor: str
    title: object
    description: Markup
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Schema:
    name: str
    description: Markup
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Reference:
    openapi: str
    sections: tuple[Section, ...]
    schemas: tuple[Schema, ...]


def with_code(text: str | None) -> Markup:
    """The document's prose, its `backticked` words (Markdown's code spans) as <code>."""
    parts = str(text or "").split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: the text as it is
        return escape(text)
    return Markup("").join(Markup("<code>%s</code>") % part if n % 2 else escape(part)
                           for n, part in enumerate(parts))


def resolved(document: dict, node: dict) -> dict:
    """``node``, or what its ``$ref`` (a JSON pointer into the document) points at."""
    for _hop in range(20):  # a reference to a reference, but never round in a circle for ever
        if not (isinstance(node, dict) and "$ref" in node):
            break
        target = document
        for token in node["$ref"].removeprefix("#/").split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _without_null(schema: dict) -> tuple[dict, bool]:
    """The schema a value has when it is not null, and whether it may be null."""
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            others = [option for option in schema[combined] if option.get("type") != "null"]
            if len(others) == 1:
                return others[0], len(others) < len(schema[combined])
    types = schema.get("type")
    nullable = bool(schema.get("nullable")) or None in schema.get("enum", ()) or \
        (isinstance(types, list) and "null" in types)
    return schema, nullable


def type_of(schema: dict) -> TypeOf:
    if "$ref" in schema:
        return TypeOf(ref=schema["$ref"].removeprefix(SCHEMA_REF))
    types = schema.get("type")
    listed = types if isinstance(types, list) else [types]
    names = [name for name in listed if name and name != "null"]
    if not names and schema.get("enum"):  # an enum of strings says so only by its values
        names = sorted({_json_type(value) for value in schema["enum"] if value is not None})
    name = " | ".join(names)
    if name == "array":
        return TypeOf(name=name, items=type_of(schema.get("items") or {}))
    return TypeOf(name=name, format=schema.get("format", ""))


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "integer" if isinstance(value, int) else "number"
    return "string"


def _as_json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _shown(value) -> str:
    """A value as JSON writes it, a string as it is (an enum's value, a pattern)."""
    return value if isinstance(value, str) else _as_json(value)


def _limits(schema: dict) -> tuple[str, ...]:
    """``maxLength: 255``; a default always in JSON, so that an empty string shows (``""``)."""
    return tuple(f"{key}: {_as_json(schema[key]) if key == 'default' else _shown(schema[key])}"
                 for key in LIMITS if key in schema)


def field_of(name: str, schema: dict, required: bool, description=None,
             place: object = "") -> Field:
    schema, nullable = _without_null(schema)
    return Field(name=name, type=type_of(schema), required=required, nullable=nullable,
                 enum=tuple(_shown(value) for value in schema.get("enum", ()) if value is not None),
                 description=with_code(description or schema.get("description")),
                 limits=_limits(schema), place=place)


def properties_of(document: dict, schema: dict) -> tuple[Field, ...]:
    """An object's fields, in the document's order."""
    schema = resolved(document, schema)
    required = set(schema.get("required", ()))
    return tuple(field_of(name, prop, name in required)
                 for name, prop in (schema.get("properties") or {}).items())


def _parameters(document: dict, path_item: dict, operation: dict) -> tuple[Field, ...]:
    """The path's parameters and the operation's, the operation's winning (OpenAPI's rule)."""
    found = {}
    for parameter in [*path_item.get("parameters", ()), *operation.get("parameters", ())]:
        parameter = resolved(document, parameter)
        found[(parameter["name"], parameter["in"])] = parameter
    return tuple(field_of(p["name"], p.get("schema") or {}, bool(p.get("required")),
                          p.get("description"), place=PLACES.get(p["in"], p["in"]))
                 for p in found.values())


def _answers(document: dict, operation: dict) -> tuple[Answer, ...]:
    answers = []
    for status, answer in operation.get("responses", {}).items():
        answer = resolved(document, answer)
        media_type, content = next(iter((answer.get("content") or {"": {}}).items()))
        schema = content.get("schema")
        answers.append(Answer(status=str(status), description=with_code(answer.get("description")),
                              media_type=media_type, schema=type_of(schema) if schema else None,
                              headers=tuple(answer.get("headers") or ())))
    return tuple(sorted(answers, key=lambda answer: (answer.status == "default", answer.status)))


def _anchor(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "-", part).strip("-") for part in parts).lower()


def operation_of(document: dict, path: str, method: str) -> Operation:
    path_item = document["paths"][path]
    operation = path_item[method]
    body = resolved(document, operation.get("requestBody") or {})
    body_schema = next(iter((body.get("content") or {"": {}}).values())).get("schema")
    summary = "\n\n".join(filter(None, (operation.get("summary"), operation.get("description"))))
    return Operation(anchor=_anchor("op", method, path), method=method.upper(), path=path,
                     summary=with_code(summary),
                     parameters=_parameters(document, path_item, operation),
                     body=type_of(body_schema) if body_schema else None,
                     body_fields=properties_of(document, body_schema) if body_schema else (),
                     answers=_answers(document, operation))


def _sections(document: dict) -> tuple[Section, ...]:
    """The operations by tag, in the document's order of tags (each under its first tag)."""
    tags = {tag["name"]: tag.get("description", "") for tag in document.get("tags", ())}
    operations = {name: [] for name in tags}
    for path, path_item in document.get("paths", {}).items():
        for method in (key for key in path_item if key in HTTP_METHODS):
            tag = (path_item[method].get("tags") or [""])[0]
            operations.setdefault(tag, []).append(operation_of(document, path, method))
    return tuple(Section(anchor=_anchor("tag", tag or "other"), title=SECTION_TITLES.get(tag, tag),
                         description=with_code(tags.get(tag)), operations=tuple(found))
                 for tag, found in operations.items() if found)


def _referred_schemas(document: dict) -> list[str]:
    """The schemas the operations use, and those they use in turn, in the document's order."""
    def refs(node) -> set[str]:
        return set(re.findall(re.escape(SCHEMA_REF) + r'([^"]+)"', json.dumps(node)))

    schemas = document.get("components", {}).get("schemas", {})
    paths = document.get("paths", {})
    used = {name for name in refs(paths) | refs(document.get("components", {}).get("responses", {}))
            if name in schemas}
    waiting = list(used)
    while waiting:
        for name in refs(schemas[waiting.pop()]) - used:
            if name in schemas:
                used.add(name)
                waiting.append(name)
    return [name for name in schemas if name in used]


def build_reference(document: dict) -> Reference:
    schemas = document.get("components", {}).get("schemas", {})
    return Reference(
        openapi=document.get("openapi", ""), sections=_sections(document),
        schemas=tuple(Schema(name=name, description=with_code(schemas[name].get("description")),
                             fields=properties_of(document, schemas[name]))
                      for name in _referred_schemas(document)))


def openapi_document(app: Flask) -> dict:
    """The document flask-smorest serves at /api/v1/openapi.json."""
    return app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()


def reference_of(app: Flask) -> Reference:
    """Built on the first request, then kept with the app."""
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = build_reference(openapi_document(app))
    return app.extensions[EXTENSION]


@bp.route("/docs")
def reference_page():
    """For anyone, as the document is: it tells how to ask, and a token is still needed to ask."""
    return render_template("api/reference.html", reference=reference_of(current_app),
                           document_url=url_for("api-docs.openapi_json"),
                           page_size=DEFAULT_PAGE, max_page_size=MAX_PAGE,
                           idempotency_header=IDEMPOTENCY_HEADER,
                           idempotency_hours=int(KEPT_FOR.total_seconds() // 3600))
