"""Commands that msp suggests in its messages are quoted for the shell: pasted back, a value with
spaces or quotes arrives as the one argument it was."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

ODD = "it's a \"team\" thing"


def _commands(text: str) -> list[list[str]]:
    """The shell lines between backticks in a message, split the way a POSIX shell would."""
    return [shlex.split(line) for line in re.findall(r"`([^`]+)`", text)]


def _hint(msp_cli: Any, *args: str) -> str:
    result = msp_cli(*args, "--json")
    assert result.code != 0
    return str(json.loads(result.out)["error"]["hint"])


def test_recover_hint_keeps_an_odd_session_argument_whole(msp_cli: Any) -> None:
    assert _commands(_hint(msp_cli, "recover", ODD)) == [["msp", "recover", ODD, "--close"]]


def test_queue_hints_keep_an_odd_reference_whole(msp_cli: Any) -> None:
    assert _commands(_hint(msp_cli, "queue", "list", ODD)) == [["msp", "queue", "show", ODD]]


def test_config_set_secret_hint_keeps_an_odd_key_whole(msp_cli: Any) -> None:
    key = "integrations.my tool's.token"
    assert _commands(_hint(msp_cli, "config", "set", key, "s3cr3t")) == [
        ["msp", "config", "set", key + "_env", "VARIABLE"],
        ["msp", "config", "set", key + "_keyring", "service/user"],
    ]


def test_replay_hint_for_a_broken_integration_keeps_its_name_whole(msp_cli: Any, project_dir: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    name = "team chat's"
    config.write_text(config.read_text() + f'\n[integrations."{name}"]\nmodule = "scripts/missing one.ps1"\n')
    result = msp_cli("start")
    assert result.code == 0, result.err
    replay = [c for c in _commands(result.err) if c[:2] == ["msp", "replay"]]
    assert replay == [["msp", "replay", "--integration", name, "--since", "1d"]], result.err


def test_scaffold_next_steps_keep_an_odd_folder_whole(msp_cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "my tools' dir" / "msp-mytool"
    result = msp_cli("integrations", "new", "mytool", "--dir", str(target))
    assert result.code == 0, result.err
    line = next(x for x in result.out.splitlines() if x.startswith("Next: "))
    install, test = (shlex.split(part) for part in line.removeprefix("Next: ").split(" && "))
    assert install == ["pip", "install", "-e", str(target)] and test == ["pytest", f"{target}/tests"]
