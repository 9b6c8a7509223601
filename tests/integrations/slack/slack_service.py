"""A local Slack: an incoming webhook and the Web API's chat.postMessage, answering like Slack.

``SlackService`` is a responder for the shared harness's ``ScriptedServer`` (a real HTTP server on
127.0.0.1). A webhook answers ``ok`` (text) or an HTTP error with a short reason; the Web API
answers 200 with ``{"ok": true|false, ...}`` except when rate limited (429 and ``Retry-After``).
Every message is checked with slack_sdk's Block Kit models and Slack's limits
(``slack_contract.message_problems``) and refused as Slack refuses it. Tests script failures for
the next valid requests (``fail``) and read back what was posted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_contract import message_problems

from msp.testing import RecordingService, Reply, Request, Seen

WEBHOOK_PATH = "/services/T0LOCAL/B0LOCAL/w3bh00kS3cretPart0123456789"


@dataclass
class Failure:
    kind: str  # "429" | "ok_false"
    retry_after_s: int = 1
    error: str = "not_in_channel"


@dataclass
class SlackService(RecordingService):
    token: str = ""
    posted: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._start_recording()

    def _answer(self, request: Request, seen: Seen) -> Reply:
        problems = seen.problems
        webhook = request.path == WEBHOOK_PATH
        if request.method != "POST" or (not webhook and request.path != "/api/chat.postMessage"):
            problems.append(f"{request.method} {request.path}")
            return Reply(404, body="no_service")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not (request.header("Content-Type") or "").startswith("application/json"):
            problems.append("not a JSON object body")
            return Reply(400, body="invalid_payload") if webhook else _api(False, error="invalid_json")
        if not webhook and request.header("Authorization") != f"Bearer {self.token}":
            problems.append("bearer token missing or wrong")
            return _api(False, error="invalid_auth")
        if webhook and request.header("Authorization") is not None:
            problems.append("a webhook needs no Authorization header")
        if not webhook and not body.get("channel"):
            problems.append("no channel")
            return _api(False, error="channel_not_found")
        problems += message_problems(body)
        if problems:
            return Reply(400, body="invalid_blocks") if webhook else _api(False, error="invalid_blocks")
        failure = self._failures.popleft() if self._failures else None
        if failure is not None and failure.kind == "429":
            return Reply(429, headers={"Retry-After": str(failure.retry_after_s)},
                         body="rate_limited") if webhook else Reply(
                429, headers={"Retry-After": str(failure.retry_after_s)}, json={"ok": False, "error": "ratelimited"})
        if failure is not None:
            return _api(False, error=failure.error)
        self.posted.append(body)
        if webhook:
            return Reply(200, body="ok", headers={"Content-Type": "text/plain"})
        return _api(True, channel="C0LOCAL", ts=f"1767600000.{len(self.posted):06d}",
                    message={"text": body.get("text", "")})


def _api(ok: bool, **fields: Any) -> Reply:
    return Reply(200, json={"ok": ok, **fields}, headers={"Content-Type": "application/json; charset=utf-8"})
