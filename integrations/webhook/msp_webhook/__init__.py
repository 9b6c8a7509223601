"""The ``webhook`` integration: every session event POSTed as one JSON document.

The generic REST connector, and the reference integration for the dispatcher's tests. Each
event becomes one ``http`` action per configured URL; delivery, retries and signing are the
dispatcher's (see docs/dispatch.md).

The document (``schema = "msp.webhook.v1"``)::

    {"schema": "msp.webhook.v1", "id": "<event id, stable across retries>", "seq": 42,
     "type": "decision_recorded", "time": "2026-01-05T09:14:00.000000Z", "session_id": "...",
     "project": "...", "source": "cli",
     "item": {...the new update / decision / entity / blocker, or the session for start and close...},
     "session": {"id": ..., "project": ..., "goal": ..., "issue": ..., "status": ..., "progress": ...}}

``seq`` is the event's position in msp's store: strictly increasing in recording order. Deliveries
can repeat (a retry whose answer was lost) and, across sessions, arrive out of order; a receiver
keeping "the latest" of anything keeps the document with the highest ``seq`` it has seen, never
the latest ``time`` (two events can share a timestamp).
"""

from __future__ import annotations

import os
from typing import Any

from msp import Finding, HttpRequest, hookimpl

name = "webhook"
#: Checked locally by the host before each recording command and by the doctor: each secret,
#: when named by a variable, must have that variable set. (``urls`` items and
#: ``secret_headers`` are checked by :func:`msp_doctor`.)
readiness: dict[str, Any] = {"optional_secrets": ["url", "signing_secret", "token"]}
SCHEMA_ID = "msp.webhook.v1"
EVENT_TYPES = [
    "session_started", "progress_updated", "decision_recorded", "entity_recorded",
    "blocker_raised", "blocker_resolved", "session_closed",
]

_SECRET_NAME = {"type": "string", "minLength": 1}
#: Header names that carry credentials (the core refuses them in any integration's headers too).
_CREDENTIAL_HEADER = (
    r"(?i)^(authorization|proxy-authorization|cookie|x-api-key|x-auth-token)$"
    r"|token|(?<!^idempotency-)key\b|apikey|passw(or)?d|secret|credential"
)
_URL = {"type": "string", "pattern": "^https?://", "description": "An http(s) URL (not secret)."}

config_schema: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "[integrations.webhook]",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": _URL,
        "url_env": {**_SECRET_NAME, "description": "Environment variable holding the URL (when it is secret)."},
        "url_keyring": {**_SECRET_NAME, "description": "Keyring entry service/user holding the URL."},
        "urls": {
            "type": "array",
            "minItems": 1,
            "description": "Several endpoints; each gets its own action. Items: a URL, or {url_env = \"VAR\"}.",
            "items": {
                "oneOf": [
                    _URL,
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "minProperties": 1,
                        "maxProperties": 1,
                        "properties": {"url": _URL, "url_env": _SECRET_NAME, "url_keyring": _SECRET_NAME},
                    },
                ]
            },
        },
        "headers": {
            "type": "object",
            "description": "Extra non-secret headers, stored with every action. Credential headers (Authorization, "
            "Proxy-Authorization, Cookie, X-Api-Key, names with token/key/secret/password) are refused: use "
            "secret_headers.",
            "additionalProperties": {"type": "string"},
            "propertyNames": {"not": {"pattern": _CREDENTIAL_HEADER}},
        },
        "secret_headers": {
            "type": "object",
            "description": "Extra headers whose values are read at send time, never stored: "
            "{ \"X-Api-Key\" = \"ENV_VAR\" }, { env = \"ENV_VAR\" } or { keyring = \"service/user\" }.",
            "additionalProperties": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "object", "additionalProperties": False, "required": ["env"],
                     "properties": {"env": _SECRET_NAME}},
                    {"type": "object", "additionalProperties": False, "required": ["keyring"],
                     "properties": {"keyring": _SECRET_NAME}},
                ]
            },
        },
        "signing_secret_env": {
            **_SECRET_NAME,
            "description": "Sign requests: X-MSP-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of t.body>.",
        },
        "signature_format": {
            "enum": ["timestamped", "legacy"],
            "description": "timestamped (default): t=...,v1=... so receivers can refuse replays; "
            "legacy: sha256=<hex HMAC of the body>, for receivers written for the older header.",
        },
        "signing_secret_keyring": _SECRET_NAME,
        "auth_scheme": {"enum": ["none", "bearer", "basic", "header"]},
        "token_env": _SECRET_NAME,
        "token_keyring": _SECRET_NAME,
        "username": {"type": "string"},
        "auth_header": {"type": "string", "minLength": 1},
        "events": {
            "type": "array",
            "description": "Only these event types (default: all).",
            "items": {"enum": EVENT_TYPES},
            "uniqueItems": True,
        },
    },
}


