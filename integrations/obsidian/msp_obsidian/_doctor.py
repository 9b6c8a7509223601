"""``msp integrations doctor obsidian``: what can be checked of a vault without writing to it.

The vault folder itself (there, writable) is the host's check, from the integration's declared
``readiness``; this adds what only Obsidian's layout knows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msp import Finding

from ._notes import Settings

#: The config keys of folders inside the vault.
_INNER = ("sessions_folder", "projects_folder", "adr_folder", "entities_folder", "daily_folder")


def findings(config: dict[str, Any], online: bool, project_root: Path) -> list[Finding]:
    out: list[Finding] = []
    try:
        Settings.from_config(config)
    except Exception as exc:  # the same check msp_initialize makes, said as a finding
        return [Finding(severity="problem", message=f"config: {exc}", fix="fix [integrations.obsidian]")]
    vault = Path(str(config["vault"])).expanduser()
    if not vault.is_absolute():
        vault = Path(project_root) / vault
    if vault.is_dir():
        for key in _INNER:
            inner = str(config.get(key) or "")
            if inner and (vault / inner).exists() and not (vault / inner).is_dir():
                out.append(Finding(severity="problem", message=f"{key} {vault / inner} is a file, not a folder",
                                   fix=f"move the file away or choose another {key}"))
        if not (vault / ".obsidian").is_dir():
            out.append(Finding(severity="info", message=f"{vault} has no .obsidian folder: Obsidian has not "
                               "opened it as a vault yet", fix="open the folder in Obsidian (Open folder as vault)"))
    if online:
        out.append(Finding(severity="info", message="no online check: the vault is a local folder, checked above"))
    return out
