"""The PowerShell bridge: existing ``.ps1`` integrations take part through PSRP.

Public helpers for the rest of msp (imported lazily: nothing heavy loads with this package):

``doctor(name, config, project_root, online=False) -> list[Finding | PowerShellCall]``
    Checks a PowerShell integration's module and reports which hook functions it defines, as
    :class:`msp.Finding` items; with ``online=True`` it adds a probe action that, run by the
    host through the bridge, opens a runspace, imports the module and runs Initialize.
``export(name, config, project_root, sessions) -> str | None``
    Runs ``Export-<P>Context`` for the sessions and returns what it rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["doctor", "export"]


def doctor(name: str, config: Mapping[str, Any], project_root: Path, online: bool = False) -> list[Any]:
    from msp._powershell._doctor import doctor as run

    return run(name, config, project_root, online)


def export(name: str, config: Mapping[str, Any], project_root: Path, sessions: list[Any]) -> str | None:
    from msp._powershell._doctor import export as run

    return run(name, config, project_root, sessions)
