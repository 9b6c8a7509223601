"""Runspaces for PowerShell integrations: open, import the module once, Initialize once, call.

A :class:`Bridge` keeps one runspace per integration (and config) for as long as it lives (the
executor keeps one bridge per drain). A runspace that dies or overruns its time is closed and
replaced on the next call; nothing here raises into the caller except programming errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from msp._powershell._settings import PowerShellSettings, parse_settings, resolve_init_config
from msp._powershell._transport import (
    HOST_FUNCTIONS_SCRIPT,
    LOAD_MODULE_SCRIPT,
    InvokeResult,
    Runspace,
    RunspaceDied,
)
from msp._secrets import MissingCredential

Status = Literal["ok", "skipped", "wait", "retry"]


@dataclass
class CallResult:
    """What running one function came to."""

    status: Status
    message: str = ""
    output: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)  # (level, message) from Write-MSPLog
    version: tuple[str, str] | None = None  # (PSEdition, PSVersion) of the runspace


class _NotReady(Exception):
    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status: Status = status
        self.message = message


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    runspace: Runspace | None = None
    disabled: str | None = None
    opened: int = 0  # runspaces opened so far (diagnostics, tests)
    version: tuple[str, str] | None = None  # (PSEdition, PSVersion) reported by the host script


def _describe_failure(result: InvokeResult) -> str:
    parts = []
    if result.failed is not None:
        parts.append(f"terminating error: {result.failed}")
    for err in result.errors[:5]:
        parts.append(f"error: {err}")
    if len(result.errors) > 5:
        parts.append(f"... and {len(result.errors) - 5} more errors")
    return "; ".join(parts)


class Bridge:
    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}

    @staticmethod
    def _key(integration: str, config: Mapping[str, Any]) -> str:
        blob = json.dumps([integration, config], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def slot(self, integration: str, config: Mapping[str, Any]) -> _Slot:
        return self._slots.setdefault(self._key(integration, config), _Slot())

    # --- building a runspace ----------------------------------------------------------------

    def _make_runspace(self, settings: PowerShellSettings, config: Mapping[str, Any], integration: str,
                       project_root: Path) -> Runspace:
        if settings.transport == "winrm":
            from msp._powershell._winrm import WinRMRunspace, WinRMSettings
            from msp._secrets import is_configured, resolve_secret

            password = resolve_secret(config, "password", integration=integration) \
                if is_configured(config, "password") else None
            cert: bool | str = settings.ca_trust_path or settings.cert_validation
            return WinRMRunspace(WinRMSettings(
                host=str(settings.host), port=settings.port, ssl=settings.ssl, path=settings.wsman_path,
                auth=settings.auth, username=settings.username, password=password, cert_validation=cert,
                encryption=settings.encryption, configuration_name=settings.configuration_name,
                operation_timeout=max(1, min(20, int(settings.timeout_s))),
                read_timeout=max(2, int(settings.timeout_s) + 5),
            ))
        from msp._powershell._outofproc import OutOfProcRunspace

        if shutil.which(settings.pwsh) is None:
            raise _NotReady("wait", f"PowerShell executable {settings.pwsh!r} was not found; install PowerShell 7 "
                            f"or set pwsh = \"/path/to/pwsh\" in [integrations.{integration}]")
        return OutOfProcRunspace([settings.pwsh, *settings.pwsh_args], cwd=project_root)

    async def _define_host_functions(self, runspace: Runspace, settings: PowerShellSettings,
                                     init_config: dict[str, Any]) -> tuple[str, str] | None:
        """Get-MSPConfig, Write-MSPLog, Add-MSPRetryQueue, before the module is imported.
        Returns the (edition, version) the script reports."""
        result = await runspace.invoke(
            HOST_FUNCTIONS_SCRIPT,
            {"Integration": settings.name, "ConfigKey": settings.config_key or "", "Config": init_config},
            script=True)
        if result.failed is not None or result.errors:
            raise _NotReady("retry", f"defining msp's host functions failed: {_describe_failure(result)}")
        texts = [str(item) for item in result.output if isinstance(item, str)]
        return (texts[0], texts[1]) if len(texts) >= 2 else None

    async def _load_module(self, runspace: Runspace, settings: PowerShellSettings, project_root: Path,
                           integration: str, version: tuple[str, str] | None = None) -> None:
        if settings.transport == "winrm" and settings.remote_module:
            result = await runspace.invoke("Import-Module", {"Name": settings.remote_module})
        else:
            path = settings.module_path(project_root)
            try:
                source = path.read_text(encoding="utf-8-sig")
            except OSError as exc:
                raise _NotReady("wait", f"module {settings.module} cannot be read ({exc.strerror or exc}); "
                                f"fix module = in [integrations.{integration}]") from None
            if settings.transport == "winrm":
                # The module text travels as a parameter value of a fixed loader script.
                result = await runspace.invoke(LOAD_MODULE_SCRIPT, {"Name": f"msp_{integration}", "Source": source},
                                               script=True)
            else:
                result = await runspace.invoke("Import-Module", {"Name": str(path.resolve())})
        if result.failed is not None or result.errors:
            message = f"importing module {settings.module} failed: {_describe_failure(result)}"
            hint = ps7_hint(settings, project_root, version)
            raise _NotReady("wait" if hint else "retry", f"{message}; {hint}" if hint else message)

    async def _initialize(self, runspace: Runspace, settings: PowerShellSettings, integration: str,
                          init_config: dict[str, Any], project_root: Path) -> str | None:
        """Run the initialize function once; a returned $false disables the integration."""
        from msp._powershell._bind import offered

        names = settings.served("initialize")
        if not names:
            return None
        fn = names[0]
        arguments = {"Config": init_config}
        if settings.functions is not None:
            arguments = self.arguments(settings, project_root, "initialize", fn,
                                       offered("initialize", None, None, init_config), integration)
        result = await runspace.invoke(fn, arguments)
        if result.failed is not None and result.failed.missing_command.lower() == fn.lower():
            return None  # the module has no Initialize: nothing to check
        if result.failed is not None or result.errors:
            raise _NotReady("retry", f"{fn} failed: {_describe_failure(result)}")
        if any(item is False for item in result.output):
            said = "; ".join(result.warnings) if result.warnings else "no warning given"
            return f"{fn} returned $false, integration {integration} is disabled for this run ({said})"
        return None

    async def _ready(self, slot: _Slot, settings: PowerShellSettings, config: Mapping[str, Any], integration: str,
                     project_root: Path) -> Runspace:
        if slot.runspace is not None and slot.runspace.alive:
            return slot.runspace
        await self._discard(slot)
        try:
            runspace = self._make_runspace(settings, config, integration, project_root)
        except MissingCredential as exc:
            raise _NotReady("wait", exc.message) from None
        slot.runspace = runspace
        slot.opened += 1
        try:
            init_config = resolve_init_config(settings, integration)
        except MissingCredential as exc:
            raise _NotReady("wait", exc.message) from None
        await runspace.open()
        slot.version = await self._define_host_functions(runspace, settings, init_config)
        await self._load_module(runspace, settings, project_root, integration, slot.version)
        slot.disabled = await self._initialize(runspace, settings, integration, init_config, project_root)
        return runspace

    def arguments(self, settings: PowerShellSettings, project_root: Path, hook: str, function: str,
                  values: Mapping[str, Any], integration: str) -> dict[str, Any]:
        """Bind ``function``'s parameters now (initialize runs at dispatch, not at plan time)."""
        from msp._powershell._bind import Served, bind
        from msp._powershell._scan import scan_module

        try:
            info = scan_module(settings.module_path(project_root)).function(function)
        except OSError:
            info = None
        return resolve_secret_arguments(settings, bind(settings, Served(hook, function, info), values), integration)

    async def _discard(self, slot: _Slot) -> None:
        runspace, slot.runspace = slot.runspace, None
        if runspace is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runspace.close(), 15)

    # --- calling ----------------------------------------------------------------------------

    async def call(self, integration: str, config: Mapping[str, Any], project_root: Path, function: str,
                   arguments: Mapping[str, Any]) -> CallResult:
        try:
            settings = parse_settings(integration, config)
        except Exception as exc:
            return CallResult("wait", f"invalid config: {getattr(exc, 'message', exc)}")
        slot = self.slot(integration, config)
        async with slot.lock:
            if slot.disabled is not None:
                return CallResult("wait", slot.disabled, version=slot.version)
            try:
                runspace = await asyncio.wait_for(
                    self._ready(slot, settings, config, integration, project_root), settings.timeout_s)
                if slot.disabled is not None:
                    return CallResult("wait", slot.disabled, version=slot.version)
                bound = resolve_secret_arguments(settings, arguments, integration)
                result = await asyncio.wait_for(runspace.invoke(function, bound), settings.timeout_s)
            except _NotReady as exc:
                await self._discard(slot)
                return CallResult(exc.status, exc.message, version=slot.version)
            except MissingCredential as exc:
                return CallResult("wait", exc.message)
            except RunspaceDied as exc:
                await self._discard(slot)
                return CallResult("retry", f"the PowerShell runspace died ({exc}); a new one opens on the next "
                                  "attempt")
            except TimeoutError:
                await self._discard(slot)
                return CallResult("retry", f"{function} did not finish within {settings.timeout_s:g}s; "
                                  "its runspace was closed")
        logs, retry = _information(result)

        def done(status: Status, message: str = "", output: list[Any] | None = None) -> CallResult:
            return CallResult(status, message, output or [], result.warnings, logs, slot.version)

        if result.failed is not None and result.failed.missing_command.lower() == function.lower():
            return done("skipped", f"{function} is not defined by module {settings.module}; skipped")
        missing = [e.missing_command for e in [result.failed, *result.errors] if e is not None and e.missing_command]
        if missing:
            # A command the script itself calls is missing here: the script's error, retried.
            names = ", ".join(sorted(set(missing)))
            return done("retry", f"{function} in module {settings.module} calls {names}, which is not defined "
                        f"in msp's runspace (CommandNotFoundException): {_describe_failure(result)}")
        if result.failed is not None or result.errors:
            return done("retry", f"{function}: {_describe_failure(result)}")
        if retry:
            return done("retry", f"{function} asked to be retried (Add-MSPRetryQueue {', '.join(retry)})")
        return done("ok", output=result.output)

    def version(self, integration: str, config: Mapping[str, Any]) -> tuple[str, str] | None:
        return self.slot(integration, config).version

    def runspaces_opened(self, integration: str, config: Mapping[str, Any]) -> int:
        return self.slot(integration, config).opened

    async def aclose(self) -> None:
        slots, self._slots = list(self._slots.values()), {}
        for slot in slots:
            await self._discard(slot)


