"""Configuring an integration is one step (`msp integrations enable`), and `msp config set` can
fill in a section over several commands while it is disabled."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

JIRA = ["base_url=https://acme.atlassian.net", "username=me@acme.io", "token_env=JIRA_TOKEN"]


def _section(project_dir: Path, name: str) -> dict[str, Any]:
    data = tomllib.loads((project_dir / ".msp" / "config.toml").read_text())
    return dict(data.get("integrations", {}).get(name, {}))


def test_jira_is_set_up_by_one_command(msp_cli: Any, project_dir: Path) -> None:
    r = msp_cli("integrations", "enable", "jira", *JIRA, "--json")
    assert r.code == 0, r.err
    assert r.json()["set"]["username"] == "me@acme.io"
    assert _section(project_dir, "jira") == {"base_url": "https://acme.atlassian.net", "username": "me@acme.io",
                                             "token_env": "JIRA_TOKEN", "enabled": True}
    assert msp_cli("config", "validate").code == 0
    listed = msp_cli("integrations", "list", "--json").json()["integrations"]
    assert {"name": "jira", "state": "enabled"}.items() <= next(i for i in listed if i["name"] == "jira").items()


def test_an_incomplete_section_is_refused_naming_the_key_and_nothing_is_written(
        msp_cli: Any, project_dir: Path) -> None:
    before = (project_dir / ".msp" / "config.toml").read_bytes()
    r = msp_cli("integrations", "enable", "jira", *JIRA[:2])
    assert r.code != 0
    assert "token_env" in r.err and "required" in r.err
    assert (project_dir / ".msp" / "config.toml").read_bytes() == before


def test_config_set_fills_a_disabled_section_key_by_key_then_enabling_checks_it(
        msp_cli: Any, project_dir: Path) -> None:
    # Enabled, each key alone is refused: the other two required ones are missing.
    assert msp_cli("config", "set", "integrations.jira.base_url", "https://acme.atlassian.net").code != 0
    assert msp_cli("config", "set", "integrations.jira.enabled", "false").code == 0
    for pair in JIRA[:2]:
        key, _, value = pair.partition("=")
        r = msp_cli("config", "set", f"integrations.jira.{key}", value)
        assert r.code == 0, r.err
    refused = msp_cli("config", "set", "integrations.jira.enabled", "true")
    assert refused.code != 0 and "token_env" in refused.err
    assert _section(project_dir, "jira")["enabled"] is False
    assert msp_cli("config", "set", "integrations.jira.token_env", "JIRA_TOKEN").code == 0
    r = msp_cli("config", "set", "integrations.jira.enabled", "true")
    assert r.code == 0, r.err
    assert _section(project_dir, "jira")["enabled"] is True


def test_a_section_with_no_keys_can_be_enabled(msp_cli: Any, project_dir: Path) -> None:
    # The embedded graph needs no settings at all.
    r = msp_cli("integrations", "enable", "neo4j")
    assert r.code == 0, r.err
    assert _section(project_dir, "neo4j") == {"enabled": True}


def test_disable_keeps_the_section_and_stops_loading_it(msp_cli: Any, project_dir: Path) -> None:
    assert msp_cli("integrations", "enable", "jira", *JIRA).code == 0
    r = msp_cli("integrations", "disable", "jira")
    assert r.code == 0, r.err
    assert _section(project_dir, "jira")["base_url"] == "https://acme.atlassian.net"
    listed = msp_cli("integrations", "list", "--json").json()["integrations"]
    assert next(i for i in listed if i["name"] == "jira")["state"] == "disabled"
    assert msp_cli("integrations", "disable", "nothing").code != 0


def test_help_with_a_name_lists_that_integrations_keys(msp_cli: Any) -> None:
    r = msp_cli("integrations", "enable", "jira", "--help")
    assert r.code == 0, r.err
    keys = r.out.split("Keys of [integrations.jira]", 1)[1]
    assert keys.index("base_url") < keys.index("deployment")  # required first
    assert "base_url  (string, required)" in keys and "token_env" in keys and "worklog" in keys


def test_a_setting_that_is_not_key_value_is_a_clear_error(msp_cli: Any, project_dir: Path) -> None:
    before = (project_dir / ".msp" / "config.toml").read_bytes()
    r = msp_cli("integrations", "enable", "jira", "base_url")
    assert r.code != 0 and "is not key=value" in r.err
    assert (project_dir / ".msp" / "config.toml").read_bytes() == before
