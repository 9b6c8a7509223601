"""What the jira integration plans: paths, methods, bodies, keys, config. No network here."""

from __future__ import annotations

import builtins
import json
import socket
from typing import Any

import msp_jira
import pytest
from jira_contract import JIRA_TIME_RE, adf_errors, assert_conforms
from jira_sessions import CLOUD, DATACENTER, START, TEN_KB, config, hostile_session, session, sessions_to_check

from msp import HttpRequest
from msp._plugins.host import build_host
from msp.testing import SCRIPT, assert_valid_actions

DEPLOYMENTS = {"cloud": CLOUD, "datacenter": DATACENTER}


def plan(sess: Any, cfg: dict[str, Any]) -> list[HttpRequest]:
    """The actions the close hook returns for ``sess``, with the host's defaults applied."""
    host = build_host({"jira": cfg}, extra={"jira": msp_jira})
    assert not host.broken, host.broken
    merged = host.integrations["jira"].config
    return list(msp_jira.msp_session_close(session=sess, event=None, config=merged))


def dump(action: Any) -> dict[str, Any]:
    return action.model_dump(mode="json", by_alias=True)  # type: ignore[no-any-return]


# --- a whole session through the host ----------------------------------------------------------


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_full_session_plans_a_comment_on_close_only(msp_run_session: Any, deployment: str) -> None:
    run = msp_run_session(msp_jira, DEPLOYMENTS[deployment], "jira")
    assert run.broken == [] and run.warnings == []
    assert {hook: len(a) for hook, a in run.actions.items() if a} == {"msp_session_close": 1}
    assert_valid_actions(run.all_actions)
    (comment,) = run.actions["msp_session_close"]
    version = "3" if deployment == "cloud" else "2"
    assert (comment.method, comment.path) == ("POST", f"/rest/api/{version}/issue/ENG-123/comment")
    assert comment.url_from == "base_url" and comment.expected_status == [201]
    op = assert_conforms(comment.method, comment.path, comment.json_body)
    assert op.operation_id == "addComment"


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_worklog_logs_the_session_time_from_its_start(msp_run_session: Any, deployment: str) -> None:
    run = msp_run_session(msp_jira, config(DEPLOYMENTS[deployment], worklog=True), "jira")
    assert_valid_actions(run.all_actions)
    comment, worklog = run.actions["msp_session_close"]
    assert worklog.path.endswith("/issue/ENG-123/worklog")
    assert assert_conforms(worklog.method, worklog.path, worklog.json_body).operation_id == "addWorklog"
    body = worklog.json_body
    # The scripted session's clock moves 7 minutes per step, 8 steps: start to close is 49 minutes.
    assert len(SCRIPT) == 8
    assert body["timeSpentSeconds"] == 7 * 60 * 7
    assert body["started"] == "2026-01-05T09:00:00.000+0000"
    # the summary is the worklog's comment: the same document as the comment's body
    assert body["comment"] == comment.json_body["body"]
    assert isinstance(body["comment"], dict if deployment == "cloud" else str)


def test_worklog_only_and_nothing_at_all() -> None:
    only = plan(session(), config(CLOUD, comment=False, worklog=True))
    assert [a.path for a in only] == ["/rest/api/3/issue/PAY-42/worklog"]
    assert plan(session(), config(CLOUD, comment=False)) == []


def test_short_sessions_log_a_minute_and_time_comes_from_the_session() -> None:
    (_, worklog) = plan(session(minutes=0.2), config(CLOUD, worklog=True))
    assert worklog.json_body["timeSpentSeconds"] == 60
    (_, worklog) = plan(session(minutes=95.5), config(DATACENTER, worklog=True))
    assert worklog.json_body["timeSpentSeconds"] == 95 * 60 + 30
    # An unclosed session (replay of an old event) ends at its last event, not "now".
    (_, worklog) = plan(session(minutes=12, ended=False), config(CLOUD, worklog=True))
    assert worklog.json_body["timeSpentSeconds"] == 12 * 60


def test_jira_time_format() -> None:
    from datetime import timedelta, timezone

    assert msp_jira.jira_time(START) == "2026-01-05T09:00:00.000+0000"
    local = START.astimezone(timezone(timedelta(hours=5, minutes=30))).replace(microsecond=123_456)
    assert msp_jira.jira_time(local) == "2026-01-05T09:00:00.123+0000"
    assert JIRA_TIME_RE.match(msp_jira.jira_time(local))


