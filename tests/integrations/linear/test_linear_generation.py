"""What the Linear integration generates: every request valid against Linear's schema, ids stable,
throttles and targets as configured, hooks pure. No network here; delivery is in test_linear_delivery.
"""

from __future__ import annotations

import builtins
import socket
import uuid
from pathlib import Path
from typing import Any

import msp_linear
import pytest
from linear_contract import check_request, linear_schema
from linear_sessions import T0, big_session, script_with_updates, script_without_issue

from msp import GraphQLRequest
from msp._plugins.host import build_host, config_errors
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore
from msp.testing import SCRIPT, assert_valid_actions

FULL: dict[str, Any] = {
    "active_issue": "ENG-9",
    "progress_comments": {"every_n_updates": 1},
    "create_issue": {"team_id": "0f1e2d3c-aaaa-4bbb-8ccc-123456789abc", "project_id": "proj-1",
                     "label_ids": ["lbl-a", "lbl-b"], "priority": 2, "title_prefix": "[msp] "},
}

#: Configurations that together reach every kind of request the integration can make.
CONFIGS: list[tuple[str, dict[str, Any], Any]] = [
    ("close only", {}, None),
    ("everything", FULL, None),
    ("everything, no issue key", FULL, script_without_issue()),
    ("own issue only", {"create_issue": {"team_id": "team-1"}, "progress_comments": {"min_progress_jump": 30}},
     script_without_issue()),
]


def _graphql(actions: list[Any]) -> list[GraphQLRequest]:
    assert all(isinstance(a, GraphQLRequest) for a in actions)
    return list(actions)


