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

from msp._powershell._scan import function_name
from msp._powershell._settings import PowerShellSettings, parse_settings, resolve_init_config
from msp._powershell._transport import LOAD_MODULE_SCRIPT, InvokeResult, Runspace, RunspaceDied
from msp._secrets import MissingCredential

Status = Literal["ok", "skipped", "wait", "retry"]


@dataclass
class CallResult:
    """What running one function came to."""

    status: Status
    message: str = ""
    output: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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

    async def _load_module(self, runspace: Runspace, settings: PowerShellSettings, project_root: Path,
                           integration: str) -> None:
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
            raise _NotReady("retry", f"importing module {settings.module} failed: {_describe_failure(result)}")

    async def _initialize(self, runspace: Runspace, settings: PowerShellSettings, integration: str) -> str | None:
        """Run Initialize-<P>Integration once; a returned $false disables the integration."""
        fn = function_name("initialize", settings.prefix)
        try:
            init_config = resolve_init_config(settings, integration)
        except MissingCredential as exc:
            raise _NotReady("wait", exc.message) from None
        result = await runspace.invoke(fn, {"Config": init_config})
        if result.failed is not None and result.failed.command_not_found:
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
        await runspace.open()
        await self._load_module(runspace, settings, project_root, integration)
        slot.disabled = await self._initialize(runspace, settings, integration)
        return runspace

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
                return CallResult("wait", slot.disabled)
            try:
                runspace = await asyncio.wait_for(
                    self._ready(slot, settings, config, integration, project_root), settings.timeout_s)
                if slot.disabled is not None:
                    return CallResult("wait", slot.disabled)
                result = await asyncio.wait_for(runspace.invoke(function, dict(arguments)), settings.timeout_s)
            except _NotReady as exc:
                await self._discard(slot)
                return CallResult(exc.status, exc.message)
            except RunspaceDied as exc:
                await self._discard(slot)
                return CallResult("retry", f"the PowerShell runspace died ({exc}); a new one opens on the next "
                                  "attempt")
            except TimeoutError:
                await self._discard(slot)
                return CallResult("retry", f"{function} did not finish within {settings.timeout_s:g}s; "
                                  "its runspace was closed")
        if result.failed is not None and result.failed.command_not_found:
            return CallResult("skipped", f"{function} is not defined by module {settings.module}; skipped",
                              warnings=result.warnings)
        if result.failed is not None or result.errors:
            return CallResult("retry", f"{function}: {_describe_failure(result)}", warnings=result.warnings)
        return CallResult("ok", output=result.output, warnings=result.warnings)

    def runspaces_opened(self, integration: str, config: Mapping[str, Any]) -> int:
        return self.slot(integration, config).opened

    async def aclose(self) -> None:
        slots, self._slots = list(self._slots.values()), {}
        for slot in slots:
            await self._discard(slot)
