"""``msp integrations doctor`` for PowerShell integrations, and running Export-<P>Context."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msp._powershell._scan import HOOK_FUNCTIONS, function_name, scan_module
from msp._powershell._settings import parse_settings


def doctor(name: str, config: Mapping[str, Any], project_root: Path, online: bool = False) -> list[str]:
    """Findings about one PowerShell integration, one line each, worst first in wording.

    Lines start with ``ok:``, ``skip:`` (a hook function the module does not define: that moment
    is skipped), ``warning:`` or ``error:``. Offline it only reads files; with ``online=True`` it
    opens a runspace (local pwsh or WinRM), imports the module and runs Initialize.
    """
    from msp.errors import MspError

    lines: list[str] = []
    try:
        settings = parse_settings(name, config)
    except MspError as exc:
        return [f"error: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")]
    path = settings.module_path(project_root)
    try:
        scan = scan_module(path)
    except OSError as exc:
        return [f"error: module {settings.module} cannot be read ({path}): {exc.strerror or exc}"]
    lines.append(f"ok: module {settings.module} found ({len(scan.functions)} functions)")
    for moment in HOOK_FUNCTIONS:
        fn = function_name(moment, settings.prefix)
        if scan.has(fn):
            lines.append(f"ok: {fn} defined ({moment})")
        else:
            lines.append(f"skip: {fn} not defined; {moment} is skipped")
    if not any(scan.has(function_name(m, settings.prefix)) for m in HOOK_FUNCTIONS):
        others = ", ".join(sorted(scan.functions)[:8]) or "none"
        lines.append(f"warning: no function matches prefix {settings.prefix!r} (functions found: {others})")
    if settings.transport == "local":
        import shutil

        if shutil.which(settings.pwsh) is None:
            lines.append(f"warning: PowerShell executable {settings.pwsh!r} is not on PATH; actions will wait")
    if online:
        lines += asyncio.run(_online(name, config, project_root, settings.prefix))
    return lines


async def _online(name: str, config: Mapping[str, Any], project_root: Path, prefix: str) -> list[str]:
    from msp._powershell._runtime import Bridge, _NotReady

    bridge = Bridge()
    slot = bridge.slot(name, config)
    settings = parse_settings(name, config)
    try:
        await asyncio.wait_for(bridge._ready(slot, settings, config, name, project_root), settings.timeout_s)
    except _NotReady as exc:
        return [f"error: {exc.message}"]
    except Exception as exc:
        return [f"error: opening a runspace failed: {type(exc).__name__}: {exc}"]
    finally:
        await bridge.aclose()
    fn = function_name("initialize", prefix)
    if slot.disabled is not None:
        return [f"warning: {slot.disabled}"]
    return [f"ok: runspace opened ({settings.transport}), module imported, {fn} ran"]


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
