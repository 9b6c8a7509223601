"""`msp git`: messages, commits and the post-commit hook, in real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from msp._store.sqlite import SqliteStore


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(project_dir: Path) -> Path:
    git(project_dir, "init", "-q", "-b", "main")
    git(project_dir, "config", "user.email", "dana@example.com")
    git(project_dir, "config", "user.name", "Dana")
    (project_dir / ".gitignore").write_text(".msp/\n")
    git(project_dir, "add", ".gitignore")
    git(project_dir, "commit", "-q", "-m", "init")
    return project_dir


def _ok(msp_cli: Any, *args: str) -> dict[str, Any]:
    r = msp_cli(*args, "--json")
    assert r.code == 0, r.err
    data: dict[str, Any] = r.json()
    return data


def _commit_updates(project_dir: Path) -> list[dict[str, Any]]:
    store = SqliteStore(project_dir / ".msp" / "msp.db")
    try:
        with store.read() as tx:
            events = tx.events_since(0, limit=10_000)
    finally:
        store.close()
    return [e.data for e in events if e.type == "progress_updated" and "commit" in e.data]


def _session(msp_cli: Any) -> None:
    _ok(msp_cli, "start", "--goal", "Make refunds idempotent", "--issue", "PAY-12")
    _ok(msp_cli, "update", "Mapped the charge flow in billing/charges.py, which took a while to untangle", "40")
    _ok(msp_cli, "decide", "Going with idempotency keys on the gateway")


def test_message_from_the_active_session(msp_cli: Any, repo: Path) -> None:
    r = msp_cli("git", "message")
    assert r.code != 0 and "no session is active" in r.err
    _session(msp_cli)
    head = git(repo, "rev-parse", "HEAD")
    message = _ok(msp_cli, "git", "message")["message"]
    lines = message.splitlines()
    assert lines[0] == "Make refunds idempotent (0% -> 40%)" and lines[1] == ""
    assert "- Mapped the charge flow" in message and "Decisions:\n- Going with idempotency keys" in message
    assert "Refs: PAY-12" in lines and any(line.startswith("MSP-Session: ") for line in lines)
    assert all(len(line) <= 72 for line in lines)
    assert git(repo, "rev-parse", "HEAD") == head  # a message commits nothing


def test_commit_uses_the_message_and_records_the_commit(msp_cli: Any, repo: Path) -> None:
    _session(msp_cli)
    (repo / "refunds.py").write_text("x = 1\n")
    git(repo, "add", "refunds.py")
    done = _ok(msp_cli, "git", "commit")
    assert git(repo, "log", "-1", "--format=%H").strip() == done["committed"]
    assert git(repo, "log", "-1", "--format=%s").strip() == "Make refunds idempotent (0% -> 40%)"
    (recorded,) = _commit_updates(repo)
    assert recorded["commit"] == {"hash": done["committed"], "subject": "Make refunds idempotent (0% -> 40%)",
                                  "files": ["refunds.py"]}
    # Nothing staged: a clear error, no commit.
    r = msp_cli("git", "commit")
    assert r.code != 0 and "git add" in r.err
    # The next message holds only what happened since the recorded commit.
    _ok(msp_cli, "update", "Added the retry", "60")
    message = _ok(msp_cli, "git", "message")["message"]
    assert "Added the retry" in message and "Mapped the charge flow" not in message


def test_commit_and_push(msp_cli: Any, repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    _session(msp_cli)
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    done = _ok(msp_cli, "git", "commit", "--push")
    assert done["pushed"] is True
    assert git(remote, "rev-parse", "main").strip() == done["committed"]


def test_refused_outside_a_git_repository(msp_cli: Any, project_dir: Path) -> None:
    _session(msp_cli)
    for args in (("git", "commit"), ("git", "hook", "install"), ("git", "record", "abcdef12")):
        r = msp_cli(*args)
        assert r.code != 0 and "not inside a git repository" in r.err, (args, r.err)


def test_hook_records_commits_and_chains_an_existing_hook(msp_cli: Any, repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    theirs = "#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/their-hook-ran\"\n"
    (hooks / "post-commit").write_text(theirs)
    (hooks / "post-commit").chmod(0o755)
    first = _ok(msp_cli, "git", "hook", "install")
    assert first["installed"] and first["chained"]
    script = (hooks / "post-commit").read_text()
    again = _ok(msp_cli, "git", "hook", "install")  # idempotent: theirs is not chained twice
    assert (hooks / "post-commit").read_text() == script and (hooks / "post-commit.msp-chained").read_text() == theirs
    assert again["done"].startswith("already installed")
    _session(msp_cli)
    (repo / "b.py").write_text("b\n")
    (repo / "c.py").write_text("c\n")
    git(repo, "add", "b.py", "c.py")
    git(repo, "commit", "-q", "-m", "Add b and c; $(touch pwned) `id`")
    head = git(repo, "rev-parse", "HEAD").strip()
    (recorded,) = _commit_updates(repo)
    assert recorded["commit"] == {"hash": head, "subject": "Add b and c; $(touch pwned) `id`",
                                  "files": ["b.py", "c.py"]}
    assert recorded["text"].startswith(f"Committed {head[:10]}: Add b and c")
    assert not (repo / "pwned").exists()
    assert (repo / ".git" / "their-hook-ran").read_text() == "ran\n"
    # A commit recorded once stays recorded once.
    assert _ok(msp_cli, "git", "record", head)["recorded"] is False
    assert len(_commit_updates(repo)) == 1
    _ok(msp_cli, "git", "hook", "uninstall")
    assert (hooks / "post-commit").read_text() == theirs and not (hooks / "post-commit.msp-chained").exists()
    assert _ok(msp_cli, "git", "hook", "uninstall")["done"].startswith("not installed")


def test_the_hook_never_fails_a_commit(msp_cli: Any, repo: Path) -> None:
    _ok(msp_cli, "git", "hook", "install")
    (repo / "d.txt").write_text("d\n")
    git(repo, "add", "d.txt")
    # No session is active: the commit is made, the hook says why it recorded nothing.
    done = subprocess.run(["git", "-C", str(repo), "commit", "-m", "no session"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "not recorded" in done.stderr and "no session is active" in done.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "no session"
    assert _commit_updates(repo) == []


def test_a_bad_hash_never_reaches_git_as_an_option(msp_cli: Any, repo: Path) -> None:
    _session(msp_cli)
    r = msp_cli("git", "record", "--", "--output=/tmp/x")
    assert r.code != 0 and "not a commit hash" in r.err
