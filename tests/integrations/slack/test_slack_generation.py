"""What the Slack integration generates: Block Kit that slack_sdk accepts and that fits Slack's
limits for any session, the right transport per mode, alerts as configured, pure hooks.
No network here; delivery is in test_slack_delivery.
"""

from __future__ import annotations

import builtins
import socket
from typing import Any

import msp_slack
import pytest
from slack_contract import message_problems
from slack_sessions import make_session

from msp import HttpRequest
from msp._plugins.host import build_host, config_errors
from msp.testing import SCRIPT, assert_valid_actions

CHAT = {"mode": "chat", "channel": "#eng-updates", "token_env": "SLACK_BOT_TOKEN"}
WEBHOOK = {"webhook_url_env": "SLACK_WEBHOOK_URL"}


def _close(session: Any, config: dict[str, Any] | None = None) -> dict[str, Any]:
    (action,) = msp_slack.msp_session_close(session=session, config={**msp_slack.defaults, **(config or {})})
    assert isinstance(action, HttpRequest)
    body: dict[str, Any] = action.json_body
    return body


def _texts(message: dict[str, Any]) -> str:
    out = []
    for block in message["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", []) + block.get("fields", [])]
    return "\n".join(out)


@pytest.mark.parametrize("config", [WEBHOOK, CHAT, {**CHAT, "blocker_alerts": True}], ids=["webhook", "chat",
                                                                                            "chat+alerts"])
def test_scripted_session_gives_valid_actions_and_messages(msp_run_session: Any, config: dict[str, Any]) -> None:
    run = msp_run_session(msp_slack, config)
    assert run.broken == [] and run.warnings == []
    assert_valid_actions(run.all_actions)
    assert len(run.actions["msp_session_close"]) == 1
    assert len(run.actions.get("msp_blocker", [])) == (1 if config.get("blocker_alerts") else 0)
    for action in run.all_actions:
        assert isinstance(action, HttpRequest) and action.method == "POST" and action.expected_status == [200]
        assert message_problems(action.json_body) == []


def test_webhook_mode_posts_to_the_secret_url(msp_run_session: Any) -> None:
    (action,) = msp_run_session(msp_slack, WEBHOOK).actions["msp_session_close"]
    assert action.url_from == "webhook_url" and action.path == ""
    assert "channel" not in action.json_body


def test_chat_mode_posts_to_chat_post_message(msp_run_session: Any) -> None:
    (action,) = msp_run_session(msp_slack, CHAT).actions["msp_session_close"]
    assert action.url_from == "base_url" and action.path == "/chat.postMessage"
    assert action.json_body["channel"] == "#eng-updates"
    assert action.headers == {}, "no secret, and the executor sets Content-Type for a JSON body"


def test_summary_has_header_context_and_sections(msp_run_session: Any) -> None:
    (action,) = msp_run_session(msp_slack, WEBHOOK).actions["msp_session_close"]
    message = action.json_body
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds[:2] == ["header", "context"]
    assert message["blocks"][0]["text"]["text"] == "Session closed: Ship the retry worker"
    context = " | ".join(e["text"] for e in message["blocks"][1]["elements"])
    assert context == ("*Project:* demo-project | *Duration:* 49m | *Progress:* 10% → 70% (+60) | *Issue:* ENG-123")
    texts = _texts(message)
    for expected in ("Retry worker behind a flag", "*Updates (2)*", "Mapped the charge flow", "*Decisions (1)*",
                     "_Why:_ A crash must not lose a charge", "*Resolved blockers (1)*",
                     "_Solved:_ Support enabled test cards"):
        assert expected in texts, expected
    assert message["text"].startswith("Session closed on demo-project: Ship the retry worker (49m, progress")


def test_open_blockers_get_their_own_section(msp_run_session: Any) -> None:
    script = [s for s in SCRIPT if s[0] != "resolve"]
    (action,) = msp_run_session(msp_slack, WEBHOOK, script=script).actions["msp_session_close"]
    texts = _texts(action.json_body)
    assert "*Open blockers (1)*" in texts and "Resolved blockers" not in texts


