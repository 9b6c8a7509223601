"""The ``[integrations.jira]`` section: its JSON Schema, its defaults, and the issue key rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from msp import MspError

#: A Jira issue key: project key (a capital letter, then capitals, digits or underscores),
#: a dash, the issue number. Anything else never reaches a request path.
ISSUE_KEY_PATTERN: Final = r"^[A-Z][A-Z0-9_]+-[0-9]+$"
PROJECT_KEY_PATTERN: Final = r"^[A-Z][A-Z0-9_]+$"
#: Used with ``fullmatch``: Python's ``$`` would also accept a trailing newline.
ISSUE_KEY_RE: Final = re.compile(ISSUE_KEY_PATTERN)

#: Jira rejects comment bodies over 32,767 characters; stay clear of it.
BODY_LIMIT: Final = 32_000

DEPLOYMENTS: Final = ("cloud", "datacenter")

#: Defaults that do not depend on the deployment. ``auth_scheme`` does: see
#: :func:`deployment_defaults`.
DEFAULTS: Final[dict[str, Any]] = {
    "deployment": "cloud",
    "comment": True,
    "worklog": False,
    "adjust_estimate": "auto",
    "max_items": 25,
    "max_item_chars": 1000,
}

#: How each deployment authenticates unless ``auth_scheme`` says otherwise: Jira Cloud takes
#: basic auth (account email + API token); Data Center takes a personal access token as bearer.
AUTH_BY_DEPLOYMENT: Final[dict[str, str]] = {"cloud": "basic", "datacenter": "bearer"}


def deployment_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults for this section: :data:`DEFAULTS` plus the deployment's auth scheme."""
    deployment = config.get("deployment", DEFAULTS["deployment"])
    out = dict(DEFAULTS)
    auth = AUTH_BY_DEPLOYMENT.get(str(deployment))
    if auth is not None:  # an unknown deployment is left for the schema to report
        out["auth_scheme"] = auth
    return out


CONFIG_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "[integrations.jira]",
    "type": "object",
    "additionalProperties": False,
    "required": ["base_url"],
    "properties": {
        "deployment": {
            "enum": list(DEPLOYMENTS),
            "description": "cloud: REST v3 with Atlassian Document Format bodies; "
            "datacenter: Jira Server / Data Center, REST v2 with wiki-markup bodies.",
        },
        "base_url": {
            "type": "string",
            "pattern": r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
            "description": "The site, e.g. https://your-domain.atlassian.net or https://jira.example.com/jira "
            "(no trailing /rest/...).",
        },
        "auth_scheme": {
            "enum": ["basic", "bearer"],
            "description": "basic: username + API token (Cloud); bearer: personal access token (Data Center). "
            "Default follows deployment.",
        },
        "username": {
            "type": "string",
            "minLength": 1,
            "description": "For basic auth: the Atlassian account's email (Cloud) or the user name.",
        },
        "token_env": {
            "type": "string",
            "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
            "description": "Environment variable holding the API token (Cloud) or personal access token (DC).",
        },
        "token_keyring": {
            "type": "string",
            "pattern": r"^[^/]+/[^/]+$",
            "description": "OS keyring entry holding the token, as service/username.",
        },
        "issue_key": {
            "type": "string",
            "pattern": ISSUE_KEY_PATTERN,
            "description": "Issue to write to when the session has none (msp start --issue PAY-42 wins).",
        },
        "project_keys": {
            "type": "array",
            "items": {"type": "string", "pattern": PROJECT_KEY_PATTERN},
            "uniqueItems": True,
            "description": "Only session issue keys of these Jira projects are Jira's (others, e.g. a "
            "Linear ENG-123, fall back to issue_key). Empty or absent: every valid key.",
        },
        "comment": {"type": "boolean", "description": "Post the session summary as a comment on close."},
        "worklog": {"type": "boolean", "description": "Log the session's time as a worklog on close."},
        "adjust_estimate": {
            "enum": ["auto", "leave"],
            "description": "Worklog: reduce the remaining estimate (auto) or leave it.",
        },
        "visibility": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "value"],
            "properties": {
                "type": {"enum": ["group", "role"]},
                "value": {"type": "string", "minLength": 1},
            },
            "description": "Restrict the comment and worklog to a group or project role.",
        },
        "max_items": {
            "type": "integer",
            "minimum": 1,
            "maximum": 200,
            "description": "Items shown per section (updates, decisions, blockers); the rest are counted.",
        },
        "max_item_chars": {
            "type": "integer",
            "minimum": 80,
            "maximum": 10_000,
            "description": "Characters shown of any one text; longer texts end in an ellipsis.",
        },
    },
    "allOf": [
        {
            "if": {"properties": {"auth_scheme": {"const": "basic"}}, "required": ["auth_scheme"]},
            "then": {"required": ["username"]},
        },
        {  # a token is needed: token_env, or token_keyring instead
            "if": {"not": {"required": ["token_keyring"]}},
            "then": {"required": ["token_env"]},
        },
    ],
}


class InvalidIssueKey(MspError):
    """The session's issue (or the configured one) is not a Jira issue key."""

    code = "JIRA_ISSUE_KEY_INVALID"


class NoIssueKey(MspError):
    """The session has no issue and no ``issue_key`` is configured."""

    code = "JIRA_ISSUE_KEY_MISSING"


def project_of(key: str) -> str:
    return key.rsplit("-", 1)[0]


def issue_key_for(session_issue: str | None, config: Mapping[str, Any]) -> str | None:
    """The issue this session's summary goes to, or ``None`` when it is not Jira's.

    The session's own issue wins; lower case is accepted and upper-cased (Jira keys are
    case-insensitive). ``project_keys`` limits which projects are Jira's: a session key of
    another project falls back to ``issue_key`` (or nothing, quietly). A key that is not a Jira
    key at all raises :class:`InvalidIssueKey`, and no key anywhere raises :class:`NoIssueKey`,
    so the host records the reason against the integration and the user sees a warning.
    """
    allowed = set(config.get("project_keys") or ())
    if session_issue is not None:
        candidate = session_issue.strip().upper()
        if not ISSUE_KEY_RE.fullmatch(candidate):
            if allowed:  # the user said which keys are Jira's; this one is someone else's
                return _configured_key(config)
            raise InvalidIssueKey(
                f"session issue {_shown(session_issue)} is not a Jira issue key (expected PROJECT-123, "
                "e.g. PAY-42); nothing was sent to Jira. Start the session with --issue KEY, or set "
                "project_keys so keys of other tools are ignored"
            )
        if not allowed or project_of(candidate) in allowed:
            return candidate
        return _configured_key(config)
    key = _configured_key(config)
    if key is None:
        raise NoIssueKey(
            "the session has no issue and integrations.jira.issue_key is not set; nothing was sent to "
            "Jira. Start sessions with --issue KEY (e.g. msp start --issue PAY-42) or set issue_key"
        )
    return key


def _configured_key(config: Mapping[str, Any]) -> str | None:
    key = config.get("issue_key")
    if key is None:
        return None
    if not isinstance(key, str) or not ISSUE_KEY_RE.fullmatch(key):
        raise InvalidIssueKey(
            f"integrations.jira.issue_key {_shown(key)} is not a Jira issue key (expected PROJECT-123)"
        )
    return key


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}...'"
