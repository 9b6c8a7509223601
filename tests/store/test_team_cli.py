"""Two engineers in one project on one store, through the real ``msp`` command, on each backend:
each has their own active session, records into it, and sees the others in the team views
(``msp sessions --user``, ``msp context --team``). ``MSP_USER`` / ``MSP_HOST`` stand in for two
people on two machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.store.backends import Backend

ALICE = {"MSP_USER": "alice", "MSP_HOST": "laptop-a"}
BOB = {"MSP_USER": "bob", "MSP_HOST": "laptop-b"}


def _json(result: Any) -> dict[str, Any]:
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def test_two_engineers_have_separate_active_sessions_in_one_project(backend: Backend, project_dir: Path,
                                                                    msp_cli: Any) -> None:
    a = _json(msp_cli("start", "--goal", "retries", "--json", env=ALICE))["session"]
    b = _json(msp_cli("start", "--goal", "refunds", "--json", env=BOB))["session"]
    assert a["id"] != b["id"] and a["project"] == b["project"]
    assert (a["user"], a["host"], b["user"], b["host"]) == ("alice", "laptop-a", "bob", "laptop-b")
    again = msp_cli("start", "--json", env=ALICE)
    assert again.code != 0 and json.loads(again.out)["error"]["code"] == "SESSION_ALREADY_ACTIVE"

    assert _json(msp_cli("update", "alice was here", "30", "--json", env=ALICE))["event"]["session_id"] == a["id"]
    assert _json(msp_cli("update", "bob was here", "60", "--json", env=BOB))["event"]["session_id"] == b["id"]
    assert _json(msp_cli("decide", "one queue per tenant", "--json", env=BOB))["event"]["session_id"] == b["id"]

    mine = _json(msp_cli("status", "--json", env=ALICE))["active"]
    assert (mine["id"], mine["user"], mine["host"], mine["progress"]) == (a["id"], "alice", "laptop-a", 30)
    status_text = msp_cli("status", env=BOB).out
    assert b["id"] in status_text and a["id"] not in status_text
    # In a team store the engineer is always named; in a one-person store only when it is not you.
    assert ("Engineer: bob@laptop-b" in status_text) == (backend.name == "postgres")

    only_bob = _json(msp_cli("sessions", "--user", "bob", "--json", env=ALICE))["sessions"]
    assert [(s["id"], s["user"], s["host"]) for s in only_bob] == [(b["id"], "bob", "laptop-b")]
    listing = msp_cli("sessions", env=ALICE).out
    assert "alice@laptop-a" in listing and "bob@laptop-b" in listing  # another engineer's: named
    assert _json(msp_cli("sessions", "--user", "carol", "--json", env=ALICE))["sessions"] == []

    own = _json(msp_cli("context", "--json", env=ALICE))["context"]
    assert [s["id"] for s in own["sessions"]] == [a["id"]] and "team" not in own
    team = _json(msp_cli("context", "--team", "--json", env=ALICE))["context"]
    assert {s["id"] for s in team["sessions"]} == {a["id"], b["id"]}
    assert {(e["user"], e["latest"]["id"]) for e in team["engineers"]} == {("alice", a["id"]), ("bob", b["id"])}
    assert [d["text"] for d in team["decisions"]] == ["one queue per tenant"]
    text = msp_cli("context", "--team", "--format", "markdown", env=ALICE).out
    assert "## Engineers" in text and f"bob@laptop-b: 1 session(s); latest {b['id']} active at 60%" in text

    assert _json(msp_cli("end", "--json", env=BOB))["session"]["id"] == b["id"]
    assert _json(msp_cli("status", "--json", env=ALICE))["active"]["id"] == a["id"]  # still alice's
    assert _json(msp_cli("status", "--json", env=BOB))["active"] is None


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("MSP_USER", "", "is empty"),
    ("MSP_USER", "   ", "is empty"),
    ("MSP_HOST", "box\x1b[31m", "unprintable"),
    ("MSP_USER", "x" * 500, "at most 128"),
])
def test_a_bad_engineer_variable_is_named_and_nothing_is_stored(msp_cli: Any, project_dir: Path, variable: str,
                                                                value: str, problem: str) -> None:
    r = msp_cli("start", "--json", env={variable: value})
    assert r.code != 0 and "Traceback" not in r.err
    error = json.loads(r.out)["error"]
    assert error["code"] == "CONFIG_INVALID"
    assert variable in error["message"] and problem in error["message"] and variable in error["hint"]
    assert _json(msp_cli("sessions", "--json"))["sessions"] == []
