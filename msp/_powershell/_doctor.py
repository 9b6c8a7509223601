"""``msp integrations doctor`` for PowerShell integrations, and running Export-<P>Context."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msp._powershell._scan import HOOK_FUNCTIONS, scan_module
from msp._powershell._settings import parse_settings

#: What the online probe calls: a built-in cmdlet every PowerShell has, reading the version table.
#: The check is what the bridge does before any call (open the runspace, define the host
#: functions, import the module, run Initialize); the executor reports edition and version.
PROBE_FUNCTION = "Get-Variable"
PROBE_ARGUMENTS: dict[str, Any] = {"Name": "PSVersionTable", "ValueOnly": True}


def is_probe(function: str, arguments: Mapping[str, Any]) -> bool:
    return function == PROBE_FUNCTION and dict(arguments) == PROBE_ARGUMENTS


def doctor(name: str, config: Mapping[str, Any], project_root: Path, online: bool = False) -> list[Any]:
    """Findings about one PowerShell integration (``msp_doctor``), and with ``online`` a probe.

    Offline it reads the module file only. ``problem`` (doctor exits non-zero): the module
    cannot be read, no hook is served, a mapped function is missing or not exported, a
    mandatory parameter nothing binds. ``warning``: query text the script builds is delivered
    (``deliver_returned_queries``), PowerShell 7 syntax sent to WinRM's default 5.1 endpoint,
    no local ``pwsh``. With ``online=True`` it adds a ``powershell`` probe action; the host runs
    it through the bridge, which opens a runspace, imports the module and runs Initialize, and
    reports the PowerShell edition and version (a failure there is a problem).
    """
    from msp._model.actions import PowerShellCall
    from msp._model.findings import Finding
    from msp._powershell._bind import problems, served, sources
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
    serving = served(settings, scan)
    for moment in HOOK_FUNCTIONS:
        names = settings.served(moment)
        if not names:
            if settings.functions is not None:
                found.append(Finding(severity="info", message=f"{moment} is not mapped; not served"))
            continue
        for fn in serving.get(moment, []):
            assert fn.info is not None
            bound = "; ".join(sources(settings, moment, fn.info)) if fn.info.params else "no parameters"
            found.append(Finding(severity="ok", message=f"{fn.function} defined ({moment}): {bound}"))
        if settings.functions is None and not serving.get(moment):
            found.append(Finding(severity="info", message=f"{names[0]} not defined; {moment} is skipped"))
    fix_map = f"map hooks in [integrations.{name}.functions] and bind parameters in [.arguments] or [.config]"
    for problem in problems(settings, scan):
        found.append(Finding(severity="problem", message=problem, fix=fix_map))
    if not serving:
        others = ", ".join(sorted(scan.functions)[:8]) or "none"
        what = f"no function matches prefix {settings.prefix!r}" if settings.functions is None \
            else "no mapped function is defined"
        found.append(Finding(severity="problem",
                             message=f"no hook is served: {what} (functions found: {others})",
                             fix=f'map hooks to these functions in [integrations.{name}.functions], e.g. '
                                 f'session_close = "{sorted(scan.functions)[0] if scan.functions else "Verb-Noun"}"'))
    found += _query_findings(name, settings, scan, serving)
    if scan.ps7 and settings.transport == "winrm" and settings.configuration_name == "Microsoft.PowerShell":
        what, line = scan.ps7[0]
        found.append(Finding(severity="warning",
                             message=f"the module uses PowerShell 7 syntax ({what}, line {line}), and WinRM's default "
                                     "endpoint Microsoft.PowerShell is Windows PowerShell 5.1 on Windows",
                             fix='set configuration_name = "PowerShell.7" (run Enable-PSRemoting in PowerShell 7 on '
                                 "the host to register it); `msp integrations doctor --online` shows the version"))
    if settings.transport == "local":
        import shutil

        if shutil.which(settings.pwsh) is None:
            found.append(Finding(severity="warning",
                                 message=f"PowerShell executable {settings.pwsh!r} is not on PATH; actions will wait",
                                 fix='install PowerShell 7 or set pwsh = "/path/to/pwsh"'))
    if online:
        found.append(PowerShellCall(function=PROBE_FUNCTION, arguments=dict(PROBE_ARGUMENTS)))
    return found


def query_kind(settings: Any, scan: Any, function: str) -> str | None:
    """What query text ``function`` returns: its declared kind, ``graphql`` for a function whose
    body builds a ``query =`` hashtable (the seed's query/variables form), else None."""
    declared: str | None = settings.returns_of(function)
    if declared is not None:
        return declared
    info = scan.function(function)
    return "graphql" if info is not None and info.builds_query else None


def query_kind_for(name: str, config: Mapping[str, Any], project_root: Path, function: str) -> str | None:
    """:func:`query_kind` from an integration's config (at dispatch)."""
    try:
        settings = parse_settings(name, config)
        scan = scan_module(settings.module_path(project_root))
    except Exception:
        return None
    return query_kind(settings, scan, function)


def _query_findings(name: str, settings: Any, scan: Any, serving: Mapping[str, list[Any]]) -> list[Any]:
    from msp._model.findings import Finding

    out = []
    for moment, fns in serving.items():
        for fn in fns:
            kind = query_kind(settings, scan, fn.function)
            if kind is None:
                continue
            if settings.deliver_returned_queries:
                out.append(Finding(
                    severity="warning",
                    message=f"{fn.function} ({moment}) returns {kind} text it builds itself, and it is delivered as "
                            "an action (deliver_returned_queries = true): values the script splices into it reach "
                            "the service as query text, not as parameters",
                    fix="review the function, or set deliver_returned_queries = false to record its output only"))
            else:
                out.append(Finding(
                    severity="info",
                    message=f"{fn.function} ({moment}) returns {kind} text; it is recorded, not delivered "
                            "(deliver_returned_queries is off)"))
    return out


def export(name: str, config: Mapping[str, Any], project_root: Path, sessions: list[Any]) -> str | None:
    """Run Export-<P>Context for each session; the texts it returned, joined by blank lines.

    None when the module has no export function. Raises PluginError when a call fails.
    """
    from msp._powershell.plugin import create_integration

    plugin = create_integration(name, config, project_root=project_root)
    if not plugin.served.get("export"):
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
