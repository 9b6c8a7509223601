"""Issue 12, point 7: hostile text on screen.

Stored text is shown, never obeyed: every text view (show, status, sessions, context, errors
that echo input, warnings) passes through ``msp._app.screen.for_terminal``, which shows every
control character but newline and tab as an escape (ESC as ``\\x1b``). ``--json`` keeps text
exact. A NUL is refused at input (CLI, MCP, Python API). Text limits count characters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from msp._app.screen import for_terminal, json_text
from msp._model.models import MAX_LABEL_CHARS, MAX_TEXT_CHARS
from msp._session.manager import SessionManager
from msp.errors import InvalidInput

#: What a terminal may act on: C0 but newline and tab, DEL, C1.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Clear the screen, retitle the window, set the clipboard, a lying hyperlink, 8-bit CSI, a bell,
# a carriage return that overwrites what came before it.
EVIL = ("evil \x1b[2J\x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b]52;c;cm0gLXJmIH4=\x07 "
        "\x1b]8;;http://x.invalid\x1b\\link\x1b]8;;\x1b\\ \x9b31m \x07 fake\rreal")


def _no_controls(text: str) -> None:
    found = CONTROL.findall(text)
    assert not found, f"raw control characters on screen: {found!r}"


def _record_evil(manager: SessionManager) -> str:
    sid = manager.start({"goal": EVIL, "issue": "ENG-1\x1b[8m"}).event.session_id
    manager.update({"text": EVIL, "progress": 10, "tags": ["t\x1b[1m"]})
    manager.decide({"text": EVIL, "rationale": EVIL, "alternatives": [EVIL]})
    manager.entity({"name": EVIL, "path": EVIL, "description": EVIL})
    manager.block({"text": EVIL})
    return sid


def test_every_text_view_shows_escape_sequences_escaped(manager: SessionManager, msp_cli: Any) -> None:
    sid = _record_evil(manager)
    views = {
        "status": msp_cli("status"),
        "show": msp_cli("show", sid),
        "sessions": msp_cli("sessions"),
        "context": msp_cli("context"),
        "context markdown": msp_cli("context", "--format", "markdown"),
        "context json": msp_cli("context", "--format", "json"),
    }
    manager.end({"summary": EVIL})
    views["show (closed)"] = msp_cli("show", sid)
    for name, r in views.items():
        print(f"--- msp {name} (exit {r.code})\n{r.out}")
        assert r.code == 0, (name, r.err)
        _no_controls(r.out)
        _no_controls(r.err)
    assert "\\x1b[2J\\x1b[31mred" in views["show"].out  # shown, escaped, not dropped
    assert "\\x9b31m" in views["show"].out and "fake\\x0dreal" in views["show"].out
    assert "\\x1b]0;pwned\\x07" in views["status"].out  # the goal
    # The JSON document printed as --format json decodes to the exact text.
    assert json.loads(views["context json"].out)["sessions"][0]["goal"] == EVIL


def test_json_keeps_the_text_exact_and_still_cannot_drive_a_terminal(manager: SessionManager, msp_cli: Any) -> None:
    sid = _record_evil(manager)
    r = msp_cli("show", sid, "--json")
    assert r.code == 0, r.err
    _no_controls(r.out)  # C0 escaped by JSON, DEL and C1 as \u escapes
    session = json.loads(r.out)["session"]
    assert session["goal"] == EVIL and session["updates"][0]["text"] == EVIL
    assert session["updates"][0]["tags"] == ["t\x1b[1m"]


def test_errors_that_echo_input_show_it_escaped(msp_cli: Any) -> None:
    r = msp_cli("show", "\x1b]0;pwned\x07\x1b[2J")
    print(r.err)
    assert r.code != 0
    assert "\\x1b]0;pwned\\x07" in r.err
    _no_controls(r.err)
    j = msp_cli("show", "\x1b[2J", "--json")
    assert json.loads(j.out)["ok"] is False
    _no_controls(j.out)


# --- NUL refused at input ----------------------------------------------------------------------


def test_a_nul_is_refused_by_the_python_api(manager: SessionManager) -> None:
    manager.start({"goal": "g"})
    for bad in ({"text": "a\x00b"}, {"text": "ok", "tags": ["t\x00"]}):
        with pytest.raises(InvalidInput) as caught:
            manager.update(bad)
        print(caught.value.message)
        assert "nul" in caught.value.message.lower()
    with pytest.raises(InvalidInput):
        manager.decide({"text": "ok", "rationale": "\x00"})
    with pytest.raises(InvalidInput):
        manager.end({"summary": "done\x00"})
    assert manager.get().updates == []  # nothing stored


def test_a_nul_is_refused_by_the_cli(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No command line can carry a NUL (the OS ends the argument there), so the command runs
    in-process, where it can."""
    from msp._cli.main import app

    monkeypatch.chdir(project_dir)
    runner = CliRunner()
    assert runner.invoke(app, ["start"]).exit_code == 0
    r = runner.invoke(app, ["update", "a\x00b", "--json"])
    print(r.output)
    assert r.exit_code == 2
    error = json.loads(r.stdout)["error"]
    assert error["code"] == "INVALID_PARAMETERS" and "nul" in error["message"].lower()


