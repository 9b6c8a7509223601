"""Checks a Jira request against the published contracts in ../shared/fixtures (read-only).

* ``jira/platform-openapi.v3.json``: the operation must exist for the concrete path and
  method (the path matched against the OpenAPI path templates), path and query parameters
  must fit the operation's parameters, and the JSON body must validate against the
  operation's requestBody schema, ``$ref``s resolved over the whole document. The body may
  only use properties the schema declares and never a ``readOnly`` one.
* ``adf/full.json``: every ADF document (v3 comment body, worklog comment) validates with
  ``jsonschema.Draft4Validator``.

The fixture holds the v3 paths only. Jira documents REST v2 and v3 as the same resources whose
rich-text fields differ (wiki-markup strings on v2, ADF on v3), so a ``/rest/api/2/...``
request is checked against the v3 operation with its rich-text fields required to be strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from shared_fixtures import shared_file

OPENAPI_URI = "urn:msp-test:jira-openapi"

#: The rich-text field of each operation's body: ADF on v3, a wiki-markup string on v2.
RICH_TEXT_FIELD = {"addComment": "body", "addWorklog": "comment"}
#: Jira's timestamp format, yyyy-MM-dd'T'HH:mm:ss.SSSZ.
JIRA_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$")


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: dict[str, Any]
    version: str  # "2" or "3": the version the request used

    @property
    def operation_id(self) -> str:
        return str(self.spec.get("operationId", ""))


@cache
def openapi() -> dict[str, Any]:
    return json.loads(shared_file("jira", "platform-openapi.v3.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def adf_schema() -> dict[str, Any]:
    return json.loads(shared_file("adf", "full.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in openapi()["paths"]:
        pattern = re.sub(r"\\\{[^}/]+\\\}", "([^/]+)", re.escape(template))
        out.append((re.compile(f"^{pattern}$"), template))
    return out


@cache
def _adf_validator() -> Any:
    import jsonschema

    return jsonschema.Draft4Validator(adf_schema())


@cache
def _body_validator_class() -> Any:
    import jsonschema

    def read_only(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if value:
            yield jsonschema.ValidationError("is a read-only property and must not be sent")

    return jsonschema.validators.extend(jsonschema.Draft4Validator, {"readOnly": read_only})


@cache
def _registry() -> Any:
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    return Registry().with_resource(OPENAPI_URI, DRAFT4.create_resource(openapi()))


def _as_v3(path: str) -> tuple[str, str]:
    """(the path without query, as its v3 equivalent; the version the request used)."""
    bare = urlsplit(path).path
    match = re.match(r"^/rest/api/([23])/", bare)
    if not match:
        return bare, "3"
    return "/rest/api/3/" + bare[len(match.group(0)):], match.group(1)


def find_operation(method: str, path: str) -> Operation:
    """The OpenAPI operation for a concrete request path (query string ignored)."""
    bare, version = _as_v3(path)
    for regex, template in _templates():
        if regex.match(bare):
            item = openapi()["paths"][template]
            spec = item.get(method.lower())
            if spec is None:
                raise AssertionError(f"{method} {path}: the contract has {template} but no {method} on it")
            return Operation(template, method.upper(), spec, version)
    raise AssertionError(f"{method} {path}: no path of the Jira OpenAPI contract matches")


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    node: Any = openapi()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return resolve(node)


def adf_errors(doc: Any) -> list[str]:
    return [f"ADF {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in _adf_validator().iter_errors(doc)]


def request_errors(method: str, path: str, body: Any) -> list[str]:
    """Every way the request breaks the contract; empty when it conforms."""
    op = find_operation(method, path)
    errors: list[str] = []
    # path parameters: present, decoded, fitting their schema
    regex = next(r for r, t in _templates() if t == op.template)
    values = regex.match(_as_v3(path)[0])
    names = re.findall(r"\{([^}/]+)\}", op.template)
    params = {p["name"]: p for p in op.spec.get("parameters", [])}
    import jsonschema

    for param_name, raw in zip(names, values.groups() if values else (), strict=True):
        spec = params.get(param_name)
        if spec is None or spec.get("in") != "path":
            errors.append(f"path parameter {param_name} is not declared")
            continue
        for err in jsonschema.Draft4Validator(spec.get("schema", {})).iter_errors(unquote(raw)):
            errors.append(f"path parameter {param_name}: {err.message}")
    # query parameters: declared, fitting their schema
    for key, value in parse_qsl(urlsplit(path).query, keep_blank_values=True):
        spec = params.get(key)
        if spec is None or spec.get("in") != "query":
            errors.append(f"query parameter {key} is not declared for {op.operation_id}")
            continue
        schema = spec.get("schema", {})
        coerced: Any = value
        if schema.get("type") == "boolean":
            coerced = {"true": True, "false": False}.get(value, value)
        for err in jsonschema.Draft4Validator(schema).iter_errors(coerced):
            errors.append(f"query parameter {key}: {err.message}")
    # the body
    request_body = op.spec.get("requestBody")
    if request_body is None:
        if body is not None:
            errors.append(f"{op.operation_id} takes no body")
        return errors
    media = request_body.get("content", {}).get("application/json")
    if media is None:
        return [*errors, f"{op.operation_id} takes no JSON body"]
    if body is None and request_body.get("required"):
        return [*errors, f"{op.operation_id} requires a body"]
    schema_ref = media["schema"]
    validator = _body_validator_class()({"$ref": OPENAPI_URI + schema_ref["$ref"]} if "$ref" in schema_ref
                                        else schema_ref, registry=_registry())
    errors += [f"body {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
               for e in validator.iter_errors(body)]
    declared = set(resolve(schema_ref).get("properties", {}))
    if isinstance(body, dict):
        errors += [f"body property {k!r} is not declared by {op.operation_id}" for k in sorted(set(body) - declared)]
        field = RICH_TEXT_FIELD.get(op.operation_id)
        if field and field in body:
            if op.version == "3":
                errors += adf_errors(body[field])
            elif not isinstance(body[field], str):
                errors.append(f"v2 {field} must be a wiki-markup string, got {type(body[field]).__name__}")
        if op.operation_id == "addWorklog" and not JIRA_TIME_RE.match(str(body.get("started", ""))):
            errors.append(f"worklog started {body.get('started')!r} is not in Jira's yyyy-MM-dd'T'HH:mm:ss.SSSZ")
    return errors


def assert_conforms(method: str, path: str, body: Any) -> Operation:
    errors = request_errors(method, path, body)
    assert not errors, f"{method} {path} breaks the Jira contract:\n  " + "\n  ".join(errors[:20])
    return find_operation(method, path)
