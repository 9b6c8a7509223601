"""msp integration for Slack: a Block Kit session summary on close, and optional blocker alerts.

Enabled by an ``[integrations.slack]`` section; ``mode`` chooses the transport:

* ``webhook`` (default): POST to an incoming webhook. The URL is a secret, named by
  ``webhook_url_env`` or ``webhook_url_keyring`` and resolved by the dispatcher at send time.
* ``chat``: ``chat.postMessage`` with a bot token (``token_env`` / ``token_keyring``, sent as
  ``Authorization: Bearer``) to ``channel``.

Messages always fit Slack's Block Kit limits (see :mod:`msp_slack._blocks`); long lists and texts
are cut visibly (``… and N more``), and every message carries a plain ``text`` fallback.
Hooks are pure: they build :class:`msp.HttpRequest` actions and never touch the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msp import hookimpl

from . import _messages

if TYPE_CHECKING:
    from msp import Blocker, Finding, HttpRequest, Session

__all__ = [
    "config_schema",
    "create_integration",
    "defaults",
    "demo_actions",
    "msp_blocker",
    "msp_doctor",
    "msp_export",
    "msp_session_close",
    "name",
]

name = "slack"

#: Merged under the user's ``[integrations.slack]`` section by the host. ``auth_scheme`` is
#: added per mode by :func:`create_integration` (bearer for chat, none for a webhook).
defaults: dict[str, Any] = {"mode": "webhook", "base_url": "https://slack.com/api"}

_SECRET_NAME = {"type": "string", "minLength": 1, "maxLength": 200}
_CHANNEL = {
    "type": "string",
    "minLength": 1,
    "maxLength": 80,
    "pattern": r"^#?[A-Za-z0-9._-]+$",
    "description": "Channel id (C0123ABCD) or name (#eng-updates).",
}
_SEVERITIES = ["low", "medium", "high"]

config_schema: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "[integrations.slack]",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "mode": {"enum": ["webhook", "chat"], "description": "webhook (default) or chat (chat.postMessage)."},
        "webhook_url_env": {**_SECRET_NAME, "description": "Environment variable holding the incoming webhook URL."},
        "webhook_url_keyring": {**_SECRET_NAME, "description": "Keyring entry (service/user) holding the webhook URL."},
        "token_env": {**_SECRET_NAME, "description": "Environment variable holding the bot token (chat mode)."},
        "token_keyring": {**_SECRET_NAME, "description": "Keyring entry (service/user) holding the bot token."},
        "channel": {**_CHANNEL, "description": "Where chat mode posts: a channel id or #name."},
        "alert_channel": {**_CHANNEL, "description": "Chat mode: where blocker alerts go (default: channel)."},
        "base_url": {"type": "string", "pattern": r"^https?://[^\s]+$",
                     "description": "Slack Web API base. Default https://slack.com/api."},
        "auth_scheme": {"enum": ["none", "bearer"], "description": "Set from mode; override only for a proxy."},
        "response_ok_field": {"const": "ok", "description": "Set from mode: chat.postMessage reports failures in ok."},
        "summary": {"type": "boolean", "description": "Post the session summary on close. Default true."},
        "blocker_alerts": {"type": "boolean", "description": "Post an alert when a blocker is raised. Default false."},
        "alert_min_severity": {"enum": _SEVERITIES,
                               "description": "Alert only for blockers at least this severe (unset counts as "
                               "medium). Default low."},
        "max_items": {"type": "integer", "minimum": 1, "maximum": 100,
                      "description": "Most items listed per list; the rest are counted. Default 15."},
        "item_chars": {"type": "integer", "minimum": 50, "maximum": 2000,
                       "description": "Longest text kept for one item. Default 400."},
    },
    "if": {"properties": {"mode": {"const": "chat"}}, "required": ["mode"]},
    "then": {"required": ["channel"]},
}

_DEFAULT_MAX_ITEMS = 15
_DEFAULT_ITEM_CHARS = 400


def _post(config: dict[str, Any], message: dict[str, Any], *, alert: bool = False) -> HttpRequest:
    from msp import HttpRequest

    body = {**message, "unfurl_links": False, "unfurl_media": False}
    if config.get("mode", "webhook") == "chat":
        channel = (config.get("alert_channel") if alert else None) or config["channel"]
        return HttpRequest(method="POST", url_from="base_url", path="/chat.postMessage",
                           json_body={"channel": channel, **body}, expected_status=[200])
    return HttpRequest(method="POST", url_from="webhook_url", path="", json_body=body, expected_status=[200])


def _limits(config: dict[str, Any]) -> tuple[int, int]:
    return int(config.get("max_items", _DEFAULT_MAX_ITEMS)), int(config.get("item_chars", _DEFAULT_ITEM_CHARS))


def summary_message(session: Session, config: dict[str, Any]) -> dict[str, Any]:
    """The Block Kit summary (``text`` and ``blocks``) for a session, as it would be posted."""
    max_items, item_chars = _limits(config)
    return _messages.session_summary(session, max_items=max_items, item_chars=item_chars)


@hookimpl
def msp_session_close(session: Session, config: dict[str, Any]) -> list[HttpRequest]:
    if not config.get("summary", True):
        return []
    return [_post(config, summary_message(session, config))]


@hookimpl
def msp_blocker(session: Session, blocker: Blocker, resolved: bool, config: dict[str, Any]) -> list[HttpRequest]:
    if resolved or not config.get("blocker_alerts", False):
        return []
    floor = _SEVERITIES.index(config.get("alert_min_severity", "low"))
    if _SEVERITIES.index(blocker.severity or "medium") < floor:
        return []
    return [_post(config, _messages.blocker_alert(session, blocker), alert=True)]


@hookimpl
def msp_export(sessions: list[Session], config: dict[str, Any]) -> str:
    """Each session's summary message as JSON (what would be posted), one per line."""
    import json

    return "\n".join(json.dumps(summary_message(s, config), ensure_ascii=False) for s in sessions) + "\n"


