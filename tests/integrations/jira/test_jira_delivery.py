"""Delivery through the real dispatcher to a local Jira stand-in on 127.0.0.1.

The integration is loaded from its entry point (as ``msp dispatch`` does); the stand-in checks
every request against the Jira OpenAPI contract, the ADF schema and the deployment's
credentials (see jira_standin.py), for Cloud (v3, basic) and Data Center (v2, bearer).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jira_sessions import HOSTILE_TEXTS, TOKEN, TOKEN_ENV
from jira_standin import JiraStandIn

from msp.testing import (
    FAILURE_KINDS,
    SCRIPT,
    Reply,
    ScriptedServer,
    assert_no_secrets,
    drain,
    outbox_rows,
    plan,
    run_failure_kinds,
    write_project,
)

USERNAME = "dev@acme.example"


def section(deployment: str, url: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"deployment": deployment, "base_url": url, "token_env": TOKEN_ENV, "worklog": True}
    if deployment == "cloud":
        out["username"] = USERNAME
    return {**out, **extra}


def stand_in(deployment: str) -> JiraStandIn:
    return JiraStandIn(deployment, TOKEN, USERNAME if deployment == "cloud" else None)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN


def record_hostile(manager: Any) -> None:
    manager.start({"project": "demo", "goal": HOSTILE_TEXTS[0], "issue": "pay-42"})
    for text in HOSTILE_TEXTS:
        manager.update({"text": text, "progress": 50})
        manager.decide({"text": text, "rationale": text})
    manager.block({"text": HOSTILE_TEXTS[2]})
    manager.end({"summary": HOSTILE_TEXTS[1]})


def record_script(manager: Any) -> None:
    for step, data in SCRIPT:
        getattr(manager, step)(data)


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
@pytest.mark.parametrize("record", [record_script, record_hostile], ids=["scripted", "hostile"])
def test_jira_receives_valid_requests_through_the_dispatcher(
    tmp_path: Path, server: ScriptedServer, token: str, deployment: str, record: Any
) -> None:
    jira = stand_in(deployment)
    server.default = jira
    root = write_project(tmp_path / "proj", "jira", section(deployment, server.url))
    assert plan(root, "jira", None, record) == 2
    report = drain(root)
    jira.assert_clean()
    assert report["done"] == 2 and report["dead"] == 0
    assert [r["status"] for r in outbox_rows(root)] == ["done", "done"]
    version = "3" if deployment == "cloud" else "2"
    key = "ENG-123" if record is record_script else "PAY-42"
    assert [(m, p) for m, p, _ in jira.accepted] == [
        ("POST", f"/rest/api/{version}/issue/{key}/comment"),
        ("POST", f"/rest/api/{version}/issue/{key}/worklog"),
    ]
    _, _, worklog = jira.accepted[1]
    assert worklog["timeSpentSeconds"] >= 60
    # neither the token nor the encoded credential is in the store, the logs or msp queue output
    credential = jira.expected_authorization().split(" ", 1)[1]
    assert_no_secrets(root, [TOKEN, credential])


def test_datacenter_basic_auth_and_a_context_path(tmp_path: Path, server: ScriptedServer, token: str) -> None:
    jira = JiraStandIn("datacenter", TOKEN, "svc-msp", prefix="/jira")
    server.default = jira
    root = write_project(tmp_path / "proj", "jira",
                         section("datacenter", server.url + "/jira", auth_scheme="basic", username="svc-msp"))
    plan(root, "jira", None, record_script)
    drain(root)
    jira.assert_clean()
    assert [r.path for r in server.requests] == ["/jira/rest/api/2/issue/ENG-123/comment",
                                                 "/jira/rest/api/2/issue/ENG-123/worklog"]
    assert [r["status"] for r in outbox_rows(root)] == ["done", "done"]


def test_wrong_credentials_are_refused_by_the_stand_in(tmp_path: Path, server: ScriptedServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in's checks can fail: a wrong token is refused, and the refusal is kept."""
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    jira = stand_in("datacenter")
    server.default = jira
    root = write_project(tmp_path / "proj", "jira", section("datacenter", server.url))
    plan(root, "jira", None, record_script)
    drain(root)
    assert jira.problems and all("credentials" in p for p in jira.problems)
    comment = outbox_rows(root)[0]
    assert comment["status"] == "dead" and "credentials" in (comment["last_error"] or "")


def test_a_missing_token_waits_then_delivers(tmp_path: Path, server: ScriptedServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    jira = stand_in("cloud")
    server.default = jira
    root = write_project(tmp_path / "proj", "jira", section("cloud", server.url))
    plan(root, "jira", None, record_script)
    drain(root, wait=False)
    assert server.requests == []
    waiting = outbox_rows(root)
    assert {r["status"] for r in waiting} == {"pending"}
    assert TOKEN_ENV in (waiting[0]["last_error"] or "")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    drain(root)
    jira.assert_clean()
    assert [r["status"] for r in outbox_rows(root)] == ["done", "done"]


def test_jira_error_messages_are_kept_on_dead_actions(tmp_path: Path, server: ScriptedServer, token: str) -> None:
    refusal = "Issue does not exist or you do not have permission to see it."
    server.default = Reply(404, json={"errorMessages": [refusal], "errors": {}})
    root = write_project(tmp_path / "proj", "jira", section("cloud", server.url))
    plan(root, "jira", None, record_script)
    drain(root)
    for row in outbox_rows(root):
        assert row["status"] == "dead" and row["attempts"] == 1
        assert "404" in row["last_error"] and "Issue does not exist" in row["last_error"]


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_every_failure_kind(tmp_path: Path, deployment: str) -> None:
    jira = stand_in(deployment)
    results = run_failure_kinds(
        tmp_path,
        integration="jira",
        config=lambda url: section(deployment, url),
        secrets={TOKEN_ENV: TOKEN},
        ok=jira,
        check_request=lambda req: _check(jira, req),
    )
    assert set(results) == set(FAILURE_KINDS)
    jira.assert_clean()
    for kind, result in results.items():
        for request in result.requests:
            assert TOKEN not in json.dumps(result.actions), kind
            assert request.header("Idempotency-Key")


def _check(jira: JiraStandIn, request: Any) -> None:
    problems = jira.check(request)
    assert not problems, problems
