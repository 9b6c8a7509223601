"""The engineer's day at the terminal (issue 16, points 1 and 6): what `msp start`, `status`,
`end` and `context` give back, and the small things a daily user hits. Real CLI runs on a real
project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Not imported from conftest: a conftest.py in a subfolder would shadow that module name.
MSP_BIN = str(Path(sys.executable).with_name("msp"))


def _ok(msp_cli: Any, *args: str, input: str | None = None) -> Any:
    r = msp_cli(*args, "--json", input=input)
    assert r.code == 0, r.err
    return r.json()  # exactly one JSON document


def _yesterday(msp_cli: Any) -> dict[str, str]:
    """A closed session with a summary, two decisions, an entity and two blockers (one open)."""
    assert msp_cli("start", "--goal", "retry worker", "--progress", "10").code == 0
    assert msp_cli("update", "mapped the charge flow", "30").code == 0
    first = _ok(msp_cli, "decide", "Use an outbox table", "-r", "a crash must not lose a charge")
    second = _ok(msp_cli, "decide", "Backoff with jitter")
    assert msp_cli("entity", "RetryWorker", "--type", "service", "--path", "src/retry.py").code == 0
    open_ = _ok(msp_cli, "block", "waiting on the sandbox keys")
    closed = _ok(msp_cli, "block", "flaky CI")
    assert msp_cli("resolve", "flaky").code == 0
    ended = _ok(msp_cli, "end", "--summary", "worker behind a flag", "--progress", "45")
    return {"session": ended["session"]["id"], "open": open_["event"]["data"]["id"],
            "closed": closed["event"]["data"]["id"], "d1": first["event"]["data"]["id"],
            "d2": second["event"]["data"]["id"]}


def test_start_recalls_where_the_project_stopped(msp_cli: Any) -> None:
    first = msp_cli("start", "--goal", "a fresh project")
    assert first.code == 0 and "First session of project proj." in first.out
    assert msp_cli("end").code == 0
    assert msp_cli("start").code == 0
    assert msp_cli("end").code == 0  # an empty session between: decisions are looked for further back
    past = _yesterday(msp_cli)

    r = msp_cli("start", "--goal", "today")
    assert r.code == 0, r.err
    for needle in (f"Last session of proj: {past['session']}", "progress 10% -> 45%", "Summary: worker behind a flag",
                   "Last update: mapped the charge flow", "Open blockers of the project (1):",
                   f"{past['open']}  waiting on the sandbox keys", "Latest decisions:",
                   f"{past['d2']}  Backoff with jitter", f"{past['d1']}  Use an outbox table"):
        assert needle in r.out, needle
    assert "flaky CI" not in r.out  # resolved
    assert r.out.index("Backoff with jitter") < r.out.index("Use an outbox table")  # newest first
    assert msp_cli("end").code == 0

    data = _ok(msp_cli, "start")
    recall = data["recall"]
    assert recall["session"]["summary"] is None and recall["session"]["progress"] == 45  # the session just ended
    assert recall["project"] == "proj" and [b["id"] for b in recall["open_blockers"]] == [past["open"]]
    assert [d["text"] for d in recall["decisions"]] == ["Backoff with jitter", "Use an outbox table"]
    assert data["event"]["type"] == "session_started"  # the recording's own fields stay


def test_status_shows_time_updates_project_blockers_and_queue_with_or_without_a_session(msp_cli: Any) -> None:
    past = _yesterday(msp_cli)
    idle = msp_cli("status")
    assert idle.code == 0
    assert "No active session" in idle.out and f"Last session of proj: {past['session']}" in idle.out
    assert "Summary: worker behind a flag" in idle.out and "waiting on the sandbox keys" in idle.out
    assert "Queue: empty" in idle.out
    data = _ok(msp_cli, "status")
    assert data["active"] is None and data["last_session"]["id"] == past["session"]
    assert data["project"] == "proj" and data["open_blocker_count"] == 1

    assert msp_cli("start", "--goal", "today").code == 0
    for i in range(5):
        assert msp_cli("update", f"step {i}", "--progress", str(50 + i)).code == 0
    assert msp_cli("block", "review pending").code == 0
    out = msp_cli("status").out
    assert "active for" in out and "Goal: today" in out and "5 updates, 0 decisions, 0 entities, 1 open blocker" in out
    assert "Latest updates:" in out and "step 4 [54%]" in out and "step 1" not in out  # the last three
    # The project's blockers, not only this session's.
    assert "Open blockers of the project (2):" in out and "waiting on the sandbox keys" in out
    data = _ok(msp_cli, "status")
    assert data["active"]["goal"] == "today" and data["duration_seconds"] >= 0
    assert [u["text"] for u in data["last_updates"]] == ["step 2", "step 3", "step 4"]
    assert {b["text"] for b in data["open_blockers"]} == {"waiting on the sandbox keys", "review pending"}


def test_end_prints_a_short_summary_per_integration(msp_cli: Any, project_dir: Path, tmp_path: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    vault = tmp_path / "vault"
    vault.mkdir()
    config.write_text(config.read_text() + f'\n[integrations.obsidian]\nvault = "{vault.as_posix()}"\n'
                      '[integrations.webhook]\nurl = "http://127.0.0.1:9/hook"\nhold = true\n')
    assert msp_cli("start", "--goal", "g", "--progress", "10").code == 0
    assert msp_cli("update", "one", "30").code == 0
    assert msp_cli("decide", "a decision").code == 0
    assert msp_cli("block", "a blocker").code == 0
    assert msp_cli("dispatch").code == 0  # the vault is written; the webhook's actions wait for approval
    r = msp_cli("end", "--summary", "done", "--progress", "60")
    assert r.code == 0, r.err
    assert "progress 10% -> 60% (+50)" in r.out
    assert "1 update, 1 decision, 0 entities, 1 blocker raised, 0 resolved" in r.out
    assert "Still open: 1 blocker of this session" in r.out
    obsidian = next(line for line in r.out.splitlines() if line.strip().startswith("obsidian:"))
    webhook = next(line for line in r.out.splitlines() if line.strip().startswith("webhook:"))
    assert "delivered" in obsidian and "waiting" in obsidian  # the close's own writes are queued
    assert "held for approval" in webhook and "delivered" not in webhook

    assert msp_cli("start").code == 0
    data = _ok(msp_cli, "end")
    assert data["counts"] == {"updates": 0, "decisions": 0, "entities": 0, "blockers_raised": 0,
                              "blockers_resolved": 0}
    assert set(data["integrations"]) == {"obsidian", "webhook"}
    assert data["integrations"]["webhook"] == {"held": 2}  # this session's actions only: start and close
    assert data["progress_delta"] == 0 and data["session"]["status"] == "closed"


def test_context_chooses_and_names_the_project_includes_entities_and_writes_a_file(
    msp_cli: Any, project_dir: Path, tmp_path: Path
) -> None:
    assert msp_cli("start", "--project", "payments", "--goal", "retries").code == 0
    assert msp_cli("entity", "RetryWorker", "--type", "service", "--path", "src/retry.py").code == 0
    active = msp_cli("context", "-f", "markdown")
    assert active.code == 0 and "# Work context: payments" in active.out
    assert "context of project payments (your active session's" in active.err
    assert "## Entities" in active.out and "- RetryWorker (service) at src/retry.py" in active.out
    assert msp_cli("end").code == 0
    # No session active: the newest session's project, not the directory's.
    data = _ok(msp_cli, "context")
    assert data["project"] == "payments" and data["project_chosen"] == "the newest session's"
    assert [e["name"] for e in data["context"]["entities"]] == ["RetryWorker"]
    assert _ok(msp_cli, "context", "--project", "proj")["context"]["sessions"] == []

    out = tmp_path / "context.md"
    r = msp_cli("context", "--output", str(out))
    assert r.code == 0 and f"to {out}" in r.out and "payments" in r.out
    written = out.read_text(encoding="utf-8")
    assert written.startswith("You are resuming work") and "RetryWorker" in written
    as_json = tmp_path / "context.json"
    data = _ok(msp_cli, "context", "-f", "json", "--output", str(as_json))
    assert data["output"] == str(as_json) and json.loads(as_json.read_text())["project"] == "payments"
    refused = msp_cli("context", "--output", str(tmp_path))
    assert refused.code != 0 and "is a directory" in refused.err


def test_version_short_help_and_completion(msp_cli: Any) -> None:
    from msp._version import __version__

    r = msp_cli("--version")
    assert r.code == 0 and r.out.strip() == f"msp {__version__}"
    top = msp_cli("-h")
    assert top.code == 0 and "--install-completion" in top.out and "--version" in top.out
    sub = msp_cli("update", "-h")
    assert sub.code == 0 and "--progress" in sub.out and "standard input" in sub.out
    # Flags show as flags: no value type beside them.
    for args in (("start", "--help"), ("end", "-h"), ("-h",)):
        shown = msp_cli(*args).out
        assert "--json" in shown or "--debug" in shown
        assert "<bool>" not in shown, args
    script = msp_cli("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert script.code == 0 and "_MSP_COMPLETE" in script.out
    # The completion itself answers with msp's commands.
    done = subprocess.run([MSP_BIN], env={**os.environ, "_MSP_COMPLETE": "complete_bash", "COMP_WORDS": "msp go",
                                          "COMP_CWORD": "1"}, capture_output=True, text=True, timeout=60)
    assert "goal" in done.stdout.split()


def test_update_progress_as_an_option_or_positional_and_text_from_stdin(msp_cli: Any) -> None:
    assert msp_cli("start", "--progress", "5").code == 0
    assert _ok(msp_cli, "update", "positional", "20")["session"]["progress"] == 20
    assert _ok(msp_cli, "update", "as an option", "--progress", "30%")["session"]["progress"] == 30
    assert _ok(msp_cli, "update", "both, agreeing", "40", "--progress", "40")["session"]["progress"] == 40
    twice = msp_cli("update", "both, disagreeing", "40", "--progress", "50")
    assert twice.code != 0 and "progress given twice" in twice.err
    piped = _ok(msp_cli, "update", "-", "--progress", "45", input="line one\nline two\n")
    assert piped["event"]["data"]["text"] == "line one\nline two" and piped["session"]["progress"] == 45
    empty = msp_cli("update", "-", input="   \n")
    assert empty.code != 0 and "text" in empty.err
    shown = _ok(msp_cli, "show", piped["session"]["id"][-8:])  # any unique part of the id
    assert [u["text"] for u in shown["session"]["updates"]][-1] == "line one\nline two"


def test_session_ids_by_any_unique_part(msp_cli: Any) -> None:
    ids = [_ok(msp_cli, "start")["session"]["id"]]
    assert msp_cli("end").code == 0
    ids.append(_ok(msp_cli, "start")["session"]["id"])
    assert msp_cli("end").code == 0
    assert _ok(msp_cli, "show", ids[0][-5:])["session"]["id"] == ids[0]
    ambiguous = msp_cli("show", ids[0][:8])  # the date: both sessions have it
    assert ambiguous.code != 0
    assert "is part of 2 session ids" in ambiguous.err and ids[0] in ambiguous.err and ids[1] in ambiguous.err
    short = msp_cli("show", ids[0][-3:])
    assert short.code != 0 and "at least 4 characters" in short.err


def test_resolve_without_an_active_session_goes_to_the_blockers_session(msp_cli: Any) -> None:
    past = _yesterday(msp_cli)
    r = _ok(msp_cli, "resolve", "sandbox", "--solution", "keys arrived")
    assert r["event"]["session_id"] == past["session"] and r["event"]["data"]["blocker_id"] == past["open"]
    assert r["session"]["status"] == "closed"  # recorded into it; it stays closed
    shown = _ok(msp_cli, "show", past["session"])["session"]
    assert all(b["resolved_at"] for b in shown["blockers"])
    assert next(b for b in shown["blockers"] if b["id"] == past["open"])["solution"] == "keys arrived"
    assert _ok(msp_cli, "status")["open_blockers"] == []


def test_goal_changes_mid_session(msp_cli: Any) -> None:
    assert msp_cli("start", "--goal", "first aim").code == 0
    r = msp_cli("goal", "a sharper aim")
    assert r.code == 0 and "Changed the goal" in r.out
    data = _ok(msp_cli, "goal", "the final aim")
    assert data["event"]["type"] == "goal_changed"
    assert data["event"]["data"] == {"goal": "the final aim", "previous": "a sharper aim"}
    assert data["session"]["goal"] == "the final aim"
    assert "Goal: the final aim" in msp_cli("status").out
    dry = _ok(msp_cli, "goal", "not really", "--dry-run")
    assert dry["dry_run"] is True and _ok(msp_cli, "status")["active"]["goal"] == "the final aim"


def test_counts_are_worded_in_the_right_number(msp_cli: Any) -> None:
    assert msp_cli("start").code == 0
    assert msp_cli("update", "one").code == 0
    assert msp_cli("decide", "one").code == 0
    out = msp_cli("status").out
    assert "1 update, 1 decision, 0 entities, 0 open blockers" in out
    assert "1 updates" not in out and "1 decisions" not in out


def test_python_m_msp_version_matches_the_console_script() -> None:
    done = subprocess.run([sys.executable, "-m", "msp", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("msp ")
