"""msp integration for Linear: session summaries as comments on the session's issue.

Enabled by an ``[integrations.linear]`` section. What it plans (GraphQL over the dispatcher's
``graphql`` executor, never a third-party Linear client):

* on close, a ``commentCreate`` on the session's issue (``msp start --issue ENG-123``, else
  ``active_issue``) with the summary, duration, progress, updates, decisions with their
  rationale, and open and resolved blockers;
* with ``[integrations.linear.progress_comments]``, a short comment on updates, throttled to
  every N updates or a progress move of at least M points;
* with ``[integrations.linear.create_issue]``, an ``issueCreate`` per session (at start) in a
  team, optionally a project, with labels. Sessions without an issue key then comment on it.

Every create carries a client-chosen ``id`` derived from the event (or session) it comes from,
so a retried or replayed create names the same comment or issue and can't make a second one.
The API key or OAuth token is named in config (``token_env`` / ``token_keyring``) and resolved by
the dispatcher at send time; it never appears in an action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msp import hookimpl

from . import _render
from ._documents import COMMENT_CREATE, DOCUMENTS, ISSUE_CREATE

if TYPE_CHECKING:
    from msp import Event, Finding, GraphQLRequest, Session, Update

__all__ = [
    "DOCUMENTS",
    "config_schema",
    "defaults",
    "demo_actions",
    "msp_doctor",
    "msp_session_close",
    "msp_session_start",
    "msp_update",
    "name",
    "readiness",
]

name = "linear"

#: Merged under the user's ``[integrations.linear]`` section by the host.
defaults: dict[str, Any] = {
    "endpoint": "https://api.linear.app/graphql",
    "auth_scheme": "header",
}

#: Checked by the host before each recording command and by the doctor, locally: the key or
#: token must be named (an unset variable means every request waits), the endpoint only if named.
readiness: dict[str, Any] = {"secrets": ["token"], "optional_secrets": ["endpoint"]}

#: The doctor's online probe: who the token belongs to. Reads, writes nothing.
VIEWER_PROBE = "query MspDoctorViewer { viewer { id } }"

_SECRET_NAME = {"type": "string", "minLength": 1, "maxLength": 200}
_ISSUE_REF = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": r"^([A-Za-z][A-Za-z0-9_]*-[0-9]+|[0-9a-fA-F-]{36})$",
    "description": "An issue identifier (ENG-123) or UUID.",
}
_LINEAR_ID = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9_-]+$"}

config_schema: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "[integrations.linear]",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "endpoint": {
            "type": "string",
            "pattern": r"^https?://[^\s]+$",
            "description": "GraphQL endpoint. Default https://api.linear.app/graphql.",
        },
        "endpoint_env": {**_SECRET_NAME, "description": "Environment variable holding the endpoint URL."},
        "endpoint_keyring": {**_SECRET_NAME, "description": "Keyring entry (service/user) holding the endpoint."},
        "auth_scheme": {
            "enum": ["header", "bearer"],
            "description": "header: a personal API key sent as `Authorization: <key>` (default); "
            "bearer: an OAuth access token sent as `Authorization: Bearer <token>`.",
        },
        "auth_header": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9-]+$",
            "description": "Header carrying the key when auth_scheme = header. Default Authorization.",
        },
        "token_env": {**_SECRET_NAME, "description": "Environment variable holding the API key or OAuth token."},
        "token_keyring": {**_SECRET_NAME, "description": "Keyring entry (service/user) holding the key or token."},
        "active_issue": {**_ISSUE_REF, "description": "Issue to comment on when a session has no --issue."},
        "close_comment": {"type": "boolean", "description": "Comment the summary on close. Default true."},
        "max_items": {
            "type": "integer", "minimum": 1, "maximum": 500,
            "description": "Most updates, decisions or blockers listed in one comment; the rest are "
            "counted (`… and N more`). Default 50.",
        },
        "item_chars": {
            "type": "integer", "minimum": 200, "maximum": 65536,
            "description": "Longest text kept for one item; longer text is visibly cut. Default 4000.",
        },
        "progress_comments": {
            "type": "object",
            "additionalProperties": False,
            "description": "Comment on updates. With neither key, every update comments.",
            "properties": {
                "every_n_updates": {"type": "integer", "minimum": 1, "maximum": 10000},
                "min_progress_jump": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        },
        "create_issue": {
            "type": "object",
            "additionalProperties": False,
            "required": ["team_id"],
            "description": "Create an issue per session, at start.",
            "properties": {
                "team_id": {**_LINEAR_ID, "description": "Team UUID."},
                "project_id": {**_LINEAR_ID, "description": "Project UUID."},
                "label_ids": {"type": "array", "items": _LINEAR_ID, "maxItems": 50, "uniqueItems": True},
                "priority": {"type": "integer", "minimum": 0, "maximum": 4},
                "title_prefix": {"type": "string", "maxLength": 100},
            },
        },
    },
}

_DEFAULT_MAX_ITEMS = 50
_DEFAULT_ITEM_CHARS = 4000
_TITLE_CHARS = 255


def _limits(config: dict[str, Any]) -> tuple[int, int]:
    return int(config.get("max_items", _DEFAULT_MAX_ITEMS)), int(config.get("item_chars", _DEFAULT_ITEM_CHARS))


def session_issue_id(session_id: str) -> str:
    """The id of the issue ``create_issue`` makes for a session: the same at start and close."""
    return _render.client_id(session_id, "session-issue")


def target_issue(session: Session, config: dict[str, Any]) -> str | None:
    """Where comments go: the session's issue, the configured active issue, or its own issue."""
    if session.issue:
        return session.issue
    if config.get("active_issue"):
        return str(config["active_issue"])
    if config.get("create_issue"):
        return session_issue_id(session.id)
    return None


