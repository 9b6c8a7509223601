"""The team's integration sections kept in the store (``msp config push`` / ``pull`` /
``show --team``), on each backend: revisions with who pushed them, secrets refused, and the
sections layered beneath a folder's own config for recording and for delivery."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from msp._config import init_project, open_project, secrets_in, with_team_sections
from msp.testing import Reply, ScriptedServer
from tests.store.backends import URL_ENV, Backend

WHO = {"MSP_USER": "ada", "MSP_HOST": "lab-1"}


def _json(result: Any) -> Any:
    assert result.code == 0, result.err
    return json.loads(result.out)


def _configure(project_dir: Path, text: str) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + "\n" + text)


def _other_folder(tmp_path: Path, backend: Backend, project_dir: Path) -> Path:
    """A second folder ("another machine") using the same store as ``project_dir``: the same
    team store URL on PostgreSQL; on SQLite, the same store file through MSP_DIR's folder."""
    other = tmp_path / "other"
    other.mkdir()
    init_project(other)
    config = other / ".msp" / "config.toml"
    config.write_text('[dispatch]\nmode = "manual"\n')
    if backend.server is not None:
        config.write_text(config.read_text() + f'[store]\nurl_env = "{URL_ENV}"\n')
    else:  # SQLite has no second machine: share the file itself
        (other / ".msp" / "msp.db").symlink_to(project_dir / ".msp" / "msp.db")
    return other


# --- the store ----------------------------------------------------------------------------


def test_revisions_keep_who_pushed_what_and_the_latest_is_in_force(backend: Backend) -> None:
    spec = backend.spec()
    store = backend.open(spec)
    try:
        assert store.team_config() is None
        with store.read() as tx:
            assert tx.team_config() is None
        at = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
        with store.write() as tx:
            assert tx.add_team_config({"webhook": {"url": "http://a"}}, ["webhook"], "ada@lab-1", at) == 1
        with store.write() as tx:
            assert tx.add_team_config({"webhook": {"url": "http://b"}, "jira": {"issue_key": "ENG-1"}},
                                      ["webhook", "jira"], "bob@lab-2", at) == 2
        with store.read() as tx:
            team = tx.team_config()
        assert team is not None
        assert (team.revision, team.pushed_by, team.pushed_at) == (2, "bob@lab-2", at)
        assert team.changed == ["webhook", "jira"]
        assert team.sections == {"webhook": {"url": "http://b"}, "jira": {"issue_key": "ENG-1"}}
    finally:
        store.close()
    again = backend.open(spec)
    try:
        seen = again.team_config()
        assert seen is not None and seen.revision == 2
    finally:
        again.close()


def test_a_push_that_fails_writes_no_revision(backend: Backend) -> None:
    store = backend.open(backend.spec())
    try:
        with pytest.raises(RuntimeError), store.write() as tx:
            tx.add_team_config({"webhook": {"url": "http://a"}}, ["webhook"], "ada@lab-1", datetime.now(UTC))
            raise RuntimeError("the command failed after the push")
        with store.read() as tx:
            assert tx.team_config() is None
    finally:
        store.close()


# --- what counts as a secret, and the layering -----------------------------------------------


def test_secret_values_are_told_from_named_secrets_and_keys_named_like_them() -> None:
    sections = {
        "jira": {"url": "https://acme.atlassian.net", "issue_key": "ENG-1", "project_keys": ["ENG"],
                 "token_env": "JIRA_TOKEN", "password_keyring": "jira/ada"},
        "webhook": {"url": "https://ops:Hunter2@hooks.example.com/x", "secret_headers": {"X-Api-Key": "HOOK_KEY"},
                    "headers": {"X-Trace": "Bearer abcdefghijklmnop"}},
        "slack": {"token": "plain-text", "channel": "#team", "note": "xoxb-123-456-abc"},
    }
    assert sorted(secrets_in(sections)) == [
        "integrations.slack.note", "integrations.slack.token", "integrations.webhook.headers.X-Trace",
        "integrations.webhook.url",
    ]


def test_team_sections_lie_beneath_the_folder_s_own_key_by_key(project_dir: Path) -> None:
    _configure(project_dir, '[integrations.webhook]\nurl = "http://mine"\n\n[integrations.obsidian]\nvault = "/v"\n')
    project = open_project(project_dir)
    assert project is not None
    team = {"webhook": {"url": "http://team", "username": "ops"}, "linear": {"team": "ENG"}}
    layered = with_team_sections(project, team).config.integrations
    assert layered == {"webhook": {"url": "http://mine", "username": "ops"}, "obsidian": {"vault": "/v"},
                       "linear": {"team": "ENG"}}
    assert with_team_sections(project, None) is project


# --- the commands -------------------------------------------------------------------------------


