"""The PowerShell bridge as an msp integration: ``[integrations.X]`` with a ``module`` key.

The host calls :func:`create_integration` for every such section (or ``use = "powershell"``).
The returned plugin's hooks are pure: they return ``powershell`` actions naming the module's
function and its named arguments (hashtables shaped like the seed's session object). Which
functions exist is read once, when the integration loads, by a static scan of the ``.ps1``;
no action is planned for a function the module lacks. The executor
(:mod:`msp._executors.powershell`) runs the functions at dispatch.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msp._model.actions import PowerShellCall
from msp._powershell._data import blocker_table, decision_table, entity_table, session_table, update_table
from msp._powershell._scan import ModuleScan, scan_module
from msp._powershell._settings import CONFIG_SCHEMA, PowerShellSettings, parse_settings
from msp.errors import PluginError
from msp.hooks import hookimpl

name = "powershell"
config_schema = CONFIG_SCHEMA


def _project_root() -> Path:
    from msp._config import find_msp_dir

    msp_dir = find_msp_dir()
    return msp_dir.parent if msp_dir is not None else Path.cwd()


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name on this machine (containers...)
        return None


class PowerShellIntegration:
    """One configured PowerShell integration module."""

    config_schema = CONFIG_SCHEMA

    def __init__(self, name: str, settings: PowerShellSettings, scan: ModuleScan, user: str | None,
                 project_root: Path, config: Mapping[str, Any]) -> None:
        self.name = name
        self.project_root = project_root
        self.config = dict(config)
        self.settings = settings
        self.scan = scan
        self.user = user
        self.functions = scan.hooks(settings.prefix)

    def __repr__(self) -> str:
        return f"<PowerShellIntegration {self.name} module={self.settings.module!r}>"

    def _call(self, moment: str, **arguments: Any) -> PowerShellCall | None:
        function = self.functions.get(moment)
        if function is None:
            return None  # the module lacks it: skipped
        return PowerShellCall(function=function, arguments=arguments)

    def _session(self, session: Any) -> dict[str, Any]:
        return session_table(session, self.user)

    @hookimpl
    def msp_session_start(self, session: Any) -> PowerShellCall | None:
        return self._call("session_start", Session=self._session(session))

    @hookimpl
    def msp_update(self, session: Any, update: Any) -> PowerShellCall | None:
        return self._call("update", Update=update_table(update), SessionId=session.id)

    @hookimpl
    def msp_decision(self, session: Any, decision: Any) -> PowerShellCall | None:
        return self._call("decision", Decision=decision_table(decision), SessionId=session.id)

    @hookimpl
    def msp_entity(self, session: Any, entity: Any) -> PowerShellCall | None:
        return self._call("entity", Entity=entity_table(entity), SessionId=session.id)

    @hookimpl
    def msp_blocker(self, session: Any, blocker: Any) -> PowerShellCall | None:
        # Not in the seed's table: an optional Add-<P>Blocker, skipped like any missing function.
        return self._call("blocker", Blocker=blocker_table(blocker), SessionId=session.id)

    @hookimpl
    def msp_session_close(self, session: Any) -> PowerShellCall | None:
        return self._call("session_close", Session=self._session(session))

    @hookimpl
    def msp_export(self, sessions: list[Any]) -> str | None:
        """``msp export``: runs Export-<P>Context now (a read the user asked for, not an event).

        Starting PowerShell takes longer than the host's default hook budget: set
        ``hook_timeout_ms`` (say 15000) in the integration's section to use it.
        """
        if self.functions.get("export") is None:
            return None
        from msp._powershell._doctor import run_export

        return run_export(self, sessions, self.project_root)

    @hookimpl
    def msp_doctor(self, config: dict[str, Any], online: bool, project_root: Path) -> list[Any]:
        """Findings about the module, and with ``online`` a probe (see :func:`msp._powershell.doctor`)."""
        from msp._powershell._doctor import doctor

        return doctor(self.name, config, project_root, online)

    def export_calls(self, sessions: list[Any]) -> list[PowerShellCall]:
        """``Export-<P>Context -Session`` for each session (run through :func:`msp._powershell.export`)."""
        out = []
        for session in sessions:
            call = self._call("export", Session=self._session(session))
            if call is not None:
                out.append(call)
        return out


def create_integration(name: str, config: Mapping[str, Any], project_root: Path | None = None) -> PowerShellIntegration:
    """Factory the host calls for each PowerShell integration section."""
    settings = parse_settings(name, config)
    root = project_root or _project_root()
    path = settings.module_path(root)
    try:
        scan = scan_module(path)
    except OSError as exc:
        raise PluginError(
            f"integrations.{name}: cannot read module {settings.module} ({path}): {exc.strerror or exc}",
            "fix module = \"...\" (a path relative to the project root) or create the script",
        ) from None
    user = config.get("user") if isinstance(config.get("user"), str) else _os_user()
    return PowerShellIntegration(name, settings, scan, user, root, config)