#: How Linear refuses a create whose client-chosen id exists. Every create msp plans carries an
#: id derived from its event (or session), so this refusal proves an earlier attempt of the same
#: action landed (its answer was lost): the dispatcher records it as done, keeping the answer.
ALREADY_CREATED: list[dict[str, Any]] = [{"message": "already exists"}]


def _graphql(document: str, operation: str, input_: dict[str, Any]) -> GraphQLRequest:
    from msp import GraphQLRequest

    return GraphQLRequest(document=document, operation_name=operation, variables={"input": input_},
                          already_applied=ALREADY_CREATED)


def comment_action(issue: str, body: str, comment_id: str) -> GraphQLRequest:
    return _graphql(COMMENT_CREATE, "MspCommentCreate", {"id": comment_id, "issueId": issue, "body": body})


#: What :func:`_progress_due` returns when a comment is due but the progress it moved from is
#: older than the updates the hook sees.
UNKNOWN_BASELINE = -1


def _progress_due(session: Session, update: Update, config: dict[str, Any]) -> int | None:
    """The progress last commented on, when this update should comment; else None.

    The throttle is replayed over the session's own updates, so the answer depends only on the
    session's history: the same every time it is planned, on any machine.
    """
    rules = config.get("progress_comments")
    if not isinstance(rules, dict):
        return None
    every = rules.get("every_n_updates")
    jump = rules.get("min_progress_jump")
    if every and not jump:
        # Only a count: the update's position in the whole session decides, which the hook
        # knows exactly even when it sees only the latest updates of a long session.
        seen = [u.id for u in session.updates]
        if update.id not in seen:
            return None
        first = session.update_count - len(seen) + 1  # the position of the first update shown
        position = first + seen.index(update.id)
        if position % every:
            return None
        # The baseline is the progress as of the previous comment, `every` updates back (the
        # start when there was none). When that lies before the updates shown, it is not known
        # here: the comment then gives the progress alone, never a made-up move.
        previous = position - every
        if previous <= 0:
            return session.start_progress
        if previous < first:
            return UNKNOWN_BASELINE
        known = [u.progress for u in session.updates[: previous - first + 1] if u.progress is not None]
        return known[-1] if known else session.start_progress
    baseline = current = session.start_progress
    since = 0
    for item in session.updates:
        since += 1
        if item.progress is not None:
            current = item.progress
        due = bool((not every and not jump) or (every and since >= every)
                   or (jump and abs(current - baseline) >= jump))
        if item.id == update.id:
            return baseline if due else None
        if due:
            baseline, since = current, 0
    return None