def test_thousand_updates_and_a_10kb_decision_through_a_real_session(msp_run_session: Any) -> None:
    script = [SCRIPT[0]]
    script += [("update", {"text": f"Step {i} of the long haul", "progress": i // 10, "tags": []}) for i in range(1000)]
    script += [("decide", {"text": "x" * 10_240, "rationale": "because " * 1300}), SCRIPT[-1]]
    (action,) = msp_run_session(msp_slack, CHAT, script=script).actions["msp_session_close"]
    message = action.json_body
    assert message_problems(message) == []
    texts = _texts(message)
    assert "*Updates (1,000)*" in texts and "_… and 985 more updates_" in texts
    decision = next(b["text"]["text"] for b in message["blocks"] if "Decisions" in b.get("text", {}).get("text", ""))
    assert "x" * 300 in decision and "…*" in decision and len(decision) < 3000


SHAPES = [
    {"updates": 0, "decisions": 0, "open_blockers": 0, "resolved_blockers": 0, "summary": None, "goal": None},
    {"updates": 1},
    {"updates": 1000},
    {"updates": 1000, "update_chars": 5000, "decisions": 200, "decision_chars": 10_240, "open_blockers": 300,
     "resolved_blockers": 300, "blocker_chars": 10_000},
    {"updates": 50, "text": "<!channel> & <https://evil.example|click> " * 400},
    {"updates": 30, "text": "&" * 3000, "goal": "&<>" * 200, "summary": "<" * 10_000, "project": ">" * 200},
    {"updates": 10, "text": "😀" * 2000, "goal": "😀" * 500},
]


@pytest.mark.parametrize("shape", SHAPES, ids=[str(i) for i in range(len(SHAPES))])
@pytest.mark.parametrize("limits", [{}, {"max_items": 100, "item_chars": 2000}, {"max_items": 1, "item_chars": 50}],
                         ids=["default", "max", "min"])
def test_any_session_fits_slacks_limits(shape: dict[str, Any], limits: dict[str, int]) -> None:
    message = _close(make_session(**shape), limits)
    assert message_problems(message) == []
    assert len(message["blocks"]) <= 50


def test_long_lists_say_how_many_were_left_out() -> None:
    message = _close(make_session(updates=1000, decisions=40, open_blockers=20, resolved_blockers=17),
                     {"max_items": 10})
    texts = _texts(message)
    for line in ("_… and 990 more updates_", "_… and 30 more decisions_", "_… and 10 more open blockers_",
                 "_… and 7 more resolved blockers_"):
        assert line in texts, line


def test_big_items_overflow_into_more_sections_then_are_counted() -> None:
    message = _close(make_session(updates=100, update_chars=2000), {"max_items": 100, "item_chars": 2000})
    update_sections = [b for b in message["blocks"] if b["type"] == "section" and "text" in b
                       and ("Updates (100)" in b["text"]["text"] or b["text"]["text"].startswith("• `+"))]
    assert len(update_sections) == 4, "updates take at most four sections"
    assert "_… and 96 more updates_" in update_sections[-1]["text"]["text"]


def test_user_text_cannot_ping_or_link() -> None:
    evil = "<!channel> <@U123> <https://evil.example|click> & co"
    session = make_session(updates=1, text=evil, goal=evil, summary=evil, project="<!here>")
    message = _close(session)
    mrkdwn = {**message, "blocks": [b for b in message["blocks"] if b["type"] != "header"]}
    everything = _texts(mrkdwn) + message["text"]
    assert "<!channel>" not in everything and "<!here>" not in everything and "<https://" not in everything
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; &amp; co" in everything
    assert message["blocks"][0]["text"]["text"].startswith("Session closed: <!channel>"), "plain_text is not parsed"


def test_cutting_never_splits_an_escaped_character() -> None:
    message = _close(make_session(updates=0, decisions=0, open_blockers=0, resolved_blockers=0,
                                  summary="&" * 5000))
    summary = message["blocks"][2]["text"]["text"]
    assert summary.endswith("&amp;…") and len(summary) <= 3000
    assert summary[:-1].replace("&amp;", "") == ""


def test_header_is_cut_visibly() -> None:
    message = _close(make_session(goal="G" * 1000))
    header = message["blocks"][0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")


def test_blocker_alerts_follow_config(msp_run_session: Any) -> None:
    assert msp_run_session(msp_slack, CHAT).actions.get("msp_blocker", []) == []
    run = msp_run_session(msp_slack, {**CHAT, "blocker_alerts": True, "alert_channel": "#incidents"})
    (alert,) = run.actions["msp_blocker"]  # raised only; the resolution is not alerted
    assert alert.json_body["channel"] == "#incidents"
    assert alert.json_body["blocks"][0]["text"]["text"] == "Blocker raised: Sandbox API rejects test cards"
    assert alert.json_body["text"] == "Blocker raised on demo-project (medium): Sandbox API rejects test cards"
    assert message_problems(alert.json_body) == []
    high_only = msp_run_session(msp_slack, {**WEBHOOK, "blocker_alerts": True, "alert_min_severity": "high"})
    assert high_only.actions.get("msp_blocker", []) == [], "a medium blocker is below a high floor"


def test_summary_can_be_turned_off(msp_run_session: Any) -> None:
    assert msp_run_session(msp_slack, {**WEBHOOK, "summary": False}).all_actions == []


def test_duration_comes_from_the_session_not_the_clock() -> None:
    message = _close(make_session())
    assert "*Duration:* 1h 05m" in _texts(message)


def test_hooks_do_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    session = make_session(updates=20)
    config = {**msp_slack.defaults, **CHAT, "blocker_alerts": True}
    expected = msp_slack.msp_session_close(session=session, config=config)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a hook tried to do I/O")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(builtins, "open", refuse)
    assert msp_slack.msp_session_close(session=session, config=config) == expected
    assert msp_slack.msp_blocker(session=session, blocker=session.blockers[0], resolved=False, config=config)


def test_demo_actions_need_no_credentials() -> None:
    (webhook,) = msp_slack.demo_actions(make_session())
    assert webhook.url_from == "webhook_url" and message_problems(webhook.json_body) == []
    (chat,) = msp_slack.demo_actions(make_session(), {"mode": "chat", "channel": "C0123"})
    assert chat.json_body["channel"] == "C0123"


def test_export_prints_the_messages() -> None:
    import json

    lines = msp_slack.msp_export(sessions=[make_session(), make_session(updates=0)], config={}).splitlines()
    assert [message_problems(json.loads(line)) for line in lines] == [[], []]


def test_auth_scheme_follows_the_mode() -> None:
    host = build_host({"slack": CHAT, "chat2": {**CHAT, "use": "slack", "auth_scheme": "none"},
                       "hook": {**WEBHOOK, "use": "slack"}})
    assert host.broken == []
    assert host.integrations["slack"].config["auth_scheme"] == "bearer"
    assert host.integrations["slack"].config["base_url"] == "https://slack.com/api"
    assert host.integrations["chat2"].config["auth_scheme"] == "none", "what the user wrote wins"
    assert host.integrations["hook"].config["auth_scheme"] == "none"
    assert host.integrations["hook"].config["mode"] == "webhook"


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"mode": "chat"}, "'channel' is a required property"),
        ({"webhook_url": "https://hooks.slack.com/services/T/B/secret"}, "unknown key(s) webhook_url"),
        ({"token": "xoxb-secret"}, "unknown key(s) token"),
        ({"mode": "rtm"}, "mode"),
        ({"max_items": 0}, "max_items"),
        ({"alert_min_severity": "urgent"}, "alert_min_severity"),
        ({"mode": "chat", "channel": "eng updates"}, "channel"),
    ],
)
def test_config_schema_rejects_bad_sections(config: dict[str, Any], problem: str) -> None:
    errors = config_errors(msp_slack.config_schema, {**msp_slack.defaults, **config}, "integrations.slack")
    assert errors and problem in "; ".join(errors)
    host = build_host({"slack": config})
    assert host.broken and problem in host.broken[0].error


def test_the_installed_entry_point_loads_this_package() -> None:
    host = build_host({"slack": WEBHOOK})
    assert host.broken == [] and sorted(host.hooks_of("slack")) == ["msp_blocker", "msp_doctor", "msp_export",
                                                                     "msp_session_close"]


def test_builders_enforce_the_limits_they_promise() -> None:
    from msp_slack import _blocks as bk

    many = bk.fit([bk.divider()] * 60)
    assert len(many) == 50 and many[-1]["elements"][0]["text"] == "… and 11 more blocks"
    assert bk.fit([bk.divider()] * 50) == [bk.divider()] * 50
    fields = bk.fields([(f"label {i}", "v" * 5000) for i in range(12)])
    assert len(fields["fields"]) == 10 and max(len(f["text"]) for f in fields["fields"]) == 2000
    context = bk.context([f"part {i} " + "x" * 1000 for i in range(12)])
    assert len(context["elements"]) == 10 and max(len(e["text"]) for e in context["elements"]) == 300
    for block in (many[-1], fields, context):
        assert message_problems({"text": "t", "blocks": [block]}) == []
