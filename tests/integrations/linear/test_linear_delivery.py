"""Linear end to end: a real session, the real outbox and dispatcher (graphql executor), and a local
Linear built from the public schema on 127.0.0.1. Every request that arrives is validated against
the schema; secrets never land in the store, the logs or `msp queue` output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import msp_linear
import pytest
from linear_service import Failure, LinearService, request_problems

from msp.testing import (
    FAILURE_KINDS,
    Reply,
    Request,
    ScriptedServer,
    assert_no_secrets,
    cli_json,
    drain,
    outbox_rows,
    plan,
    run_failure_kinds,
    set_env,
    write_project,
)

KEY_VAR = "LINEAR_TEST_API_KEY"
SECRET = "lin_api_T3stSecretValue9f8e7d6c5b4a3210"
WRONG = "lin_api_Wr0ngSecretValue0123456789abcdef"


def section(url: str, **extra: Any) -> dict[str, Any]:
    """A config section pointing at the local endpoint, with every kind of request enabled."""
    return {
        "endpoint": url + "/graphql",
        "token_env": KEY_VAR,
        "progress_comments": {"every_n_updates": 1},
        "create_issue": {"team_id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "label_ids": ["lbl-1"]},
        **extra,
    }


def record_script(issue: str | None = "ENG-123") -> Any:
    from msp.testing import SCRIPT

    def record(manager: Any) -> None:
        for step, data in SCRIPT:
            if step == "start":
                data = {**data, "issue": issue}
            getattr(manager, step)(data)

    return record


def check(req: Request) -> None:
    assert request_problems(req) == [], req.body[:500]


def test_every_failure_kind_through_the_harness(tmp_path: Path) -> None:
    service = LinearService(token=SECRET)
    results = run_failure_kinds(tmp_path, integration="linear", config=section, secrets={KEY_VAR: SECRET},
                                ok=service, check_request=check)
    assert set(results) == set(FAILURE_KINDS)
    assert service.invalid == []
    # Five kinds delivered the whole session (issue, two progress comments, close comment) each.
    assert len(service.issues) == 5 and len(service.comments) == 15


@pytest.mark.parametrize("status", [200, 400], ids=["errors-in-200", "errors-in-400"])
def test_ratelimited_is_retried_after_the_reset_then_delivered(tmp_path: Path, status: int) -> None:
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", section(server.url))
        queued = plan(root, "linear", None, record_script())
        service.fail(Failure("ratelimited", status=status, reset_in_s=1.0))
        report = drain(root)
        assert report["done"] == queued == 4
        first, again = service.requests[0], service.requests[1]
        assert first.status == status and again.status == 200
        assert first.request.header("Idempotency-Key") == again.request.header("Idempotency-Key")
        assert again.at - first.at >= 0.9, "the retry waited for X-RateLimit-Requests-Reset"
        assert [r["status"] for r in outbox_rows(root)] == ["done"] * 4
        assert outbox_rows(root)[0]["attempts"] == 2
        assert len(service.issues) == 1 and len(service.comments) == 3
        assert service.invalid == []
        assert_no_secrets(root, [SECRET])


@pytest.mark.parametrize("status", [200, 400, 401])
def test_authentication_error_leaves_actions_pending_with_a_clear_message(tmp_path: Path, status: int) -> None:
    service = LinearService(token=SECRET, auth_status=status)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: WRONG}):
        root = write_project(tmp_path / "p", "linear", section(server.url))
        queued = plan(root, "linear", None, record_script())
        drain(root, wait=False)
        waiting = outbox_rows(root)
        assert [r["status"] for r in waiting] == ["pending"] * queued
        message = waiting[0]["last_error"] or ""
        assert "rejected the credential" in message and f"environment variable {KEY_VAR}" in message
        assert "Authentication required" in message
        assert not service.issues and not service.comments
        assert_no_secrets(root, [WRONG, SECRET])
        # The user fixes the key; the same actions go through, nothing was lost or dead.
        with set_env(**{KEY_VAR: SECRET}):
            drain(root)
        assert [r["status"] for r in outbox_rows(root)] == ["done"] * queued
        assert len(service.comments) == 3
        assert_no_secrets(root, [WRONG, SECRET])


def test_a_secret_echoed_by_the_service_is_not_stored(tmp_path: Path) -> None:
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", section(server.url))
        plan(root, "linear", None, record_script())
        service.fail(Failure("auth", message=f"API key {SECRET} has been revoked"))
        drain(root, wait=False)
        first = outbox_rows(root)[0]
        assert first["status"] == "pending" and "has been revoked" in (first["last_error"] or "")
        assert_no_secrets(root, [SECRET])


def test_missing_key_waits_and_names_the_variable(tmp_path: Path) -> None:
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: None}):
        root = write_project(tmp_path / "p", "linear", section(server.url))
        queued = plan(root, "linear", None, record_script())
        drain(root, wait=False)
        pending = outbox_rows(root)
        assert [r["status"] for r in pending] == ["pending"] * queued
        assert f"environment variable {KEY_VAR}" in (pending[0]["last_error"] or "")
        assert service.requests == [], "nothing is sent without the key"


def test_other_graphql_errors_are_dead_with_the_message_kept(tmp_path: Path) -> None:
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", {"endpoint": server.url + "/graphql", "token_env": KEY_VAR})
        assert plan(root, "linear", None, record_script(issue="NOPE-404")) == 1
        drain(root)
        (row,) = outbox_rows(root)
        assert row["status"] == "dead" and row["attempts"] == 1
        assert "Entity not found: Issue - Could not find referenced Issue." in row["last_error"]
        assert service.invalid == [] and service.comments == {}
        code, shown = cli_json(root, "queue", "show", str(row["id"]), "--json")
        assert code == 0 and "Entity not found: Issue" in json.loads(shown)["action"]["last_error"]


@pytest.mark.parametrize("lost", ["502-after-the-write", "connection-reset-mid-answer"])
def test_a_retried_create_cannot_make_a_second_comment(tmp_path: Path, lost: str) -> None:
    """The comment is written but the answer is lost; the retry carries the same client id, is
    refused as a duplicate, and that refusal (declared by the action) proves the first landed:
    the action is done, with Linear's answer as evidence (issue 12, point 11)."""
    service = LinearService(token=SECRET)
    dropped: list[int] = []

    def answer(request: Request) -> Reply:
        reply = service(request)
        if lost == "connection-reset-mid-answer" and not dropped and reply.status == 200:
            dropped.append(1)  # Linear wrote it; the connection dies halfway through the answer
            return Reply(200, json=reply.json, reset=True)
        return reply

    with ScriptedServer(default=answer) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", {"endpoint": server.url + "/graphql", "token_env": KEY_VAR})
        assert plan(root, "linear", None, record_script()) == 1
        if lost == "502-after-the-write":
            service.fail(Failure("lost"))
        drain(root)
        sent = [s.request.json()["variables"]["input"]["id"] for s in service.requests]
        assert len(sent) == 2 and sent[0] == sent[1]
        assert list(service.comments) == [sent[0]], "one comment, however many attempts"
        (row,) = outbox_rows(root)
        assert row["status"] == "done" and row["attempts"] == 2 and row["last_error"] is None
        assert row["result"].startswith("already applied") and "Comment with this id already exists" in row["result"]
        print(f"\n[linear {lost}] answers {[s.status for s in service.requests]}; "
              f"status {row['status']}; result: {row['result']}")


