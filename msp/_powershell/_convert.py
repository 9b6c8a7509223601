"""PowerShell output -> plain Python -> follow-up actions.

Two deserialisers hand us objects: psrpcore (local transport) and pypsrp 0.9 (WinRM). Both are
normalised here to plain JSON-like values: hashtables, ordered dictionaries (including the raw
``<DCT>`` XML text pypsrp 0.9 leaves for them), PSCustomObjects, arrays, nulls and dates.

Each returned hashtable describing a request becomes one follow-up action:

``endpoint`` [/ ``method``] / ``payload``
    ``http`` to ``endpoint`` relative to the configured ``api_url``.
``webhook`` / ``payload``
    ``http`` POST to the configured ``webhook_url`` (see :func:`follow_ups` for why the
    returned URL itself is never stored).
``query`` / ``variables``
    ``graphql`` to the configured ``endpoint``.
``path`` / ``content`` [/ ``action``]
    ``file`` inside the configured ``root``.

Anything else is reported as an "unrecognised output" warning describing its shape.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import enum
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Unconvertible(ValueError):
    """A value that has no plain-data form (a .NET object with no properties...)."""


def _type_names(value: Any) -> list[str]:
    ps = getattr(value, "PSObject", None)
    names = list(getattr(ps, "type_names", None) or [])
    names += list(getattr(value, "types", None) or [])  # pypsrp GenericComplexObject
    return [n[len("Deserialized."):] if n.startswith("Deserialized.") else n for n in names]


def _iso(value: _dt.datetime | _dt.date) -> str:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC)
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    return value.isoformat()


def normalise(value: Any, _depth: int = 0) -> Any:
    """A PowerShell value as plain Python: None, bool, int, float, str, list, dict."""
    if _depth > 64:
        raise Unconvertible("nested deeper than 64 levels")
    depth = _depth + 1
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return normalise(value.value, depth)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return _iso(value)
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(normalise(k, depth)): normalise(v, depth) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [normalise(v, depth) for v in value]
    # pypsrp 0.9: types outside its fixed list (OrderedDictionary, PSCustomObject...) come back
    # as a generic object holding the raw CLIXML; read that by structure.
    raw_xml = getattr(value, "_xml", None)
    if isinstance(raw_xml, str | bytes) and hasattr(value, "_types"):
        from msp._powershell._clixml import from_clixml

        return normalise(from_clixml(raw_xml), depth)
    # psrpcore PSObject
    ps = getattr(value, "PSObject", None)
    if ps is not None:
        props_out: dict[str, Any] = {}
        for prop in [*ps.adapted_properties, *ps.extended_properties]:
            props_out[prop.name] = normalise(prop.get_value(value), depth)
        if props_out:
            return props_out
        if ps.to_string:
            return str(ps.to_string)
        raise Unconvertible(f"object of type {', '.join(_type_names(value)) or 'unknown'} has no properties")
    raise Unconvertible(f"Python value of type {type(value).__name__}")


def shape(value: Any, _depth: int = 0) -> str:
    """Describe a value's shape without its content (which may hold secrets)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return f"string ({len(value)} chars)"
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(k) for k in value)[:12])
        more = ", ..." if len(value) > 12 else ""
        return f"hashtable with keys [{keys}{more}]"
    if isinstance(value, list):
        inner = sorted({shape(v, _depth + 1) for v in value[:5]}) if _depth < 2 else ["..."]
        return f"array of {len(value)} ({'; '.join(inner)})"
    return type(value).__name__


# --- follow-ups -------------------------------------------------------------------------

_FILE_MODES = {"create": "create", "append": "append", "replace": "replace", "write": "replace",
               "overwrite": "replace", "update": "replace"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Conversion:
    """Follow-up actions built from a function's output, and what could not be used."""

    actions: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # recognised but unusable (config missing...)


def _lookup(table: Mapping[str, Any], key: str) -> Any:
    """Hashtable keys are case-insensitive in PowerShell."""
    if key in table:
        return table[key]
    lowered = key.lower()
    for k, v in table.items():
        if k.lower() == lowered:
            return v
    return None


def _has(table: Mapping[str, Any], key: str) -> bool:
    lowered = key.lower()
    return any(k.lower() == lowered for k in table)


def _configured(config: Mapping[str, Any], key: str) -> bool:
    return any(config.get(k) for k in (key, f"{key}_env", f"{key}_keyring"))


def _relative_endpoint(endpoint: str, base: str | None) -> str:
    if "://" in endpoint or endpoint.startswith("//"):
        if base and endpoint.startswith(base.rstrip("/")):
            endpoint = endpoint[len(base.rstrip("/")):] or "/"
        else:
            raise ValueError("endpoint is a full URL outside the configured api_url")
    return endpoint


def _safe_relative_path(path: str) -> str:
    cleaned = path.replace("\\", "/")
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":") or ".." in parts or not parts:
        raise ValueError("path must be relative to the configured root, without '..'")
    return "/".join(parts)


