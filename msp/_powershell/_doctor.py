"""``msp integrations doctor`` for PowerShell integrations, and running Export-<P>Context."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msp._powershell._scan import HOOK_FUNCTIONS, function_name, scan_module
from msp._powershell._settings import parse_settings

#: What the online probe calls: a cmdlet every PowerShell has, which does nothing. The check is
#: what the bridge does before any call: open the runspace, import the module, run Initialize.
PROBE_FUNCTION = "Out-Null"


def doctor(name: str, config: Mapping[str, Any], project_root: Path, online: bool = False) -> list[Any]:
    """Findings about one PowerShell integration (``msp_doctor``), and with ``online`` a probe.

    Offline it only reads the module file: whether it exists, which hook functions it defines
    (a missing one is ``info``: that moment is skipped), and whether the local ``pwsh`` is on
    PATH. With ``online=True`` it adds a ``powershell`` probe action; the host runs it through
    the bridge, which opens a runspace (local pwsh or WinRM), imports the module and runs
    Initialize, so a failure there (or Initialize returning ``$false``) is reported as a problem.
    """
    from msp._model.actions import PowerShellCall
    from msp._model.findings import Finding
    from msp.errors import MspError

    try:
        settings = parse_settings(name, config)
    except MspError as exc:
        return [Finding(severity="problem", message=exc.message, fix=exc.hint)]
    path = settings.module_path(project_root)
    try:
        scan = scan_module(path)
    except OSError as exc:
        return [Finding(severity="problem",
                        message=f"module {settings.module} cannot be read ({path}): {exc.strerror or exc}",
                        fix=f'fix module = "..." in [integrations.{name}] (a path relative to the project root)')]
    found: list[Any] = [
        Finding(severity="ok", message=f"module {settings.module} found ({len(scan.functions)} functions)"),
    ]
    for moment in HOOK_FUNCTIONS:
        fn = function_name(moment, settings.prefix)
        if scan.has(fn):
            found.append(Finding(severity="ok", message=f"{fn} defined ({moment})"))
        else:
            found.append(Finding(severity="info", message=f"{fn} not defined; {moment} is skipped"))
    if not any(scan.has(function_name(m, settings.prefix)) for m in HOOK_FUNCTIONS):
        others = ", ".join(sorted(scan.functions)[:8]) or "none"
        found.append(Finding(severity="warning",
                             message=f"no function matches prefix {settings.prefix!r} (functions found: {others})",
                             fix=f"set prefix (or [integrations.{name}.functions]) to match the module's names"))
    if settings.transport == "local":
        import shutil

        if shutil.which(settings.pwsh) is None:
            found.append(Finding(severity="warning",
                                 message=f"PowerShell executable {settings.pwsh!r} is not on PATH; actions will wait",
                                 fix='install PowerShell 7 or set pwsh = "/path/to/pwsh"'))
    if online:
        found.append(PowerShellCall(function=PROBE_FUNCTION))
    return found


def export(name: str, config: Mapping[str, Any], project_root: Path, sessions: list[Any]) -> str | None:
    """Run Export-<P>Context for each session; the texts it returned, joined by blank lines.

    None when the module has no export function. Raises PluginError when a call fails.
    """
    from msp._powershell.plugin import create_integration

    plugin = create_integration(name, config, project_root=project_root)
    if plugin.functions.get("export") is None:
        return None
    return run_export(plugin, sessions, project_root)


def run_export(plugin: Any, sessions: list[Any], project_root: Path) -> str:
    import json

    from msp._powershell._convert import normalise
    from msp._powershell._runtime import Bridge
    from msp.errors import PluginError

    calls = plugin.export_calls(sessions)

    async def run() -> list[str]:
        bridge = Bridge()
        texts: list[str] = []
        try:
            for call in calls:
                result = await bridge.call(plugin.name, plugin.config, project_root, call.function, call.arguments)
                if result.status != "ok":
                    raise PluginError(f"integrations.{plugin.name}: {call.function}: {result.message}")
                for item in result.output:
                    value = normalise(item)
                    texts.append(value if isinstance(value, str) else json.dumps(value, indent=2))
        finally:
            await bridge.aclose()
        return texts

    return "\n\n".join(asyncio.run(run()))
