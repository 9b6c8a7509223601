r"""PowerShell output -> plain Python -> follow-up actions.

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
    ``graphql`` to the configured ``endpoint`` (``cypher`` when the function is declared so), only
    with ``deliver_returned_queries = true``: the script built that text itself.
``path`` / ``content`` [/ ``action``]
    ``file`` inside the configured ``root``. A path built with ``\`` is normalised; an absolute
    path is accepted inside ``root`` (made relative to it) and refused outside it.
``path`` alone
    A file the script wrote itself: recorded as the call's result (inside ``root`` only).

A string returned by a function declared in ``returns`` (``cypher``, ``graphql``, ``text``) is
query text: delivered only with ``deliver_returned_queries = true``, otherwise recorded.

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
    results: list[str] = field(default_factory=list)  # recorded, not delivered (files written, queries held)


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


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or (len(path) > 2 and path[1] == ":" and path[2] == "/")


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def root_relative(path: str, config: Mapping[str, Any], project_root: Any = None) -> str:
    """A returned file path as a path relative to the configured ``root``.

    A backslash becomes ``/`` (scripts build Windows paths: ``Join-Path $VaultPath "Daily Notes\\x.md"``).
    An absolute path is accepted when it lies inside ``root`` (compared case-insensitively for
    drive-letter paths) and refused otherwise; a relative one must not climb out with ``..``.
    """
    import os
    from pathlib import Path

    cleaned = path.replace("\\", "/")
    if not _is_absolute(cleaned):
        return _safe_relative_path(cleaned)
    raw_root = config.get("root")
    if not isinstance(raw_root, str) or not raw_root:
        raise ValueError("an absolute path, and no root folder is configured to accept it in")
    root_text = os.path.expanduser(raw_root).replace("\\", "/")
    if not _is_absolute(root_text):
        base = Path(project_root) if project_root is not None else Path.cwd()
        root_text = str(base / root_text).replace("\\", "/")
    windows = len(root_text) > 1 and root_text[1] == ":"
    root_parts, path_parts = _parts(root_text), _parts(cleaned)
    def norm(part: str) -> str:
        return part.lower() if windows else part

    if ".." in path_parts or len(path_parts) <= len(root_parts) or [norm(a) for a in root_parts] != [
            norm(b) for b in path_parts[:len(root_parts)]]:
        raise ValueError("the path is outside the configured root folder; refused")
    return "/".join(path_parts[len(root_parts):])


def _text_request(text: str) -> tuple[str, str, Any]:
    """``METHOD /path`` on the first line, an optional JSON body after it (the seed's pattern)."""
    head, _, body = text.strip().partition("\n")
    words = head.split()
    if len(words) != 2 or words[0].upper() not in _METHODS:
        raise ValueError("returned text is not a request ('METHOD /path' on its first line)")
    payload = json.loads(body) if body.strip() else None
    return words[0].upper(), words[1], payload


def follow_ups(
    outputs: list[Any],
    config: Mapping[str, Any],
    *,
    function: str,
    resolve: Callable[[str], str | None] = lambda key: None,
    project_root: Any = None,
    query_kind: str | None = None,
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
    from msp._model.actions import CypherQuery, FileWrite, GraphQLRequest, HttpRequest

    deliver = bool(config.get("deliver_returned_queries", False))
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
        if isinstance(item, str) and query_kind is not None:
            if not deliver:
                out.results.append(f"{where}: returned {query_kind} text ({len(item)} chars); recorded, not "
                                   "delivered (deliver_returned_queries is off)")
                continue
            try:
                if query_kind == "graphql":
                    if not _configured(config, "endpoint"):
                        out.problems.append(f"{where}: GraphQL text, but no endpoint is configured")
                        continue
                    out.actions.append(GraphQLRequest(document=item))
                elif query_kind == "cypher":
                    out.actions.append(CypherQuery(statement=item))
                else:
                    if not _configured(config, "api_url"):
                        out.problems.append(f"{where}: a request in text, but no api_url is configured")
                        continue
                    method, path, payload = _text_request(item)
                    base = config.get("api_url") if isinstance(config.get("api_url"), str) else resolve("api_url")
                    out.actions.append(HttpRequest(method=method, path=_relative_endpoint(path, base),
                                                   url_from="api_url", json_body=payload,
                                                   headers=dict(config.get("headers") or {})))
            except ValueError as exc:
                out.problems.append(f"{where}: {str(exc).splitlines()[0]}")
            continue
        if not isinstance(item, dict):
            out.warnings.append(f"{where}: unrecognised output, {shape(item)}; expected a hashtable "
                                "with endpoint/payload, webhook/payload, query/variables or path/content")
            continue
        try:
            if _has(item, "query"):
                kind = "cypher" if query_kind == "cypher" else "graphql"
                if not deliver:
                    out.results.append(f"{where}: returned a {kind} query it built ({len(str(_lookup(item, 'query')))} "
                                       "chars); recorded, not delivered (deliver_returned_queries is off)")
                    continue
                if kind == "cypher":
                    params = _lookup(item, "parameters") or _lookup(item, "variables") or {}
                    if not isinstance(params, dict):
                        raise ValueError("parameters must be a hashtable")
                    out.actions.append(CypherQuery(statement=str(_lookup(item, "query")), parameters=params))
                    continue
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
                out.actions.append(FileWrite(path=root_relative(str(_lookup(item, "path")), config, project_root),
                                             content=content, mode=mode, root_from="root"))
            elif _has(item, "path") and isinstance(_lookup(item, "path"), str):
                # The script wrote the file itself: record it as the result (inside root only).
                if not config.get("root"):
                    out.problems.append(f"{where}: reports a file it wrote, but no root folder is configured")
                    continue
                out.results.append(f"wrote {root_relative(str(_lookup(item, 'path')), config, project_root)}")
            else:
                out.warnings.append(f"{where}: unrecognised output, {shape(item)}; expected endpoint/payload, "
                                    "webhook/payload, query/variables or path/content")
        except ValueError as exc:
            # pydantic's ValidationError is a ValueError too
            first = str(exc).splitlines()[0]
            out.problems.append(f"{where}: {first}")
    return out