def test_a_create_issue_whose_answer_was_lost_is_done_too(tmp_path: Path) -> None:
    """The same for issueCreate, inside a whole session: nothing ends dead, nothing is made twice."""
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", section(server.url))
        queued = plan(root, "linear", None, record_script())
        service.fail(Failure("lost"))  # the first request is the session's issueCreate
        drain(root)
        rows = outbox_rows(root)
        assert [r["status"] for r in rows] == ["done"] * queued
        evidence = rows[0]["result"]
        assert evidence.startswith("already applied") and "Issue with this id already exists" in evidence
        assert len(service.issues) == 1 and len(service.comments) == 3


def test_a_duplicate_refusal_an_action_does_not_declare_stays_dead(tmp_path: Path) -> None:
    """The declaration is what makes a refusal evidence: other errors on a create are still dead."""
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", {"endpoint": server.url + "/graphql", "token_env": KEY_VAR})
        plan(root, "linear", None, record_script())
        service.fail(Failure("error", message="Conflict: the issue is archived", code="INVALID_INPUT"))
        drain(root)
        (row,) = outbox_rows(root)
        assert row["status"] == "dead" and "archived" in row["last_error"]


def test_oauth_token_is_sent_as_bearer(tmp_path: Path) -> None:
    service = LinearService(token=SECRET, scheme="bearer")
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", section(server.url, auth_scheme="bearer"))
        queued = plan(root, "linear", None, record_script())
        drain(root)
        assert [r["status"] for r in outbox_rows(root)] == ["done"] * queued
        assert {s.request.header("Authorization") for s in service.requests} == {f"Bearer {SECRET}"}
        assert_no_secrets(root, [SECRET])


def test_session_without_issue_comments_on_its_own_issue(tmp_path: Path) -> None:
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", section(server.url))
        plan(root, "linear", None, record_script(issue=None))
        drain(root)
        assert {r["status"] for r in outbox_rows(root)} == {"done"}
        (issue_id,) = service.issues
        assert {c["issueId"] for c in service.comments.values()} == {issue_id}
        assert "parentId" not in service.issues[issue_id]


def test_the_dispatch_command_delivers(tmp_path: Path) -> None:
    """`msp dispatch --wait --json`, the command a user runs, through the same local Linear."""
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server, set_env(**{KEY_VAR: SECRET}):
        root = write_project(tmp_path / "p", "linear", section(server.url))
        queued = plan(root, "linear", None, record_script())
        code, out = cli_json(root, "dispatch", "--wait", "--json", "--timeout", "30")
        assert code == 0, out
        assert json.loads(out)["done"] == queued
        assert SECRET not in out
        assert_no_secrets(root, [SECRET])


def test_the_local_endpoint_rejects_what_linear_would() -> None:
    """The endpoint the tests deliver to is strict: these requests fail there, as on Linear."""
    service = LinearService(token=SECRET)
    doc = msp_linear.DOCUMENTS["MspCommentCreate"]
    with ScriptedServer(default=service) as server:
        url = server.url + "/graphql"
        headers = {"Authorization": SECRET}
        bad = [
            {"query": doc, "variables": {"input": {"issueId": 123, "body": "x"}}},
            {"query": doc.replace("success", "succeeded"), "variables": {"input": {"issueId": "ENG-123"}}},
            {"query": "mutation { commentCreate(input: {body: \"spliced\"}) { success } }", "variables": {},
             "operationName": "Nope"},
        ]
        for body in bad:
            assert httpx.post(url, json=body, headers=headers, timeout=5).status_code == 400
        good = {"query": doc, "variables": {"input": {"issueId": "ENG-123", "body": "x"}}}
        answer = httpx.post(url, json=good, headers=headers, timeout=5)
    assert answer.status_code == 200 and answer.json()["data"]["commentCreate"]["success"] is True
    assert len(service.invalid) == 3