def test_a_nul_is_refused_by_the_mcp_server_and_its_text_is_escaped(project_dir: Path) -> None:
    from tests.test_mcp import _error, _ok, _run, _text, mcp_session

    async def body() -> None:
        async with mcp_session(project_dir) as s:
            _ok(await s.call_tool("start", {"goal": "g"}))
            error = _error(await s.call_tool("update", {"text": "a\x00b"}))
            assert error["code"] == "INVALID_PARAMETERS" and "nul" in error["message"].lower()
            error = _error(await s.call_tool("sessions", {"project": "p\x00"}))
            assert error["code"] == "INVALID_PARAMETERS"
            result = await s.call_tool("update", {"text": EVIL})
            data = _ok(result)
            assert data["event"]["data"]["text"] == EVIL  # exact in structured content
            _ok(await s.call_tool("block", {"text": EVIL}))
            status = await s.call_tool("status", {})  # lists the open blocker's text
            _no_controls(_text(status.content[0]))  # escaped in the text for reading
            assert "\\x1b[2J" in _text(status.content[0])
            assert _ok(status)["session"]["blockers"][0]["text"] == EVIL  # exact in the data

    _run(body)


# --- limits count characters ---------------------------------------------------------------------


def test_text_limits_count_characters_not_bytes(manager: SessionManager, msp_cli: Any) -> None:
    manager.start({"goal": "g"})
    at_limit = "é" * MAX_TEXT_CHARS  # twice as many UTF-8 bytes
    assert manager.update({"text": at_limit}).event.data["text"] == at_limit
    astral = "🚀" * MAX_TEXT_CHARS  # four bytes each, one character each
    assert manager.update({"text": astral}).event.data["text"] == astral
    with pytest.raises(InvalidInput):
        manager.update({"text": at_limit + "é"})
    label = "漢" * MAX_LABEL_CHARS
    assert manager.update({"text": "x", "tags": [label]}).event.data["tags"] == [label]
    with pytest.raises(InvalidInput):
        manager.update({"text": "x", "tags": [label + "漢"]})
    # Through the real command line too: 200 three-byte characters are a 200-character tag.
    r = msp_cli("update", "tagged", "--tag", "€" * MAX_LABEL_CHARS)
    assert r.code == 0, r.err
    r = msp_cli("update", "tagged", "--tag", "€" * (MAX_LABEL_CHARS + 1))
    assert r.code == 2 and "at most 200 characters" in r.err


# --- properties ----------------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=200).filter(
    lambda t: bool(t.strip()))


@given(st.text())
def test_for_terminal_leaves_no_control_but_newline_and_tab(text: str) -> None:
    shown = for_terminal(text)
    _no_controls(shown)
    # Nothing else changes: printable text, newlines and tabs pass as they are.
    assert for_terminal(shown) == shown
    assert shown.count("\n") == text.count("\n") and shown.count("\t") == text.count("\t")


@given(st.text())
def test_json_text_decodes_to_exactly_the_input_and_is_safe_to_print(text: str) -> None:
    printed = json_text({"text": text})
    _no_controls(printed.replace("\n", ""))
    assert json.loads(printed) == {"text": text}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(goal=ANY_TEXT, update=ANY_TEXT, decision=ANY_TEXT, blocker=ANY_TEXT, summary=ANY_TEXT)
def test_rendered_views_never_carry_a_control_character(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, goal: str, update: str, decision: str, blocker: str,
    summary: str,
) -> None:
    """Arbitrary stored text through every text view of the real CLI app (in-process, one
    project for all examples: each example starts and ends its own session)."""
    from msp._cli.main import app
    from msp._store.sqlite import SqliteStore

    monkeypatch.chdir(project_dir)
    store = SqliteStore(project_dir / ".msp" / "msp.db", synchronous="normal")
    try:
        manager = SessionManager(store, None, default_project="proj", source="api")
        sid = manager.start({"goal": goal}).event.session_id
        manager.update({"text": update, "tags": [update[:200]]})
        manager.decide({"text": decision, "rationale": summary, "alternatives": [goal]})
        manager.entity({"name": update, "description": decision})
        manager.block({"text": blocker})
        runner = CliRunner()
        outputs = [runner.invoke(app, ["status"]), runner.invoke(app, ["show", sid])]
        manager.end({"summary": summary})
        outputs += [runner.invoke(app, args) for args in (["show", sid], ["sessions"], ["context"],
                                                          ["context", "--format", "markdown"])]
    finally:
        store.close()
    for result in outputs:
        assert result.exit_code == 0, result.output
        _no_controls(result.stdout)
