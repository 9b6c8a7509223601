"""Config: where the project is found, the layers of settings, and errors that name file, line and key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from msp._config import (
    CONFIG_TEMPLATE,
    GITIGNORE,
    MspConfig,
    find_msp_dir,
    init_project,
    load_config,
    open_project,
    set_value,
)
from msp.errors import ConfigError, ProjectNotFound


def test_found_by_walking_up_like_git(tmp_path: Path) -> None:
    msp_dir, created = init_project(tmp_path / "repo")
    assert created and msp_dir == tmp_path / "repo" / ".msp"
    deep = tmp_path / "repo" / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_msp_dir(deep) == msp_dir
    project = open_project(deep)
    assert project is not None and project.root == tmp_path / "repo" and project.name == "repo"
    # The nearest one wins.
    inner, _ = init_project(tmp_path / "repo" / "a")
    assert find_msp_dir(deep) == inner


def test_msp_dir_overrides_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here, _ = init_project(tmp_path / "here")
    there = tmp_path / "there" / ".msp"
    monkeypatch.setenv("MSP_DIR", str(there))
    assert find_msp_dir(here.parent) == there
    with pytest.raises(ProjectNotFound):  # it doesn't exist yet
        open_project(here.parent)
    init_project(there.parent)
    project = open_project(here.parent)
    assert project is not None and project.msp_dir == there and project.name == "there"


def test_no_project_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound) as caught:
        open_project(tmp_path)
    assert caught.value.hint is not None and "msp init" in caught.value.hint
    assert open_project(tmp_path, required=False) is None


def test_init_is_idempotent_and_keeps_an_edited_config(tmp_path: Path) -> None:
    msp_dir, _ = init_project(tmp_path)
    (msp_dir / "config.toml").write_text('[project]\nname = "mine"\n')
    again, created = init_project(tmp_path)
    assert again == msp_dir and not created
    assert (msp_dir / "config.toml").read_text() == '[project]\nname = "mine"\n'
    assert (msp_dir / ".gitignore").read_text() == GITIGNORE


def test_the_template_is_valid_and_every_commented_key_is_real(tmp_path: Path) -> None:
    text = CONFIG_TEMPLATE.format(name="demo")
    assert tomllib.loads(text) == {"project": {}, "session": {}, "store": {}, "logging": {}, "dispatch": {},
                                      "detect": {}}
    # Uncomment every `# key = value` line in a core section: the result must validate, with
    # the values the template claims are the defaults.
    section = ""
    uncommented: dict[str, dict[str, object]] = {}
    for line in text.splitlines():
        if m := re.match(r"^#?\s*\[([a-z.]+)\]$", line):  # integration examples are commented out
            section = m.group(1)
        elif (m := re.match(r"^# (\w+) = (.+?)(\s+#.*)?$", line)) and section and "." not in section:
            uncommented.setdefault(section, {})[m.group(1)] = tomllib.loads(f"v = {m.group(2)}")["v"]
    assert uncommented["store"] == {"synchronous": "full"}
    parsed = MspConfig.model_validate(uncommented)
    defaults = MspConfig()
    for sec, values in uncommented.items():
        if sec == "project":
            continue
        for key, value in values.items():
            assert getattr(getattr(parsed, sec), key) == getattr(getattr(defaults, sec), key) == value, (sec, key)


def test_layers_user_then_project_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user-config.toml"  # the path conftest points MSP_USER_CONFIG at
    user.write_text('[session]\ntimeout_hours = 3\n[logging]\nlevel = "info"\n')
    msp_dir, _ = init_project(tmp_path / "p")
    (msp_dir / "config.toml").write_text('[logging]\nlevel = "debug"\n')
    config = load_config(msp_dir)
    assert config.session.timeout_hours == 3 and config.logging.level == "debug"
    monkeypatch.setenv("MSP_LOGGING_LEVEL", "error")
    monkeypatch.setenv("MSP_SESSION_TIMEOUT_HOURS", "1.5")
    config = load_config(msp_dir)
    assert config.logging.level == "error" and config.session.timeout_hours == 1.5
    monkeypatch.setenv("MSP_LOGGING_LEVEL", "chatty")
    with pytest.raises(ConfigError) as caught:
        load_config(msp_dir)
    assert "environment" in caught.value.message and "logging.level" in caught.value.message


def test_errors_name_the_file_the_line_and_the_key(tmp_path: Path) -> None:
    msp_dir, _ = init_project(tmp_path)
    path = msp_dir / "config.toml"
    path.write_text('[store]\nsynchronous = "full"\n[session]\ntimeout_hours = = 3\n')
    with pytest.raises(ConfigError) as caught:
        load_config(msp_dir)
    assert str(path) in caught.value.message and "line 4" in caught.value.message
    path.write_text('[session]\ntimeout_hour = 3\n')
    with pytest.raises(ConfigError) as caught:
        load_config(msp_dir)
    assert "session.timeout_hour: unknown key" in caught.value.message and str(path) in caught.value.message
    path.write_text('[session]\ntimeout_hours = -1\n')
    with pytest.raises(ConfigError, match=r"session\.timeout_hours"):
        load_config(msp_dir)


def test_a_bad_user_config_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "user-config.toml").write_text("[logging]\nlevels = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(None)
    assert "user-config.toml" in caught.value.message and "logging.levels" in caught.value.message


def test_set_value_keeps_comments_and_refuses_what_would_not_load(tmp_path: Path) -> None:
    msp_dir, _ = init_project(tmp_path)
    project = open_project(tmp_path)
    assert project is not None
    path = msp_dir / "config.toml"
    before = path.read_text()
    assert set_value(project, "dispatch.mode", "manual") == "manual"
    assert set_value(project, "session.timeout_hours", "8") == 8
    assert set_value(project, "integrations.webhook.url", '"https://example.com/h"') == "https://example.com/h"
    after = path.read_text()
    assert after.startswith(before.splitlines()[0])  # the comments survive
    assert "# backoff_cap_s = 300.0" in after
    config = load_config(msp_dir)
    assert config.dispatch.mode == "manual" and config.session.timeout_hours == 8
    assert config.integrations["webhook"]["url"] == "https://example.com/h"
    for key, raw in [("dispatch.mode", "sometimes"), ("dispatch.nope", "1"), ("nope", "1"), ("a..b", "1"),
                     ("session.timeout_hours.x", "1"), ("integrations.webhook", "3")]:
        with pytest.raises(ConfigError):
            set_value(project, key, raw)
        assert path.read_text() == after, key
    assert not list(msp_dir.glob("*.tmp"))


def test_a_validated_config_is_reused_until_a_file_changes(project_dir: Path) -> None:
    from msp._config import load_config

    msp_dir = project_dir / ".msp"
    (msp_dir / "config.toml").write_text('[session]\ntimeout_hours = 3\n[integrations.x]\nk = "v"\n')
    first = load_config(msp_dir)
    assert (msp_dir / "cache" / "config.json").exists()
    again = load_config(msp_dir)
    assert again == first and again.session.timeout_hours == 3 and again.integrations == {"x": {"k": "v"}}
    # Same size, different content: still noticed.
    (msp_dir / "config.toml").write_text('[session]\ntimeout_hours = 4\n[integrations.x]\nk = "v"\n')
    assert load_config(msp_dir).session.timeout_hours == 4
    (msp_dir / "config.toml").write_text('[session]\ntimeout_hours = "soon"\n')
    with pytest.raises(ConfigError):
        load_config(msp_dir)


def test_a_config_that_is_not_utf8_is_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    msp_dir, _ = init_project(tmp_path)
    (msp_dir / "config.toml").write_bytes('[project]\nname = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        open_project(tmp_path)
    assert "is not UTF-8" in caught.value.message and "config.toml" in caught.value.message
    assert caught.value.hint is not None and "UTF-8" in caught.value.hint


def test_init_honours_msp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "state" / "my-msp"
    monkeypatch.setenv("MSP_DIR", str(elsewhere))
    msp_dir, created = init_project(tmp_path / "cwd")
    assert created and msp_dir == elsewhere.resolve()
    assert (elsewhere / "config.toml").is_file() and not (tmp_path / "cwd" / ".msp").exists()
    project = open_project(tmp_path / "anywhere")
    assert project is not None and project.msp_dir == elsewhere.resolve()


def test_msp_init_on_the_command_line_honours_msp_dir(msp_cli: Any, tmp_path: Path) -> None:
    elsewhere = tmp_path / "state" / "team-msp"
    env = {"MSP_DIR": str(elsewhere)}
    r = msp_cli("init", "--json", cwd=tmp_path, env=env)
    assert r.code == 0, r.err
    assert r.json()["msp_dir"] == str(elsewhere.resolve())
    assert msp_cli("start", "--goal", "here", cwd=tmp_path, env=env).code == 0
    assert (elsewhere / "msp.db").is_file()
