"""The requests this integration plans: a comment and, when enabled, a worklog.

Paths are built from constant text and an issue key that has passed
:data:`msp_jira._config.ISSUE_KEY_RE` and is URL-quoted on top; nothing else from the user
reaches a path. Bodies are JSON built by serialisation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from msp import HttpRequest

from . import _adf, _wiki
from ._config import BODY_LIMIT
from ._summary import Summary, build_summary, duration_seconds

#: REST API version per deployment: Cloud speaks v3 (ADF bodies), Server/Data Center v2 (wiki).
API_VERSION = {"cloud": "3", "datacenter": "2"}
#: Character budgets tried in turn until the rendered body fits :data:`BODY_LIMIT`.
_BUDGETS = (20_000, 10_000, 5_000, 2_500)
_HEADERS = {"Accept": "application/json"}


def jira_time(at: datetime) -> str:
    """Jira's timestamp format ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` in UTC, e.g. 2026-01-05T09:00:00.000+0000."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def issue_path(deployment: str, key: str, resource: str) -> str:
    return f"/rest/api/{API_VERSION[deployment]}/issue/{quote(key, safe='')}/{resource}"


def body_size(body: Any) -> int:
    """Characters Jira will count: the wiki text, or the ADF document's JSON."""
    return len(body) if isinstance(body, str) else len(json.dumps(body, ensure_ascii=False))


def summary_body(session: Any, event: Any, config: Mapping[str, Any]) -> tuple[Summary, Any]:
    """The summary and its rendered body (ADF ``doc`` on cloud, wiki text on datacenter),
    shrunk until it fits Jira's comment limit."""
    render = _adf.render if config["deployment"] == "cloud" else _wiki.render
    max_items, max_chars = int(config["max_items"]), int(config["max_item_chars"])
    for budget in _BUDGETS:
        summary = build_summary(session, event, max_items=max_items, max_item_chars=max_chars, budget=budget)
        body = render(summary)
        if body_size(body) <= BODY_LIMIT:
            return summary, body
    # Still too big at the smallest budget (very many items): show fewer, shorter ones.
    summary = build_summary(session, event, max_items=min(max_items, 5), max_item_chars=80, budget=_BUDGETS[-1])
    return summary, render(summary)


def _visibility(config: Mapping[str, Any]) -> dict[str, Any]:
    vis = config.get("visibility")
    return {"visibility": {"type": vis["type"], "value": vis["value"]}} if vis else {}


def comment_request(key: str, body: Any, config: Mapping[str, Any]) -> HttpRequest:
    """``POST /rest/api/{3|2}/issue/{key}/comment`` with the summary as the body."""
    return HttpRequest(
        method="POST",
        path=issue_path(config["deployment"], key, "comment"),
        json_body={"body": body, **_visibility(config)},
        headers=dict(_HEADERS),
        expected_status=[201],
    )


def worklog_request(key: str, session: Any, event: Any, body: Any, config: Mapping[str, Any]) -> HttpRequest:
    """``POST /rest/api/{3|2}/issue/{key}/worklog``: the session's time, started at its start.

    Jira needs at least a minute, so a shorter session logs 60 seconds.
    """
    path = issue_path(config["deployment"], key, "worklog")
    if config.get("adjust_estimate", "auto") != "auto":
        path += "?adjustEstimate=" + quote(str(config["adjust_estimate"]), safe="")
    return HttpRequest(
        method="POST",
        path=path,
        json_body={
            "timeSpentSeconds": max(60, duration_seconds(session, event)),
            "started": jira_time(session.started_at),
            "comment": body,
            **_visibility(config),
        },
        headers=dict(_HEADERS),
        expected_status=[201],
    )