@pytest.mark.parametrize(("label", "config", "script"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_every_generated_request_passes_linears_schema(msp_run_session: Any, label: str, config: dict[str, Any],
                                                       script: Any) -> None:
    run = msp_run_session(msp_linear, config, script=script)
    assert run.broken == [] and run.warnings == []
    actions = run.all_actions
    assert actions, f"{label}: expected requests"
    assert_valid_actions(actions)
    for action in _graphql(actions):
        assert action.document in msp_linear.DOCUMENTS.values(), "documents are constants; values go in variables"
        assert check_request(action.document, action.variables, action.operation_name) == []


def test_big_session_request_is_valid_and_visibly_cut() -> None:
    session = big_session()
    close = msp_linear.msp_session_close(session=session, event=_event("close-1"), config={})
    (action,) = _graphql(close)
    assert check_request(action.document, action.variables, action.operation_name) == []
    body = action.variables["input"]["body"]
    assert "… and 950 more updates" in body
    assert "(truncated, 10,240 characters)" in body
    assert len(body) < 60_000


def test_every_published_document_validates() -> None:
    schema = linear_schema()
    minimal = {"MspCommentCreate": {"issueId": "ENG-1", "body": "x"}, "MspIssueCreate": {"teamId": "t"}}
    assert set(msp_linear.DOCUMENTS) == set(minimal)
    for operation, document in msp_linear.DOCUMENTS.items():
        assert check_request(document, {"input": minimal[operation]}, operation, schema=schema) == []
        assert check_request(document, {}, operation, schema=schema), "the input variable is required"


def test_the_contract_check_catches_bad_requests() -> None:
    """The checks above can fail: a wrong type, a missing required field and a bad field are caught."""
    doc = msp_linear.DOCUMENTS["MspIssueCreate"]
    assert check_request(doc, {"input": {"title": "no team"}}, "MspIssueCreate")
    assert check_request(doc, {"input": {"teamId": "t", "priority": "high"}}, "MspIssueCreate")
    assert check_request(doc.replace("identifier", "identifer"), {"input": {"teamId": "t"}}, "MspIssueCreate")
    assert check_request(doc, {"input": {"teamId": "t"}}, "MspIssueCreate") == []


def test_close_comment_carries_the_whole_session(msp_run_session: Any) -> None:
    run = msp_run_session(msp_linear, {})
    (comment,) = _graphql(run.actions["msp_session_close"])
    data = comment.variables["input"]
    assert data["issueId"] == "ENG-123"
    body = data["body"]
    for expected in ("Retry worker behind a flag",          # summary
                     "**Duration:** 49m",                   # 7 ticks of the scripted clock
                     "10% → 70% (+60)",                     # progress delta
                     "Mapped the charge flow", "Worker retries with backoff",
                     "Use an outbox table", "Why: A crash must not lose a charge",
                     "Retry in memory; A message broker",
                     "Resolved blockers (1)", "Sandbox API rejects test cards",
                     "Support enabled test cards"):
        assert expected in body, expected
    assert "Open blockers" not in body


def test_open_blockers_are_listed(msp_run_session: Any) -> None:
    script = [s for s in SCRIPT if s[0] != "resolve"]
    run = msp_run_session(msp_linear, {}, script=script)
    body = run.actions["msp_session_close"][0].variables["input"]["body"]
    assert "#### Open blockers (1)" in body and "Resolved blockers" not in body


def test_active_issue_is_the_fallback_and_create_issue_the_last_resort(msp_run_session: Any) -> None:
    run = msp_run_session(msp_linear, {"active_issue": "OPS-4"}, script=script_without_issue())
    assert run.actions["msp_session_close"][0].variables["input"]["issueId"] == "OPS-4"

    run = msp_run_session(msp_linear, {"create_issue": {"team_id": "team-1"}}, script=script_without_issue())
    (created,) = run.actions["msp_session_start"]
    (comment,) = run.actions["msp_session_close"]
    issue_id = created.variables["input"]["id"]
    assert comment.variables["input"]["issueId"] == issue_id, "the close comment lands on the session's own issue"
    assert "parentId" not in created.variables["input"]

    run = msp_run_session(msp_linear, {}, script=script_without_issue())
    assert run.all_actions == [], "no issue to comment on: nothing planned"


def test_created_issue_has_team_project_labels_and_parent(msp_run_session: Any) -> None:
    run = msp_run_session(msp_linear, FULL)
    (created,) = run.actions["msp_session_start"]
    data = created.variables["input"]
    assert data["teamId"] == FULL["create_issue"]["team_id"]
    assert data["projectId"] == "proj-1"
    assert data["labelIds"] == ["lbl-a", "lbl-b"]
    assert data["priority"] == 2
    assert data["title"] == "[msp] Ship the retry worker"
    assert data["parentId"] == "ENG-123"
    # Comments still go to the issue the session works on.
    assert {a.variables["input"]["issueId"] for a in run.actions["msp_update"]} == {"ENG-123"}


def test_client_ids_are_uuid4_shaped_unique_and_stable_across_replanning(tmp_path: Path) -> None:
    host = build_host({"linear": FULL}, extra={"linear": msp_linear})
    store = SqliteStore(tmp_path / "msp.db", synchronous="normal")
    try:
        manager = SessionManager(store, host, default_project="demo-project", source="api")
        recorded: list[Any] = []
        for step, data in SCRIPT:
            recorded += getattr(manager, step)(data).planned.objects
        session_id = manager.sessions(limit=1)[0].id
        replanned = manager.plan_session(session_id, "linear")
    finally:
        store.close()
    ids = [a.variables["input"]["id"] for a in recorded]
    assert len(ids) == len(set(ids)) == 4  # issue, two progress comments, close comment
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and str(parsed) == value
    assert [a.variables["input"]["id"] for a in replanned] == ids, "a replayed create names the same object"
    assert [a.idempotency_key for a in replanned] == [a.idempotency_key for a in recorded]


@pytest.mark.parametrize(
    ("rules", "progresses", "expected"),
    [
        ({}, [5, 10, None], [0, 1, 2]),
        ({"every_n_updates": 2}, [1, 2, 3, 4, 5], [1, 3]),
        ({"min_progress_jump": 30}, [10, 25, 31, 40, 70, 95], [2, 4]),
        ({"every_n_updates": 3, "min_progress_jump": 50}, [60, 61, 62, 63, 64], [0, 3]),
        ({"min_progress_jump": 20}, [None, 50, 45, 20], [1, 3]),
    ],
)
def test_progress_comments_are_throttled(msp_run_session: Any, rules: dict[str, int], progresses: list[int | None],
                                         expected: list[int]) -> None:
    run = msp_run_session(msp_linear, {"progress_comments": rules}, script=script_with_updates(progresses))
    bodies = [a.variables["input"]["body"] for a in run.actions.get("msp_update", [])]
    assert [int(b.split("\n\nstep ")[1].split("\n")[0]) for b in bodies] == expected


def test_progress_comment_shows_the_move_since_the_last_one(msp_run_session: Any) -> None:
    run = msp_run_session(msp_linear, {"progress_comments": {"min_progress_jump": 30}},
                          script=script_with_updates([10, 35, 50, 80]))
    bodies = [a.variables["input"]["body"] for a in run.actions["msp_update"]]
    assert bodies[0].startswith("**Progress 0% → 35% (+35)**")
    assert bodies[1].startswith("**Progress 35% → 80% (+45)**")


def test_without_progress_comments_updates_plan_nothing(msp_run_session: Any) -> None:
    run = msp_run_session(msp_linear, {"close_comment": False})
    assert run.all_actions == []


def test_duration_comes_from_the_session_not_the_clock() -> None:
    session = big_session(updates=3).model_copy(update={"ended_at": T0.replace(hour=11, minute=5)})
    (action,) = msp_linear.msp_session_close(session=session, event=_event("e"), config={})
    assert "**Duration:** 2h 05m" in action.variables["input"]["body"]


def test_hooks_do_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    session = big_session(updates=5)
    expected = msp_linear.msp_session_close(session=session, event=_event("e"), config=FULL)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a hook tried to do I/O")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(builtins, "open", refuse)
    again = msp_linear.msp_session_close(session=session, event=_event("e"), config=FULL)
    started = msp_linear.msp_session_start(session=session, event=_event("s"), config=FULL)
    updated = msp_linear.msp_update(session=session, update=session.updates[-1], event=_event("u"), config=FULL)
    assert again == expected and started and updated


def test_demo_actions_need_no_credentials() -> None:
    (action,) = msp_linear.demo_actions(big_session(updates=2))
    assert action.operation_name == "MspCommentCreate"
    assert check_request(action.document, action.variables, action.operation_name) == []


def test_export_renders_markdown() -> None:
    text = msp_linear.msp_export(sessions=[big_session(updates=2), big_session(updates=1)], config={})
    assert text.count("### Session summary") == 2


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"token": "lin_api_secret"}, "unknown key(s) token"),
        ({"auth_scheme": "basic"}, "auth_scheme"),
        ({"create_issue": {"project_id": "p"}}, "'team_id' is a required property"),
        ({"progress_comments": {"min_progress_jump": 0}}, "min_progress_jump"),
        ({"active_issue": "not an issue"}, "active_issue"),
        ({"endpoint": "ftp://x"}, "endpoint"),
    ],
)
def test_config_schema_rejects_bad_sections(config: dict[str, Any], problem: str) -> None:
    errors = config_errors(msp_linear.config_schema, {**msp_linear.defaults, **config}, "integrations.linear")
    assert errors and problem in "; ".join(errors)