def follow_ups(
    outputs: list[Any],
    config: Mapping[str, Any],
    *,
    function: str,
    resolve: Callable[[str], str | None] = lambda key: None,
) -> Conversion:
    """Turn a function's output objects into follow-up actions.

    Webhooks: a returned ``webhook`` value is a URL that carries its own credential (Slack,
    Teams, Mattermost...), so it is never written into an action or a log. The integration
    names its webhook in msp's config (``webhook_url_env`` / ``webhook_url_keyring``, or a
    plain ``webhook_url``) and the follow-up is an ``http`` POST with ``url_from =
    "webhook_url"``, resolved again at delivery. A returned URL that differs from the configured
    one is refused (``problems``): msp only posts to webhooks its config names. ``resolve`` reads
    the configured value now, only to compare.
    """
    from msp._model.actions import FileWrite, GraphQLRequest, HttpRequest

    out = Conversion()
    items: list[Any] = []
    for raw in outputs:
        try:
            value = normalise(raw)
        except Unconvertible as exc:
            out.warnings.append(f"{function}: unrecognised output ({exc}); ignored")
            continue
        # PowerShell unrolls arrays onto the pipeline; an array written as one object
        # (`return ,@(...)`) arrives nested: treat its items the same way.
        if isinstance(value, list):
            items.extend(value)
        elif value is not None:
            items.append(value)

    for position, item in enumerate(items):
        where = f"{function}: output {position + 1}"
        if not isinstance(item, dict):
            out.warnings.append(f"{where}: unrecognised output, {shape(item)}; expected a hashtable "
                                "with endpoint/payload, webhook/payload, query/variables or path/content")
            continue
        try:
            if _has(item, "query"):
                if not _configured(config, "endpoint"):
                    out.problems.append(f"{where}: a GraphQL query, but no endpoint is configured "
                                        "(set endpoint or endpoint_env)")
                    continue
                variables = _lookup(item, "variables") or {}
                if not isinstance(variables, dict):
                    raise ValueError("variables must be a hashtable")
                op = _lookup(item, "operationName")
                out.actions.append(GraphQLRequest(document=str(_lookup(item, "query")), variables=variables,
                                                  operation_name=str(op) if op else None))
            elif _has(item, "webhook"):
                if not _configured(config, "webhook_url"):
                    out.problems.append(f"{where}: a webhook post, but no webhook_url is configured "
                                        "(set webhook_url_env to the variable holding the URL)")
                    continue
                returned = _lookup(item, "webhook")
                if returned:
                    configured = resolve("webhook_url")
                    if configured is not None and str(returned).rstrip("/") != configured.rstrip("/"):
                        out.problems.append(f"{where}: the returned webhook URL is not the one named by "
                                            "webhook_url in msp's config; msp only posts to configured webhooks")
                        continue
                out.actions.append(HttpRequest(method="POST", path="", url_from="webhook_url",
                                               json_body=_lookup(item, "payload")))
            elif _has(item, "endpoint"):
                if not _configured(config, "api_url"):
                    out.problems.append(f"{where}: an API request, but no api_url is configured")
                    continue
                method = str(_lookup(item, "method") or "POST").upper()
                if method not in _METHODS:
                    raise ValueError(f"method {method!r} is not one of {', '.join(sorted(_METHODS))}")
                base = config.get("api_url") if isinstance(config.get("api_url"), str) else resolve("api_url")
                path = _relative_endpoint(str(_lookup(item, "endpoint")), base)
                headers = config.get("headers") or {}
                out.actions.append(HttpRequest(method=method, path=path, url_from="api_url",
                                               json_body=_lookup(item, "payload"), headers=dict(headers)))
            elif _has(item, "path") and _has(item, "content"):
                if not config.get("root"):
                    out.problems.append(f"{where}: a file write, but no root folder is configured")
                    continue
                content = _lookup(item, "content")
                if not isinstance(content, str):
                    content = json.dumps(content, ensure_ascii=False, indent=2)
                mode = _FILE_MODES.get(str(_lookup(item, "action") or "replace").lower(), "replace")
                out.actions.append(FileWrite(path=_safe_relative_path(str(_lookup(item, "path"))),
                                             content=content, mode=mode, root_from="root"))
            else:
                out.warnings.append(f"{where}: unrecognised output, {shape(item)}; expected endpoint/payload, "
                                    "webhook/payload, query/variables or path/content")
        except ValueError as exc:
            # pydantic's ValidationError is a ValueError too
            first = str(exc).splitlines()[0]
            out.problems.append(f"{where}: {first}")
    return out
