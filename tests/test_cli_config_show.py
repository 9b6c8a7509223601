"""`msp config show` prints TOML that reads back as the effective config."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any


def _without_unset(value: Any) -> Any:
    """The config as TOML can hold it: no null keys (a table of only those stays, empty), and
    no tables that were empty to begin with (printed as a comment)."""
    if isinstance(value, dict):
        return {k: _without_unset(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_without_unset(v) for v in value if v is not None]
    return value


def test_config_show_is_valid_toml_with_unset_values(msp_cli: Any, project_dir: Path) -> None:
    shown = msp_cli("config", "show")
    assert shown.code == 0, shown.err
    parsed = tomllib.loads(shown.out)  # `name = null` (the project name is unset) would not parse
    assert "null" not in shown.out and "# name is not set" in shown.out
    effective = json.loads(msp_cli("config", "show", "--json").out)["config"]
    assert effective["project"]["name"] is None
    assert parsed == _without_unset(effective)


def test_config_show_quotes_what_needs_quoting_and_keeps_nested_tables(msp_cli: Any, project_dir: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + (
        '\n[integrations."team chat"]\n'
        'module = "scripts/it\'s \\"odd\\" = [x].ps1"\n'
        'pwsh_args = ["-NoLogo", "-s"]\n'
        '[integrations."team chat".config]\n'
        'channel = "#eng"\n'
        'limits = { per_minute = 30, note = "a\\nb" }\n'
    ))
    shown = msp_cli("config", "show")
    assert shown.code == 0, shown.err
    parsed = tomllib.loads(shown.out)
    section = parsed["integrations"]["team chat"]
    assert section["module"] == 'scripts/it\'s "odd" = [x].ps1'
    assert section["config"] == {"channel": "#eng", "limits": {"per_minute": 30, "note": "a\nb"}}
    assert section["pwsh_args"] == ["-NoLogo", "-s"]
    effective = json.loads(msp_cli("config", "show", "--json").out)["config"]
    assert parsed == _without_unset(effective)