def _information(result: InvokeResult) -> tuple[list[tuple[str, str]], list[str]]:
    """Write-MSPLog entries (level, message) and Add-MSPRetryQueue requests from the
    information stream; other information records are ignored."""
    logs: list[tuple[str, str]] = []
    retry: list[str] = []
    for tags, data in result.information:
        if "msp:log" in tags:
            level = next((t[len("level:"):] for t in tags if t.startswith("level:")), "Info")
            logs.append((level, data))
        elif "msp:retry" in tags:
            retry.append(data or "no action named")
    return logs, retry


def resolve_secret_arguments(settings: PowerShellSettings, arguments: Mapping[str, Any],
                             integration: str) -> dict[str, Any]:
    """Arguments bound to a secret in ``config`` (``apiKey_env``) get its value now, at dispatch.
    Raises MissingCredential when it is not set."""
    from msp._powershell._bind import SECRET_REF
    from msp._secrets import resolve_secret

    out = dict(arguments)
    for name, value in arguments.items():
        if isinstance(value, dict) and set(value) == {SECRET_REF}:
            key = str(value[SECRET_REF])
            base = key.rsplit("_", 1)[0]
            out[name] = resolve_secret({key: settings.init_config.get(key)}, base, integration=integration)
    return out


def ps7_hint(settings: PowerShellSettings, project_root: Path, version: tuple[str, str] | None) -> str:
    """Why a module may fail on this endpoint: PowerShell 7 syntax on Windows PowerShell 5.1."""
    if version is None or not version[1].split(".")[0].isdigit() or int(version[1].split(".")[0]) >= 6:
        return ""
    from msp._powershell._scan import scan_module

    try:
        scan = scan_module(settings.module_path(project_root))
    except OSError:
        return ""
    if not scan.ps7:
        return ""
    what, line = scan.ps7[0]
    return (f"the module uses PowerShell 7 syntax ({what}, line {line}) but the endpoint runs "
            f"{version[0]} PowerShell {version[1]}; set configuration_name = \"PowerShell.7\"")