def test_visibility_goes_on_comment_and_worklog() -> None:
    vis = {"type": "role", "value": "Developers"}
    for action in plan(session(), config(DATACENTER, worklog=True, visibility=vis)):
        assert action.json_body["visibility"] == vis
        assert_conforms(action.method, action.path, action.json_body)


def test_adjust_estimate_leave_is_a_declared_query_parameter() -> None:
    (_, worklog) = plan(session(), config(CLOUD, worklog=True, adjust_estimate="leave"))
    assert worklog.path == "/rest/api/3/issue/PAY-42/worklog?adjustEstimate=leave"
    assert_conforms(worklog.method, worklog.path, worklog.json_body)


# --- every body against the contracts ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(sessions_to_check()))
@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_every_body_validates_against_openapi_and_adf(name: str, deployment: str) -> None:
    sess = sessions_to_check()[name]
    actions = plan(sess, config(DEPLOYMENTS[deployment], worklog=True))
    assert len(actions) == 2
    for action in actions:
        assert_conforms(action.method, action.path, action.json_body)
        rich = action.json_body.get("body", action.json_body.get("comment"))
        if deployment == "cloud":
            assert adf_errors(rich) == []
        # Jira refuses comments over 32,767 characters, in either form.
        size = len(rich) if isinstance(rich, str) else len(json.dumps(rich, ensure_ascii=False))
        assert size <= 32_000, f"{name}: {size} characters"


def test_adf_check_can_fail() -> None:
    """The ADF check is not a rubber stamp: the shapes the renderer avoids are rejected."""
    empty_text = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": ""}]}]}
    empty_list = {"type": "doc", "version": 1, "content": [{"type": "bulletList", "content": []}]}
    assert adf_errors(empty_text) and adf_errors(empty_list)


def test_hostile_text_reaches_adf_unchanged_apart_from_controls() -> None:
    from msp_jira._adf import plain_text

    (comment,) = plan(hostile_session(), CLOUD)
    text = plain_text(comment.json_body["body"])
    for needle in ("{code}print('x'){code}", "*bold* _italic_", "[link|http://evil.example]",
                   "日本語 العربية", "🙂👩‍💻", "back\\slash \\\\ double", "|| h1 || h2 ||", "h1. not a heading"):
        assert needle in text
    assert "\x00" not in text and "\x1b" not in text and "\r" not in text
    assert "controls:" in text and "[31m red" in text


def test_huge_sessions_are_trimmed_visibly() -> None:
    sess = session(updates=[f"{i}: {TEN_KB}" for i in range(1000)])
    (comment,) = plan(sess, DATACENTER)
    body = comment.json_body["body"]
    assert "and 975 more items" in body  # 25 shown of 1,000
    assert "…" in body
    (comment,) = plan(sess, config(CLOUD, max_items=3))
    assert "and 997 more items" in json.dumps(comment.json_body, ensure_ascii=False)


def test_empty_session_says_so_instead_of_an_empty_list() -> None:
    sess = session(updates=[], decisions=[], blockers=[], goal=None, summary=None)
    (comment,) = plan(sess, CLOUD)
    doc = comment.json_body["body"]
    assert not [n for n in doc["content"] if n["type"] == "bulletList"]
    assert "No updates, decisions or blockers" in json.dumps(doc)
    assert adf_errors(doc) == []


def test_summary_carries_duration_progress_decisions_and_blockers() -> None:
    (comment,) = plan(session(), DATACENTER)
    body = comment.json_body["body"]
    assert "*Duration:* 1h 35m" in body
    assert "10% → 70% (\\+60 points)" in body
    assert "Use an outbox table \\\\ *Rationale:* A crash must not lose a charge" in body
    assert "*\\[resolved\\]* Sandbox rejects test cards" in body
    assert "*\\[open\\]* Waiting on the security review" in body


# --- the issue key --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,key", [("PAY-42", "PAY-42"), ("pay-42", "PAY-42"), (" ENG_2-7 ", "ENG_2-7")])
def test_session_issue_becomes_the_path(raw: str, key: str) -> None:
    (comment,) = plan(session(issue=raw), CLOUD)
    assert comment.path == f"/rest/api/3/issue/{key}/comment"