@hookimpl
def msp_session_start(session: Session, event: Event, config: dict[str, Any]) -> list[GraphQLRequest]:
    spec = config.get("create_issue")
    if not isinstance(spec, dict):
        return []
    _, item_chars = _limits(config)
    title = _render.clip(f"{spec.get('title_prefix', '')}{_render.session_title(session)}", _TITLE_CHARS)
    data: dict[str, Any] = {
        "id": session_issue_id(session.id),
        "teamId": spec["team_id"],
        "title": title,
        "description": _render.issue_description(session, item_chars=item_chars),
    }
    if spec.get("project_id"):
        data["projectId"] = spec["project_id"]
    if spec.get("label_ids"):
        data["labelIds"] = list(spec["label_ids"])
    if spec.get("priority") is not None:
        data["priority"] = spec["priority"]
    if session.issue:
        # The key the session works on is the natural parent of its per-session issue.
        data["parentId"] = session.issue
    return [_graphql(ISSUE_CREATE, "MspIssueCreate", data)]


@hookimpl
def msp_update(session: Session, update: Update, event: Event, config: dict[str, Any]) -> list[GraphQLRequest]:
    issue = target_issue(session, config)
    if issue is None:
        return []
    since = _progress_due(session, update, config)
    if since is None:
        return []
    _, item_chars = _limits(config)
    body = _render.progress_comment(session, update, since, item_chars=item_chars)
    return [comment_action(issue, body, _render.client_id(event.id, "progress-comment"))]


@hookimpl
def msp_session_close(session: Session, event: Event, config: dict[str, Any]) -> list[GraphQLRequest]:
    if not config.get("close_comment", True):
        return []
    issue = target_issue(session, config)
    if issue is None:
        return []
    max_items, item_chars = _limits(config)
    body = _render.close_comment(session, max_items=max_items, item_chars=item_chars)
    return [comment_action(issue, body, _render.client_id(event.id, "close-comment"))]


@hookimpl
def msp_doctor(config: dict[str, Any], online: bool) -> list[Finding | GraphQLRequest]:
    """Where comments go, and with ``online`` the ``viewer`` query (the token's own user: it
    changes nothing). The token's variable is checked by the host, from :data:`readiness`."""
    from msp import Finding, GraphQLRequest

    out: list[Finding | GraphQLRequest] = []
    creates = isinstance(config.get("create_issue"), dict)
    if not config.get("close_comment", True) and "progress_comments" not in config and not creates:
        out.append(Finding(severity="warning", message="nothing is ever sent: close_comment is false and neither "
                           "progress_comments nor create_issue is set",
                           fix="set close_comment = true, or disable the integration"))
    elif config.get("active_issue"):
        out.append(Finding(severity="ok", message=f"sessions without --issue comment on {config['active_issue']}"))
    elif creates:
        out.append(Finding(severity="ok", message="each session gets its own issue (create_issue)"))
    else:
        out.append(Finding(severity="info", message="only sessions started with --issue KEY are commented on",
                           fix="set active_issue (or create_issue) to cover the others"))
    if online:
        out.append(GraphQLRequest(document=VIEWER_PROBE, operation_name="MspDoctorViewer"))
    return out


@hookimpl
def msp_export(sessions: list[Session], config: dict[str, Any]) -> str:
    """The close comment's Markdown for each session, separated by rules."""
    max_items, item_chars = _limits(config)
    return "\n---\n\n".join(_render.close_comment(s, max_items=max_items, item_chars=item_chars) for s in sessions)


def demo_actions(session: Session, config: dict[str, Any] | None = None) -> list[GraphQLRequest]:
    """What closing ``session`` would send, without credentials or a store (for demos and docs).

    Uses :data:`defaults` under ``config``; the comment's id is derived from the session id
    here, since there is no close event to derive it from.
    """
    merged = {**defaults, **(config or {})}
    issue = target_issue(session, merged)
    if issue is None:
        return []
    max_items, item_chars = _limits(merged)
    body = _render.close_comment(session, max_items=max_items, item_chars=item_chars)
    return [comment_action(issue, body, _render.client_id(session.id, "demo-close-comment"))]