@hookimpl
def msp_initialize(config: dict[str, Any]) -> None:
    """A webhook without a destination is a config error, said plainly."""
    if not _targets(config):
        raise ValueError(
            "no destination: set url = \"https://...\" (or url_env / url_keyring when the URL is secret, "
            "or urls = [...]) in [integrations.webhook]"
        )


@hookimpl
def msp_doctor(config: dict[str, Any], online: bool) -> list[Finding]:
    """The variables named inside ``urls`` and ``secret_headers``; online, that no probe exists:
    any request to a webhook is a delivery its receiver acts on."""
    out: list[Finding] = []
    named = [(f"urls[{i}].url_env", item["url_env"]) for i, item in enumerate(config.get("urls") or [])
             if isinstance(item, dict) and item.get("url_env")]
    named += [(f"secret_headers.{header}", variable)
              for header, variable in sorted((config.get("secret_headers") or {}).items())]
    for key, variable in named:
        if os.environ.get(str(variable)):
            out.append(Finding(severity="ok", message=f"environment variable {variable} ({key}) is set"))
        else:
            out.append(Finding(severity="problem", message=f"environment variable {variable} ({key}) is not set",
                               fix=f"export {variable}=... in the environment that runs msp"))
    out.append(Finding(severity="ok", message=f"{len(_targets(config))} destination(s)"))
    if online:
        out.append(Finding(severity="info", message="no online check: a webhook has no request that changes "
                           "nothing, and posting would deliver a document its receiver acts on",
                           fix="`msp dispatch` after the next event shows whether it is delivered"))
    return out


def _targets(config: dict[str, Any]) -> list[str]:
    """The config keys naming each destination, as the executor reads them (``url_from``)."""
    out = ["url"] if any(k in config for k in ("url", "url_env", "url_keyring")) else []
    out += [f"urls.{i}" for i in range(len(config.get("urls") or []))]
    return out


def _session_view(session: Any) -> dict[str, Any]:
    return {
        "id": session.id,
        "project": session.project,
        "goal": session.goal,
        "issue": session.issue,
        "status": session.status,
        "start_progress": session.start_progress,
        "progress": session.progress,
    }


def _session_item(session: Any) -> dict[str, Any]:
    data: dict[str, Any] = session.model_dump(
        mode="json", include={"id", "project", "goal", "issue", "status", "started_at", "ended_at",
                              "start_progress", "progress", "summary", "close_reason", "source"}
    )
    data["counts"] = {
        "updates": len(session.updates), "decisions": len(session.decisions),
        "entities": len(session.entities), "blockers": len(session.blockers),
        "open_blockers": len(session.open_blockers),
    }
    return data


def document(event: Any, session: Any, item: dict[str, Any]) -> dict[str, Any]:
    """The JSON document POSTed for one event."""
    return {
        "schema": SCHEMA_ID,
        "id": event.id,
        "seq": event.seq,
        "type": event.type,
        "time": event.to_dict()["at"],
        "session_id": event.session_id,
        "project": event.project,
        "source": event.source,
        "item": item,
        "session": _session_view(session),
    }


def _post(config: dict[str, Any], event: Any, session: Any, item: dict[str, Any]) -> list[HttpRequest]:
    wanted = config.get("events")
    if wanted and event.type not in wanted:
        return []
    body = document(event, session, item)
    headers = {**(config.get("headers") or {}), "X-MSP-Event": event.type}
    return [HttpRequest(method="POST", path="", url_from=target, json_body=body, headers=headers)
            for target in _targets(config)]


@hookimpl
def msp_session_start(session: Any, event: Any, config: dict[str, Any]) -> list[HttpRequest]:
    return _post(config, event, session, _session_item(session))


@hookimpl
def msp_update(session: Any, update: Any, event: Any, config: dict[str, Any]) -> list[HttpRequest]:
    return _post(config, event, session, update.model_dump(mode="json"))


@hookimpl
def msp_decision(session: Any, decision: Any, event: Any, config: dict[str, Any]) -> list[HttpRequest]:
    return _post(config, event, session, decision.model_dump(mode="json"))


@hookimpl
def msp_entity(session: Any, entity: Any, event: Any, config: dict[str, Any]) -> list[HttpRequest]:
    return _post(config, event, session, entity.model_dump(mode="json"))


@hookimpl
def msp_blocker(session: Any, blocker: Any, resolved: bool, event: Any, config: dict[str, Any]) -> list[HttpRequest]:
    return _post(config, event, session, {**blocker.model_dump(mode="json"), "resolved": resolved})


@hookimpl
def msp_session_close(session: Any, event: Any, config: dict[str, Any]) -> list[HttpRequest]:
    return _post(config, event, session, _session_item(session))
