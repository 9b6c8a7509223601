"""The PowerShell bridge as an msp integration: ``[integrations.X]`` with a ``module`` key.

The host calls :func:`create_integration` for every such section (or ``use = "powershell"``).
The returned plugin's hooks are pure: they return ``powershell`` actions naming the module's
function and its named arguments, bound from the function's own ``param()`` block
(:mod:`msp._powershell._bind`). Which functions exist, and their parameters, are read once, when
the integration loads, by a static scan of the ``.ps1``; a hook no function serves is not
called, and a mapped function the module lacks is a config error. The executor
(:mod:`msp._executors.powershell`) runs the functions at dispatch.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msp._model.actions import PowerShellCall
from msp._powershell._bind import Unbound, bind, offered, problems, served
from msp._powershell._data import blocker_table, decision_table, entity_table, session_table, update_table
from msp._powershell._scan import HOOK_FUNCTIONS, ModuleScan, scan_module
from msp._powershell._settings import CONFIG_SCHEMA, PowerShellSettings, parse_settings
from msp.errors import ConfigError, PluginError
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
        self.served = served(settings, scan)
        #: hook -> the first function serving it (None: not served), for a quick look.
        self.functions: dict[str, str | None] = {
            hook: (fns[0].function if (fns := self.served.get(hook)) else None) for hook in HOOK_FUNCTIONS}

    def __repr__(self) -> str:
        return f"<PowerShellIntegration {self.name} module={self.settings.module!r}>"

    def calls(self, hook: str, session_tbl: Mapping[str, Any] | None,
              item_tbl: Mapping[str, Any] | None = None) -> list[PowerShellCall]:
        """The calls ``hook`` makes for one event: each serving function, in order, its
        parameters bound from its param() block. A mandatory parameter whose value is empty for
        this event raises PluginError (a hook failure attributed to this integration)."""
        values = offered(hook, session_tbl, item_tbl)
        out = []
        for fn in self.served.get(hook, []):
            try:
                arguments = bind(self.settings, fn, values)
            except Unbound as exc:
                raise PluginError(f"integrations.{self.name}: {exc}",
                                  f"give it a value in [integrations.{self.name}.arguments.\"{fn.function}\"] "
                                  "or record the missing field") from None
            out.append(PowerShellCall(function=fn.function, arguments=arguments))
        return out

    def _session(self, session: Any) -> dict[str, Any]:
        return session_table(session, self.user)

    @hookimpl
    def msp_session_start(self, session: Any) -> list[PowerShellCall]:
        return self.calls("session_start", self._session(session))

    @hookimpl
    def msp_update(self, session: Any, update: Any) -> list[PowerShellCall]:
        return self.calls("update", self._session(session), update_table(update))

    @hookimpl
    def msp_decision(self, session: Any, decision: Any) -> list[PowerShellCall]:
        return self.calls("decision", self._session(session), decision_table(decision))

    @hookimpl
    def msp_entity(self, session: Any, entity: Any) -> list[PowerShellCall]:
        return self.calls("entity", self._session(session), entity_table(entity))

    @hookimpl
    def msp_blocker(self, session: Any, blocker: Any) -> list[PowerShellCall]:
        # Not in the seed's table: an optional Add-<P>Blocker, or a mapped function.
        return self.calls("blocker", self._session(session), blocker_table(blocker))

    @hookimpl
    def msp_session_close(self, session: Any) -> list[PowerShellCall]:
        return self.calls("session_close", self._session(session))

    @hookimpl
    def msp_export(self, sessions: list[Any]) -> str | None:
        """``msp export``: runs the export function now (a read the user asked for, not an event).

        Starting PowerShell takes longer than the host's default hook budget: set
        ``hook_timeout_ms`` (say 15000) in the integration's section to use it.
        """
        if not self.served.get("export"):
            return None
        from msp._powershell._doctor import run_export

        return run_export(self, sessions, self.project_root)

    @hookimpl
    def msp_doctor(self, config: dict[str, Any], online: bool, project_root: Path) -> list[Any]:
        """Findings about the module, and with ``online`` a probe (see :func:`msp._powershell.doctor`)."""
        from msp._powershell._doctor import doctor

        return doctor(self.name, config, project_root, online)

    def export_calls(self, sessions: list[Any]) -> list[PowerShellCall]:
        """The export function's calls for each session (run through :func:`msp._powershell.export`)."""
        out = []
        for session in sessions:
            out += self.calls("export", self._session(session))
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
    found = problems(settings, scan)
    if found:
        # Before anything is queued: an integration that would call a function the module lacks,
        # or leave a mandatory parameter unbound, does not load.
        raise ConfigError("; ".join(found), "fix [integrations." + name + ".functions] / [.arguments] / [.config], "
                          "then run `msp integrations doctor " + name + "`")
    user = config.get("user") if isinstance(config.get("user"), str) else _os_user()
    return PowerShellIntegration(name, settings, scan, user, root, config)
