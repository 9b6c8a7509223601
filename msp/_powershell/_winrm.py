"""A remote runspace over WinRM (WS-Management) through pypsrp 0.9.

pypsrp is synchronous, so every call runs on one worker thread owned by the runspace (pypsrp's
objects are then only ever touched from that thread). HTTPS with certificate validation is the
default; NTLM, Kerberos, CredSSP, Negotiate or Basic by config.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from msp._powershell._transport import ErrorInfo, InvokeResult, RunspaceDied, error_from_pypsrp, information_from


@dataclass(frozen=True)
class WinRMSettings:
    host: str
    port: int | None = None
    ssl: bool = True
    path: str = "wsman"
    auth: str = "negotiate"
    username: str | None = None
    password: str | None = None
    cert_validation: bool | str = True
    encryption: str = "auto"
    configuration_name: str = "Microsoft.PowerShell"
    operation_timeout: int = 20
    read_timeout: int = 30
    connection_timeout: int = 30

    def __repr__(self) -> str:  # never show the password
        return f"WinRMSettings(host={self.host!r}, port={self.port!r}, ssl={self.ssl}, auth={self.auth!r})"


class WinRMRunspace:
    def __init__(self, settings: WinRMSettings) -> None:
        self.settings = settings
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="msp-winrm")
        self._wsman: Any = None
        self._pool: Any = None
        self._dead: str | None = None

    @property
    def alive(self) -> bool:
        return self._dead is None and self._pool is not None

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, fn, *args)

    def _open_sync(self) -> None:
        from pypsrp.powershell import RunspacePool
        from pypsrp.wsman import WSMan

        s = self.settings
        cert: Any = s.cert_validation  # a bool, or the path of a CA bundle
        self._wsman = WSMan(
            s.host, port=s.port, ssl=s.ssl, path=s.path, auth=s.auth, username=s.username,
            password=s.password, cert_validation=cert, encryption=s.encryption,
            operation_timeout=s.operation_timeout, read_timeout=s.read_timeout,
            connection_timeout=s.connection_timeout,
        )
        self._pool = RunspacePool(self._wsman, configuration_name=s.configuration_name)
        self._pool.open()

    async def open(self) -> None:
        try:
            await self._run(self._open_sync)
        except Exception as exc:
            self._dead = _describe(exc, self.settings)
            raise RunspaceDied(self._dead) from None

    def _invoke_sync(self, command: str, parameters: dict[str, Any], script: bool) -> InvokeResult:
        from pypsrp.complex_objects import PSInvocationState
        from pypsrp.powershell import PowerShell

        ps = PowerShell(self._pool)
        if script:
            ps.add_script(command)
        else:
            ps.add_cmdlet(command)
        for name, value in parameters.items():
            ps.add_parameter(name, value)
        output = ps.invoke()
        result = InvokeResult(output=list(output))
        errors = [error_from_pypsrp(e) for e in ps.streams.error]
        result.warnings = [str(getattr(w, "message", w)) for w in ps.streams.warning]
        result.information = [information_from(r) for r in getattr(ps.streams, "information", [])]
        if ps.state in (PSInvocationState.FAILED, PSInvocationState.STOPPED):
            # pypsrp appends the pipeline's terminating error to the error stream last.
            result.failed = errors.pop() if errors else ErrorInfo("the pipeline failed")
        result.errors = errors
        with contextlib.suppress(Exception):
            ps.close()
        return result

    async def invoke(self, command: str, parameters: dict[str, Any], *, script: bool = False) -> InvokeResult:
        if not self.alive:
            raise RunspaceDied(self._dead or "the WinRM runspace is not open")
        try:
            result: InvokeResult = await self._run(self._invoke_sync, command, parameters, script)
        except Exception as exc:
            self._dead = _describe(exc, self.settings)
            raise RunspaceDied(self._dead) from None
        return result

    def _close_sync(self) -> None:
        with contextlib.suppress(Exception):
            if self._pool is not None:
                self._pool.close()
        with contextlib.suppress(Exception):
            if self._wsman is not None:
                self._wsman.close()

    async def close(self) -> None:
        if self._pool is not None or self._wsman is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._run(self._close_sync), 10)
        self._dead = self._dead or "the runspace was closed"
        self._thread.shutdown(wait=False)


def _describe(exc: BaseException, settings: WinRMSettings) -> str:
    text = str(exc).strip()
    if settings.password:
        text = text.replace(settings.password, "***")
    where = f"WinRM {settings.host}"
    return f"{where}: {type(exc).__name__}: {text}" if text else f"{where}: {type(exc).__name__}"