def test_push_show_and_pull_between_two_folders(backend: Backend, project_dir: Path, tmp_path: Path,
                                                msp_cli: Any) -> None:
    _configure(project_dir, '[integrations.webhook]\nurl = "http://127.0.0.1:9/team"\nsignature_format = "legacy"\n')
    pushed = _json(msp_cli("config", "push", "--json", env=WHO))
    assert pushed["pushed"] is True and pushed["sections"] == {"webhook": "added"}
    assert pushed["team"]["revision"] == 1 and pushed["team"]["pushed_by"] == "ada@lab-1"
    again = _json(msp_cli("config", "push", "--json", env=WHO))
    assert again["pushed"] is False and again["sections"] == {"webhook": "unchanged"}

    shown = _json(msp_cli("config", "show", "--team", "--json"))
    assert shown["team"]["sections"] == {"webhook": {"url": "http://127.0.0.1:9/team", "signature_format": "legacy"}}
    assert shown["team"]["revision"] == 1 and shown["overridden_here"] == []
    text = msp_cli("config", "show", "--team")
    assert text.code == 0 and "pushed by ada@lab-1" in text.out and "[integrations.webhook]" in text.out

    other = _other_folder(tmp_path, backend, project_dir)
    config = other / ".msp" / "config.toml"
    config.write_text("# kept: a comment of this folder\n" + config.read_text()
                      + '\n[integrations.webhook]\nurl = "http://old"\nusername = "me"\n')
    before = config.read_text()
    dry = msp_cli("config", "pull", "--dry-run", cwd=other)
    assert dry.code == 0, dry.err
    assert '~ integrations.webhook.url = "http://127.0.0.1:9/team" (was "http://old")' in dry.out
    assert '+ integrations.webhook.signature_format = "legacy"' in dry.out
    assert config.read_text() == before  # a dry run writes nothing
    pulled = _json(msp_cli("config", "pull", "--json", cwd=other))
    assert pulled["written"] is True and {c["key"] for c in pulled["changes"]} == {
        "integrations.webhook.url", "integrations.webhook.signature_format"}
    text_after = config.read_text()
    assert "# kept: a comment of this folder" in text_after and 'username = "me"' in text_after
    project = open_project(other)
    assert project is not None
    assert project.config.integrations["webhook"] == {"url": "http://127.0.0.1:9/team",
                                                      "signature_format": "legacy", "username": "me"}
    assert "already matches" in msp_cli("config", "pull", cwd=other).out

    # The other folder's own key shows as set over the team's.
    config.write_text(config.read_text().replace('signature_format = "legacy"', 'signature_format = "timestamped"'))
    shown = _json(msp_cli("config", "show", "--team", "--json", cwd=other))
    assert shown["overridden_here"] == ["integrations.webhook.signature_format", "integrations.webhook.username"]

    removed = _json(msp_cli("config", "push", "--remove", "webhook", "--json", env=WHO))
    assert removed["sections"] == {"webhook": "removed"} and removed["team"]["sections"] == {}


def test_a_secret_value_is_refused_and_not_echoed(backend: Backend, project_dir: Path, msp_cli: Any) -> None:
    _configure(project_dir, '[integrations.webhook]\nurl = "https://ops:S3cret-Value@hooks.example.com/x"\n')
    refused = msp_cli("config", "push", "--json")
    assert refused.code != 0
    error = json.loads(refused.out)["error"]
    assert "integrations.webhook.url" in error["message"] and "_env" in error["hint"]
    assert "S3cret-Value" not in refused.out + refused.err
    assert _json(msp_cli("config", "show", "--team", "--json"))["team"] is None  # nothing pushed


def test_a_folder_without_the_section_records_and_delivers_with_the_team_s(backend: Backend, project_dir: Path,
                                                                          tmp_path: Path, msp_cli: Any) -> None:
    """The team's webhook reaches a folder that never configured it: its updates plan the
    team's actions, and its `msp dispatch` delivers them with the team's settings."""
    with ScriptedServer(Reply(200, json={"ok": True})) as receiver:
        _configure(project_dir, f'[integrations.webhook]\nurl = "{receiver.url}/team-hook"\n')
        assert msp_cli("config", "push").code == 0
        other = _other_folder(tmp_path, backend, project_dir)
        assert open_project(other).config.integrations == {}  # type: ignore[union-attr]
        assert msp_cli("start", "--goal", "on another machine", cwd=other).code == 0
        update = msp_cli("update", "using the team's webhook", "30", cwd=other)
        assert update.code == 0 and "queued" in update.out, update.err
        delivered = msp_cli("dispatch", "--until-empty", "--json", cwd=other)
        assert delivered.code == 0, delivered.err
        assert receiver.wait_for(2) and {r.path for r in receiver.requests} == {"/team-hook"}
        listed = _json(msp_cli("dispatch", "--integration", "webhook", "--json", cwd=other))
        assert listed["ok"] is True


def test_the_cache_never_holds_the_store_url(backend: Backend, project_dir: Path, msp_cli: Any) -> None:
    _configure(project_dir, '[integrations.webhook]\nurl = "http://127.0.0.1:9/h"\n')
    assert msp_cli("config", "push").code == 0
    assert msp_cli("start").code == 0
    url = os.environ.get(URL_ENV)
    for path in (project_dir / ".msp").rglob("*"):
        if url and path.is_file() and path.suffix != ".db":
            text = path.read_text(errors="replace")
            assert url not in text and (backend.server is None or backend.server.password not in text)
