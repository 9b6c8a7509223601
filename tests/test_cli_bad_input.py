"""Guarantee 3: bad input gets a clear message, a non-zero exit and an unchanged store.

Every case runs through the real ``msp`` binary twice, as text and with ``--json``, and the test
compares a dump of every table (and the config file) before and after.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from msp._model.models import MAX_TEXT_CHARS
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore
from msp.errors import InvalidInput

TABLES = ("events", "sessions", "blockers", "actions", "hook_failures")


def dump(project_dir: Path) -> dict[str, Any]:
    """Everything a command could change: every row of every table, and the config file."""
    msp_dir = project_dir / ".msp"
    out: dict[str, Any] = {"config": (msp_dir / "config.toml").read_text(encoding="utf-8")}
    db = msp_dir / "msp.db"
    if not db.exists():
        return out
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for table in TABLES:
            out[table] = sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
        out["user_version"] = con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()
    return out


def assert_rejected(msp_cli: Any, project_dir: Path, *args: str, expect: tuple[str, ...] = (),
                    code: str | None = None, as_json: bool = True) -> str:
    """Run ``msp *args`` as text and (unless ``as_json`` is false, to keep long loops quick) as
    --json; both must fail cleanly and change nothing. Returns the text-mode stderr."""
    before = dump(project_dir)
    r = msp_cli(*args)
    assert r.code != 0, f"msp {args} was accepted: {r.out}"
    assert r.err.startswith("error: ") or "Error" in r.err, r.err  # ours, or click's usage error
    assert "Traceback" not in r.err + r.out
    assert r.out == ""
    for needle in expect:
        assert needle in r.err, f"{needle!r} not in {r.err!r}"
    assert dump(project_dir) == before
    if not as_json:
        return str(r.err)

    # --json goes before a `--` (after it, it would be one more argument).
    cut = args.index("--") if "--" in args else len(args)
    j = msp_cli(*args[:cut], "--json", *args[cut:])
    assert j.code == r.code
    doc = json.loads(j.out)  # exactly one JSON document: json.loads rejects trailing text
    assert doc["ok"] is False
    assert doc["error"]["code"] and doc["error"]["message"]
    if code is not None:
        assert doc["error"]["code"] == code
    assert "Traceback" not in j.err + j.out
    assert j.err.strip(), "the error is also shown on stderr"
    assert dump(project_dir) == before
    return str(r.err)


@pytest.fixture
def active(msp_cli: Any) -> Any:
    r = msp_cli("start", "--goal", "bad input", "--progress", "20", "--json")
    assert r.code == 0, r.err
    assert msp_cli("update", "something real", "30").code == 0
    return msp_cli


def test_progress_outside_0_to_100_or_not_a_number(active: Any, project_dir: Path) -> None:
    for i, progress in enumerate(["140", "-1", "abc", "4.5", "", "½"]):
        err = assert_rejected(active, project_dir, "update", "text", "--", progress, code="INVALID_PARAMETERS",
                              as_json=i < 3)
        assert "progress" in err
    assert_rejected(active, project_dir, "end", "--progress", "101", code="INVALID_PARAMETERS")


def test_progress_at_start_is_checked_too(msp_cli: Any, project_dir: Path) -> None:
    assert msp_cli("status").code == 0  # the store exists, as after `msp init`
    assert_rejected(msp_cli, project_dir, "start", "--progress", "140", expect=("100",))
    assert_rejected(msp_cli, project_dir, "start", "--progress", "many", expect=("whole number",))


def test_empty_or_blank_text(active: Any, project_dir: Path) -> None:
    cases = [["update", b] for b in ("", " ", "   \n\t  ", "\u3000")]
    cases += [[command, "  "] for command in ("decide", "entity", "block", "resolve")]
    for i, command in enumerate(cases):
        err = assert_rejected(active, project_dir, *command, code="INVALID_PARAMETERS", as_json=i in (0, 1, 4))
        assert "empty" in err or "at least 1 character" in err


def test_blank_labels_are_rejected(active: Any, project_dir: Path) -> None:
    assert_rejected(active, project_dir, "update", "fine", "--tag", "  ", expect=("tags",))
    assert_rejected(active, project_dir, "decide", "fine", "--alternative", "", expect=("alternatives",))


def test_text_over_the_documented_limit(active: Any, project_dir: Path) -> None:
    too_long = "x" * (MAX_TEXT_CHARS + 1)
    err = assert_rejected(active, project_dir, "update", too_long, code="INVALID_PARAMETERS")
    assert f"{MAX_TEXT_CHARS}" in err.replace(",", "")
    assert too_long not in err  # the message describes the text, it doesn't echo it back
    assert_rejected(active, project_dir, "decide", "ok", "--rationale", too_long)
    # Exactly at the limit is fine.
    assert active("update", "y" * MAX_TEXT_CHARS).code == 0


def test_a_5_mb_update_is_rejected_and_nothing_is_stored(manager: SessionManager, store: SqliteStore) -> None:
    """5 MB can't pass through a command line (the OS caps one argument at 128 KiB), so this one
    goes through the Python API, which the MCP server shares."""
    manager.start({})
    con = sqlite3.connect(store.path)
    before = con.execute("SELECT count(*), max(seq) FROM events").fetchone()
    with pytest.raises(InvalidInput) as caught:
        manager.update({"text": "é" * (5 * 1024 * 1024)})
    assert "5,242,880 characters" in caught.value.message
    assert len(caught.value.message) < 300
    assert con.execute("SELECT count(*), max(seq) FROM events").fetchone() == before
    con.close()


def test_unknown_session_id(active: Any, project_dir: Path) -> None:
    for i, args in enumerate((("show", "nope"), ("recover", "nope", "--close"), ("show", "2020"),
                              ("recover", "nope", "--resume"))):
        assert_rejected(active, project_dir, *args, expect=(repr(args[1]), "msp sessions"),
                        code="SESSION_NOT_FOUND", as_json=i < 2)


def test_recording_with_no_active_session(msp_cli: Any, project_dir: Path) -> None:
    assert msp_cli("start").code == 0
    assert msp_cli("end").code == 0
    for i, args in enumerate((("update", "no session yet", "10"), ("end", "--summary", "s"), ("decide", "d"),
                              ("entity", "e"), ("block", "b"), ("goal", "g"))):
        assert_rejected(msp_cli, project_dir, *args, expect=("no session is active", "msp start"),
                        code="SESSION_NOT_ACTIVE", as_json=i < 2)
    # A resolution needs no active session (it goes to the blocker's session), only a blocker.
    assert_rejected(msp_cli, project_dir, "resolve", "b", expect=("no open blockers", "msp block"),
                    code="BLOCKER_NOT_FOUND", as_json=True)


def test_start_while_a_session_is_active_names_it_and_the_way_out(active: Any, project_dir: Path) -> None:
    current = active("status", "--json").json()["active"]["id"]
    err = assert_rejected(active, project_dir, "start", "--goal", "another", code="SESSION_ALREADY_ACTIVE")
    assert current in err
    assert "msp end" in err and "msp recover" in err


def test_resolve_an_unknown_or_ambiguous_blocker(active: Any, project_dir: Path) -> None:
    err = assert_rejected(active, project_dir, "resolve", "anything", code="BLOCKER_NOT_FOUND")
    assert "no open blockers" in err
    first = active("block", "flaky CI on the main branch", "--json").json()["event"]["data"]["id"]
    second = active("block", "flaky staging database", "--json").json()["event"]["data"]["id"]
    err = assert_rejected(active, project_dir, "resolve", "flaky", code="BLOCKER_AMBIGUOUS")
    assert first in err and second in err  # lists the candidates to choose from
    err = assert_rejected(active, project_dir, "resolve", "no such words", code="BLOCKER_NOT_FOUND")
    assert first in err  # and what is open
    # Resolved blockers are no longer candidates: by unique text, then the other by id.
    assert active("resolve", "staging").code == 0
    assert_rejected(active, project_dir, "resolve", "staging", code="BLOCKER_NOT_FOUND")
    assert active("resolve", first).code == 0


def test_a_malformed_config_says_which_line(msp_cli: Any, project_dir: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text('[store]\nsynchronous = "normal"\n\n[dispatch\nmode = "manual"\n', encoding="utf-8")
    for i, args in enumerate((["status"], ["start"], ["config", "show"], ["config", "validate"])):
        err = assert_rejected(msp_cli, project_dir, *args, code="CONFIG_INVALID", as_json=i == 0)
        assert "config.toml" in err and "line 4" in err


def test_a_config_value_that_is_not_toml(msp_cli: Any, project_dir: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text('[store]\nsynchronous = normal\n', encoding="utf-8")
    err = assert_rejected(msp_cli, project_dir, "status", code="CONFIG_INVALID")
    assert "line 2" in err


def test_an_unknown_config_key_in_the_file(msp_cli: Any, project_dir: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text('[store]\nsynchronous = "normal"\ncolour = "blue"\n', encoding="utf-8")
    err = assert_rejected(msp_cli, project_dir, "config", "validate", code="CONFIG_INVALID")
    assert "store.colour" in err and "unknown key" in err
    config.write_text('[stor]\nsynchronous = "normal"\n', encoding="utf-8")
    err = assert_rejected(msp_cli, project_dir, "update", "x", code="CONFIG_INVALID")
    assert "stor" in err and "unknown key" in err


def test_a_config_value_of_the_wrong_type(msp_cli: Any, project_dir: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text('[session]\ntimeout_hours = "soon"\n', encoding="utf-8")
    err = assert_rejected(msp_cli, project_dir, "status", code="CONFIG_INVALID")
    assert "session.timeout_hours" in err and "soon" in err


def test_config_set_refuses_unknown_keys_and_bad_values(msp_cli: Any, project_dir: Path) -> None:
    for key, value, needle in [
        ("store.colour", "blue", "store.colour: unknown key"),
        ("nosuch.colour", "1", "nosuch: unknown key"),
        ("integrations.linear.api_key", "lin_api_SUPERSECRET", "looks like a secret"),
        ("integrations.linear.max_items", "99999", "integrations.linear.max_items"),
        ("integrations.nosuch.x", "1", "no installed integration provides 'nosuch'"),
        ("colour", "blue", "section.key"),
        ("session.timeout_hours", "soon", "session.timeout_hours"),
        ("store.synchronous", "sometimes", "store.synchronous"),
        ("dispatch.mode", "[1, 2]", "dispatch.mode"),
    ]:
        err = assert_rejected(msp_cli, project_dir, "config", "set", key, value, code="CONFIG_INVALID",
                              as_json=key in ("store.colour", "nosuch.colour", "integrations.linear.api_key"))
        assert needle in err
        assert "SUPERSECRET" not in err
    assert "SUPERSECRET" not in (project_dir / ".msp" / "config.toml").read_text()


def test_unknown_choices_are_named(active: Any, project_dir: Path) -> None:
    assert_rejected(active, project_dir, "decide", "d", "--impact", "huge", expect=("impact",))
    assert_rejected(active, project_dir, "block", "b", "--severity", "dire", expect=("severity",), as_json=False)
    assert_rejected(active, project_dir, "block", "b", "--category", "mood", expect=("category",), as_json=False)
    assert_rejected(active, project_dir, "context", "--format", "pdf", expect=("pdf", "markdown"))
    assert_rejected(active, project_dir, "sessions", "--since", "last tuesday", expect=("YYYY-MM-DD",))


def test_command_lines_that_do_not_parse(active: Any, project_dir: Path) -> None:
    """click's own usage errors: still no traceback, still one JSON document with --json."""
    assert_rejected(active, project_dir, "update", code="USAGE")
    assert_rejected(active, project_dir, "sessions", "--limit", "0", code="USAGE")
    assert_rejected(active, project_dir, "context", "--days", "zero", code="USAGE", as_json=False)
    assert_rejected(active, project_dir, "update", "x", "--nope", code="USAGE")
    assert_rejected(active, project_dir, "recover", "--resume", code="INVALID_PARAMETERS")


def test_no_project_here(msp_cli: Any, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["status"], ["update", "x"], ["start", "--json"]):
        r = msp_cli(*args, cwd=elsewhere)
        assert r.code != 0
        assert "no .msp/ folder" in (r.err if "--json" not in args else r.json()["error"]["message"])
        assert "msp init" in r.err
        assert "Traceback" not in r.err
    assert not (elsewhere / ".msp").exists()


def test_tracebacks_only_under_debug(active: Any) -> None:
    plain = active("show", "nope")
    assert "Traceback" not in plain.err
    debug = active("--debug", "show", "nope")
    assert debug.code == plain.code != 0
    assert "Traceback" in debug.err and "SessionNotFound" in debug.err
