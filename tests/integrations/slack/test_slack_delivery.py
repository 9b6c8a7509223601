"""Slack end to end: a real session, the real outbox and dispatcher (http executor), and a local Slack
on 127.0.0.1 (incoming webhook and chat.postMessage) that validates every message with slack_sdk.
The webhook URL and the bot token are secrets: never in the store, the logs or `msp queue` output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from slack_contract import message_problems
from slack_service import WEBHOOK_PATH, Failure, SlackService

from msp.testing import (
    FAILURE_KINDS,
    Request,
    ScriptedServer,
    assert_no_secrets,
    drain,
    outbox_rows,
    plan,
    run_failure_kinds,
    set_env,
    write_project,
)

URL_VAR = "SLACK_TEST_WEBHOOK_URL"
TOKEN_VAR = "SLACK_TEST_BOT_TOKEN"
TOKEN = "xoxb-000000000-T3stB0tT0kenValue0123"


def webhook_section(url: str, **extra: Any) -> dict[str, Any]:
    return {"webhook_url_env": URL_VAR, "blocker_alerts": True, **extra}


def chat_section(url: str, **extra: Any) -> dict[str, Any]:
    return {"mode": "chat", "channel": "#eng-updates", "token_env": TOKEN_VAR, "base_url": url + "/api",
            "blocker_alerts": True, **extra}


def check(req: Request) -> None:
    assert message_problems(req.json()) == []


def record_default(manager: Any) -> None:
    from msp.testing import SCRIPT

    for step, data in SCRIPT:
        getattr(manager, step)(data)


def test_webhook_passes_every_failure_kind(tmp_path: Path) -> None:
    service = SlackService()
    urls: dict[str, str] = {}

    def config(url: str) -> dict[str, Any]:
        # The harness runs each kind on a fresh server: point the secret at this one.
        os.environ[URL_VAR] = urls.setdefault(url, url + WEBHOOK_PATH)
        return webhook_section(url)

    try:
        results = run_failure_kinds(tmp_path, integration="slack", config=config, secrets={URL_VAR: "unset"},
                                    ok=service, check_request=check)
    finally:
        os.environ.pop(URL_VAR, None)
    assert set(results) == set(FAILURE_KINDS)
    assert service.invalid == []
    assert len(service.posted) == 5 * 2, "five kinds delivered the blocker alert and the summary"
    for root in (r.project_root for r in results.values()):
        assert root is not None
        assert_no_secrets(root, [*urls.values(), WEBHOOK_PATH])


def test_chat_post_message_passes_every_failure_kind(tmp_path: Path) -> None:
    service = SlackService(token=TOKEN)
    results = run_failure_kinds(tmp_path, integration="slack", config=chat_section, secrets={TOKEN_VAR: TOKEN},
                                ok=service, check_request=check)
    assert set(results) == set(FAILURE_KINDS)
    assert service.invalid == []
    assert len(service.posted) == 5 * 2
    assert {s.request.header("Authorization") for s in service.requests} == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize("mode", ["webhook", "chat"])
def test_429_with_retry_after_is_delivered_after_the_wait(tmp_path: Path, mode: str) -> None:
    service = SlackService(token=TOKEN)
    with ScriptedServer(default=service) as server, set_env(**{URL_VAR: server.url + WEBHOOK_PATH, TOKEN_VAR: TOKEN}):
        make = webhook_section if mode == "webhook" else chat_section
        root = write_project(tmp_path / "p", "slack", make(server.url))
        assert plan(root, "slack", None, record_default) == 2
        service.fail(Failure("429", retry_after_s=1))
        report = drain(root)
        assert report["done"] == 2 and [r["status"] for r in outbox_rows(root)] == ["done", "done"]
        first, again = service.requests[0], service.requests[1]
        assert first.status == 429 and again.status == 200
        assert first.request.header("Idempotency-Key") == again.request.header("Idempotency-Key")
        assert again.at - first.at >= 0.95, "the retry honoured Retry-After: 1"
        assert [m["blocks"][0]["text"]["text"] for m in service.posted] == [
            "Blocker raised: Sandbox API rejects test cards", "Session closed: Ship the retry worker"]
        assert service.invalid == []
        assert_no_secrets(root, [WEBHOOK_PATH, TOKEN])


def test_a_huge_session_is_delivered_within_slacks_limits(tmp_path: Path) -> None:
    from msp.testing import SCRIPT

    def record(manager: Any) -> None:
        manager.start(SCRIPT[0][1])
        for i in range(1000):
            manager.update({"text": f"Step {i}: <!channel> & more", "progress": min(100, i // 10)})
        manager.decide({"text": "D" * 10_240, "rationale": "R" * 10_240})
        manager.end({"summary": "S" * 20_000})

    service = SlackService()
    with ScriptedServer(default=service) as server, set_env(**{URL_VAR: server.url + WEBHOOK_PATH}):
        root = write_project(tmp_path / "p", "slack", webhook_section(server.url))
        assert plan(root, "slack", None, record) == 1
        drain(root)
    assert [r["status"] for r in outbox_rows(root)] == ["done"]
    (message,) = service.posted
    assert message_problems(message) == [] and service.invalid == []
    assert len(message["blocks"]) <= 50


def test_missing_webhook_url_waits_and_names_the_variable(tmp_path: Path) -> None:
    service = SlackService()
    with ScriptedServer(default=service) as server, set_env(**{URL_VAR: None}):
        root = write_project(tmp_path / "p", "slack", webhook_section(server.url))
        queued = plan(root, "slack", None, record_default)
        drain(root, wait=False)
    pending = outbox_rows(root)
    assert [r["status"] for r in pending] == ["pending"] * queued
    assert f"environment variable {URL_VAR}" in (pending[0]["last_error"] or "")
    assert service.requests == []


def test_chat_post_message_ok_false_is_not_counted_as_delivered(tmp_path: Path) -> None:
    service = SlackService(token=TOKEN)
    with ScriptedServer(default=service) as server, set_env(**{TOKEN_VAR: TOKEN}):
        root = write_project(tmp_path / "p", "slack", chat_section(server.url, blocker_alerts=False))
        assert plan(root, "slack", None, record_default) == 1
        service.fail(Failure("ok_false", error="channel_not_found"))
        drain(root)
    (row,) = outbox_rows(root)
    assert service.posted == []
    assert row["status"] == "dead" and "channel_not_found" in (row["last_error"] or "")


def test_chat_post_message_rate_limited_in_the_body_is_retried(tmp_path: Path) -> None:
    service = SlackService(token=TOKEN)
    with ScriptedServer(default=service) as server, set_env(**{TOKEN_VAR: TOKEN}):
        root = write_project(tmp_path / "p", "slack", chat_section(server.url, blocker_alerts=False))
        assert plan(root, "slack", None, record_default) == 1
        service.fail(Failure("ok_false", error="ratelimited"))
        drain(root)
    (row,) = outbox_rows(root)
    # Retried, not dead: the second attempt is delivered, exactly once.
    assert row["status"] == "done" and row["attempts"] == 2
    assert len(service.posted) == 1