@pytest.mark.parametrize("bad", ["../../rest/api/3/user", "PAY-42/../../x", "PAY-42?x=1", "PAY 42", "PAY-42#",
                                 "PAY%2F42", "P-1", "1PAY-2", "PAY-", "-42", "ENG-1\n23", "ПЭЙ-42", "PAY-4２"])
def test_a_bad_session_issue_plans_nothing_and_says_why(bad: str) -> None:
    with pytest.raises(msp_jira.InvalidIssueKey, match="not a Jira issue key"):
        plan(session(issue=bad), CLOUD)


def test_a_bad_issue_is_recorded_against_the_integration(msp_run_session: Any) -> None:
    script = [(step, {**data, "issue": "../../admin"} if step == "start" else data) for step, data in SCRIPT]
    run = msp_run_session(msp_jira, CLOUD, "jira", script=script)
    assert run.all_actions == []
    assert len(run.warnings) == 1
    assert "'jira' failed in msp_session_close: InvalidIssueKey" in run.warnings[0]
    assert "not a Jira issue key" in run.warnings[0]


def test_configured_issue_key_is_checked_again_when_planning() -> None:
    # JSON Schema's pattern lets "PAY-1\n" through (Python's $ matches before a final newline);
    # the hook's full match does not.
    with pytest.raises(msp_jira.InvalidIssueKey, match="issue_key"):
        msp_jira.msp_session_close(session=session(issue=None), event=None,
                                   config=config(CLOUD, issue_key="PAY-1\n"))


def test_configured_issue_key_is_the_fallback() -> None:
    (comment,) = plan(session(issue=None), config(CLOUD, issue_key="OPS-7"))
    assert comment.path == "/rest/api/3/issue/OPS-7/comment"
    with pytest.raises(msp_jira.NoIssueKey, match="no issue"):
        plan(session(issue=None), CLOUD)


def test_project_keys_leave_other_tools_keys_alone() -> None:
    cfg = config(CLOUD, project_keys=["PAY"])
    assert plan(session(issue="ENG-123"), cfg) == []  # a Linear issue, say: not Jira's, quietly
    assert plan(session(issue="eng-123 (linear)"), cfg) == []
    (comment,) = plan(session(issue="ENG-123"), config(cfg, issue_key="PAY-1"))
    assert comment.path.endswith("/PAY-1/comment")
    (comment,) = plan(session(issue="PAY-9"), cfg)
    assert comment.path.endswith("/PAY-9/comment")


def test_paths_hold_nothing_but_the_key() -> None:
    for sess in sessions_to_check().values():
        for action in plan(sess, config(CLOUD, worklog=True)):
            assert action.path in ("/rest/api/3/issue/PAY-42/comment", "/rest/api/3/issue/PAY-42/worklog")


# --- config -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("deployment,scheme", [("cloud", "basic"), ("datacenter", "bearer")])
def test_auth_scheme_follows_the_deployment(deployment: str, scheme: str) -> None:
    host = build_host({"jira": DEPLOYMENTS[deployment]}, extra={"jira": msp_jira})
    assert not host.broken
    merged = host.integrations["jira"].config
    assert merged["auth_scheme"] == scheme
    assert merged["deployment"] == deployment


def test_explicit_auth_scheme_wins() -> None:
    cfg = config(DATACENTER, auth_scheme="basic", username="svc-msp")
    host = build_host({"jira": cfg}, extra={"jira": msp_jira})
    assert not host.broken
    assert host.integrations["jira"].config["auth_scheme"] == "basic"


@pytest.mark.parametrize("cfg,needle", [
    ({**CLOUD, "issue_key": "../etc"}, "issue_key"),
    ({**CLOUD, "deployment": "server"}, "deployment"),
    ({k: v for k, v in CLOUD.items() if k != "username"}, "username"),
    ({k: v for k, v in CLOUD.items() if k != "token_env"}, "token_env"),
    ({**CLOUD, "token": "pasted-secret"}, "unknown key(s) token"),
    ({**CLOUD, "base_url": "acme.atlassian.net"}, "base_url"),
    ({**CLOUD, "project_keys": ["pay"]}, "project_keys"),
    ({**DATACENTER, "visibility": {"type": "everyone", "value": "x"}}, "visibility"),
])
def test_bad_config_is_reported_by_key(cfg: dict[str, Any], needle: str) -> None:
    host = build_host({"jira": cfg}, extra={"jira": msp_jira})
    assert "jira" not in host.integrations
    (broken,) = host.broken
    assert needle in broken.error


