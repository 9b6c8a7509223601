"""msp integration for Jira: the session summary as a comment, and optionally a worklog.

Two deployments, chosen by ``deployment`` in ``[integrations.jira]``:

``cloud`` (default)
    Jira Cloud, REST API v3. Bodies are Atlassian Document Format. Auth: basic, the account's
    email as ``username`` and an API token named by ``token_env`` / ``token_keyring``.
``datacenter``
    Jira Server / Data Center, REST API v2. Bodies are wiki markup with user text escaped
    (see :mod:`msp_jira._wiki`). Auth: a personal access token as a bearer token.

``auth_scheme`` follows the deployment unless set: the host asks :func:`create_integration`
for the section's defaults, which include the deployment's scheme.

Hooks are pure: they read the session they are given (duration from its start and end
times) and return :class:`msp.HttpRequest` actions; the dispatcher adds the credentials when it
sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msp import hookimpl

from ._config import (
    CONFIG_SCHEMA,
    DEFAULTS,
    ISSUE_KEY_PATTERN,
    InvalidIssueKey,
    NoIssueKey,
    deployment_defaults,
    issue_key_for,
)
from ._requests import comment_request, jira_time, summary_body, worklog_request

__all__ = [
    "ISSUE_KEY_PATTERN",
    "InvalidIssueKey",
    "JiraIntegration",
    "NoIssueKey",
    "config_schema",
    "create_integration",
    "defaults",
    "jira_time",
    "msp_doctor",
    "msp_export",
    "msp_session_close",
    "name",
    "readiness",
]

name = "jira"
config_schema: dict[str, Any] = CONFIG_SCHEMA
#: Deployment-independent defaults. The ``auth_scheme`` default depends on ``deployment`` and
#: comes from :func:`create_integration`'s plugin.
defaults: dict[str, Any] = dict(DEFAULTS)


#: Checked locally by the host before each recording command and by the doctor: the token's
#: variable must be set (the schema already requires token_env or token_keyring).
readiness: dict[str, Any] = {"secrets": ["token"]}


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The section with every default filled in, whoever registered the module."""
    return {**deployment_defaults(config), **config}


@hookimpl
def msp_session_close(session: Any, event: Any, config: dict[str, Any]) -> list[Any]:
    """On close: a comment with the summary and, if ``worklog = true``, a worklog, on the
    session's issue (``msp start --issue PAY-42``) or the configured ``issue_key``."""
    settings = _settings(config)
    if not settings["comment"] and not settings["worklog"]:
        return []
    key = issue_key_for(session.issue, settings)
    if key is None:  # the session's issue belongs to another tool (see project_keys)
        return []
    _, body = summary_body(session, event, settings)
    actions: list[Any] = []
    if settings["comment"]:
        actions.append(comment_request(key, body, settings))
    if settings["worklog"]:
        actions.append(worklog_request(key, session, event, body, settings))
    return actions


@hookimpl
def msp_export(sessions: list[Any], config: dict[str, Any]) -> str:
    """What the comment would say for each session: wiki markup (datacenter) or ADF JSON (cloud)."""
    import json

    settings = _settings(config)
    parts = []
    for session in sessions:
        _, body = summary_body(session, None, settings)
        parts.append(body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2))
    return "\n\n".join(parts)


@hookimpl
def msp_doctor(config: dict[str, Any], online: bool) -> list[Any]:
    """Where summaries go, and with ``online`` ``GET /rest/api/{2|3}/myself`` (the token's own
    user: it changes nothing). The token's variable is checked by the host, from :data:`readiness`."""
    from msp import Finding, HttpRequest

    from ._requests import API_VERSION

    settings = _settings(config)
    out: list[Any] = []
    if not settings["comment"] and not settings["worklog"]:
        out.append(Finding(severity="warning", message="nothing is ever sent: comment and worklog are both false",
                           fix="set comment = true, or disable the integration"))
    if settings.get("issue_key"):
        out.append(Finding(severity="ok", message=f"sessions without --issue write to {settings['issue_key']}"))
    else:
        out.append(Finding(severity="info", message="only sessions started with --issue KEY are written to Jira",
                           fix="set issue_key to cover the others"))
    if settings.get("auth_scheme") == "basic" and not settings.get("username"):
        out.append(Finding(severity="problem", message="basic auth needs username (the account's email)",
                           fix="msp config set integrations.jira.username you@example.com"))
    if online:
        version = API_VERSION.get(str(settings["deployment"]), "3")
        out.append(HttpRequest(method="GET", path=f"/rest/api/{version}/myself", expected_status=[200]))
    return out


class JiraIntegration:
    """The plugin the host registers for one ``[integrations.NAME]`` section: this module's
    hooks, with defaults that follow the section's ``deployment``."""

    name = name
    config_schema = config_schema
    msp_session_close = staticmethod(msp_session_close)
    msp_export = staticmethod(msp_export)
    msp_doctor = staticmethod(msp_doctor)
    readiness = readiness

    def __init__(self, section: Mapping[str, Any]) -> None:
        self.defaults = deployment_defaults(section)


def create_integration(integration_name: str, config: Mapping[str, Any]) -> JiraIntegration:
    """Factory the host calls with the user's section (before defaults are merged)."""
    return JiraIntegration(config)