@hookimpl
def msp_doctor(config: dict[str, Any], online: bool) -> list[Finding | HttpRequest]:
    """What would be posted, and with ``online`` in chat mode ``auth.test`` (checks the token,
    posts nothing). An incoming webhook has no call that does not post, so it is not probed.
    The credential's variable is checked by the host, from the plugin's ``readiness``."""
    from msp import Finding, HttpRequest

    out: list[Finding | HttpRequest] = []
    chat = config.get("mode", "webhook") == "chat"
    if not config.get("summary", True) and not config.get("blocker_alerts", False):
        out.append(Finding(severity="warning", message="nothing is ever posted: summary is false and "
                           "blocker_alerts is not on", fix="set summary = true, or disable the integration"))
    if chat:
        out.append(Finding(severity="ok", message=f"chat mode: posts to {config.get('channel')}"))
    if online and chat:
        out.append(HttpRequest(method="POST", url_from="base_url", path="/auth.test", expected_status=[200]))
    elif online:
        out.append(Finding(severity="info", message="webhook mode: an incoming webhook has no read-only call, so "
                           "the doctor does not post to it; the first summary shows whether it works",
                           fix="use mode = \"chat\" with a bot token to have it checked online"))
    return out


class _Configured:
    """The plugin object the host registers: this module's hooks, with defaults for the mode."""

    msp_session_close = staticmethod(msp_session_close)
    msp_blocker = staticmethod(msp_blocker)
    msp_export = staticmethod(msp_export)
    msp_doctor = staticmethod(msp_doctor)

    def __init__(self, mode: str) -> None:
        self.name = name
        self.config_schema = config_schema
        self.defaults = {**defaults, "auth_scheme": "bearer" if mode == "chat" else "none"}
        #: Checked locally by the host before each recording command and by the doctor: the
        #: credential the mode needs must be named, and its variable set.
        self.readiness = {"secrets": ["token" if mode == "chat" else "webhook_url"]}
        if mode == "chat":
            # The Web API answers 200 {"ok": false, "error": ...}: the http executor reads the field.
            self.defaults["response_ok_field"] = "ok"


def create_integration(integration: str, config: dict[str, Any]) -> _Configured:
    """Called by the host with the user's section: the auth scheme follows the chosen mode."""
    return _Configured(str(config.get("mode", "webhook")))


def demo_actions(session: Session, config: dict[str, Any] | None = None) -> list[HttpRequest]:
    """What closing ``session`` would post, without credentials or a store (demos and docs)."""
    merged = {**create_integration(name, config or {}).defaults, **(config or {})}
    return msp_session_close(session=session, config=merged)