def test_config_schema_accepts_documented_sections() -> None:
    for config in ({}, FULL, {"auth_scheme": "bearer", "token_keyring": "linear/me", "endpoint_env": "LINEAR_URL"},
                   {"token_env": "LINEAR_API_KEY", "auth_header": "Authorization", "max_items": 10,
                    "item_chars": 500, "close_comment": True}):
        assert config_errors(msp_linear.config_schema, {**msp_linear.defaults, **config}, "x") == []


def test_the_installed_entry_point_loads_this_package() -> None:
    host = build_host({"linear": {"token_env": "LINEAR_API_KEY"}})
    assert host.broken == []
    integration = host.integrations["linear"]
    assert integration.plugin is msp_linear
    assert integration.config["endpoint"] == "https://api.linear.app/graphql"
    assert integration.config["auth_scheme"] == "header"


def _event(event_id: str) -> Any:
    from msp import Event

    return Event(id=event_id, type="session_closed", session_id="s", project="demo-project", at=T0, source="api")


def test_every_n_updates_counts_the_whole_session_past_the_updates_a_hook_sees(msp_run_session: Any) -> None:
    # A hook sees the latest 100 updates of a long session (and update_count); a count of 150
    # must still comment on the 150th and 300th updates. The second comment's baseline (the
    # 150th update) is older than what the hook sees: it shows the progress alone.
    progresses = [i % 100 for i in range(1, 321)]
    run = msp_run_session(msp_linear, {"progress_comments": {"every_n_updates": 150}},
                          script=script_with_updates(progresses))
    bodies = [a.variables["input"]["body"] for a in run.actions.get("msp_update", [])]
    assert [int(b.split("\n\nstep ")[1].split("\n")[0]) for b in bodies] == [149, 299]
    assert bodies[0].startswith(f"**Progress 0% → {progresses[149]}%")
    assert bodies[1].startswith(f"**Progress {progresses[299]}%** ·")