def test_config_schema_is_strict_2020_12() -> None:
    import jsonschema

    schema = msp_jira.config_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    secretish = [k for k in schema["properties"] if "token" in k or "password" in k or "secret" in k]
    assert sorted(secretish) == ["token_env", "token_keyring"]


# --- purity and secrets ------------------------------------------------------------------------------


def test_hooks_are_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same session, same actions; and no file, socket or environment is touched on the way."""
    sess = hostile_session()
    cfg = config(CLOUD, worklog=True)
    host = build_host({"jira": cfg}, extra={"jira": msp_jira})
    merged = host.integrations["jira"].config
    first = [dump(a) for a in msp_jira.msp_session_close(session=sess, event=None, config=merged)]

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a hook did I/O")

    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(socket, "socket", forbidden)
    monkeypatch.setattr("os.environ", {})  # the token is never looked up while planning
    again = [dump(a) for a in msp_jira.msp_session_close(session=sess, event=None, config=merged)]
    assert again == first


def test_planned_actions_and_store_never_hold_the_token(msp_run_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from jira_sessions import TOKEN, TOKEN_ENV

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    for base in (CLOUD, DATACENTER):
        run = msp_run_session(msp_jira, config(base, worklog=True), "jira")
        assert run.all_actions
        assert TOKEN not in json.dumps([dump(a) for a in run.all_actions])
        assert run.store_path is not None
        for path in run.store_path.parent.iterdir():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_export_renders_what_the_comment_would_say() -> None:
    host = build_host({"jira": DATACENTER}, extra={"jira": msp_jira})
    text = host.export("jira", [session(), hostile_session()])
    assert text is not None
    assert text.count("h3. Work session summary:") == 2


def test_no_clock_and_no_io_in_the_package_source() -> None:
    """Static guard beside the runtime one: nothing in msp_jira reads a clock or does I/O."""
    import ast
    from pathlib import Path

    forbidden_calls = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "open", "urlopen", "getenv"}
    forbidden_modules = {"os", "socket", "httpx", "requests", "urllib.request", "subprocess", "time"}
    package = Path(msp_jira.__file__).parent
    found = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in forbidden_calls:
                    found.append(f"{path.name}:{node.lineno} calls {called}")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                found += [f"{path.name}:{node.lineno} imports {n}" for n in names if n in forbidden_modules]
    assert found == []


@pytest.mark.parametrize("lengths,budget,cap", [
    ([10, 20, 30], 1000, 500),          # everything fits: the ceiling
    ([10, 20, 5000, 5000], 1030, 500),  # short ones whole, the long ones share the rest
    ([5000] * 10, 1000, 100),
    ([5000] * 100, 1000, 60),           # never below the floor
])
def test_fair_cap_keeps_short_texts_whole(lengths: list[int], budget: int, cap: int) -> None:
    from msp_jira._summary import fair_cap

    assert fair_cap(lengths, budget, floor=60, ceiling=500) == cap


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_body_fits_even_at_the_largest_settings(deployment: str) -> None:
    """200 items of 10,000 characters, all markup characters (each escapes to 2-5 characters)."""
    nasty = ("\\{*}[|]" * 2000)[:10_000]
    sess = session(updates=[nasty] * 300, decisions=[(nasty, nasty)] * 300, blockers=[(nasty, nasty)] * 300,
                   goal=nasty, summary=nasty)
    cfg = config(DEPLOYMENTS[deployment], max_items=200, max_item_chars=10_000, worklog=True)
    for action in plan(sess, cfg):
        assert_conforms(action.method, action.path, action.json_body)
        rich = action.json_body.get("body", action.json_body.get("comment"))
        size = len(rich) if isinstance(rich, str) else len(json.dumps(rich, ensure_ascii=False))
        assert size <= 32_000
        assert "more items" in (rich if isinstance(rich, str) else json.dumps(rich))
