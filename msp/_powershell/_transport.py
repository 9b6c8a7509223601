"""What the executor needs from a runspace, whatever carries it (local pwsh or WinRM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

#: The one script text the bridge ever sends: it loads a module from source text passed as a
#: *parameter* (used where the module file is not on the PowerShell host, i.e. over WinRM).
#: No user text is ever part of it.
LOAD_MODULE_SCRIPT = (
    "param([string]$Name, [string]$Source) "
    "New-Module -Name $Name -ScriptBlock ([scriptblock]::Create($Source)) | Import-Module -Global"
)

#: The host functions msp's runspace defines before a module is imported: what integration
#: scripts call (``Get-MSPConfig``, ``Write-MSPLog``, ``Add-MSPRetryQueue``). Fixed text: the
#: integration's name, its extra config key and its config table arrive as *parameters*. Logs
#: and retry requests travel on the information stream (tags ``msp:log``/``msp:retry``), which
#: both transports return beside the output. It ends by emitting the PowerShell edition and
#: version, which the bridge reports and checks against the module's syntax.
HOST_FUNCTIONS_SCRIPT = """\
param([string]$Integration, [string]$ConfigKey, [hashtable]$Config)
$view = [ordered]@{}
$view[$Integration] = $Config
if ($ConfigKey) { $view[$ConfigKey] = $Config }
$global:MSPHostConfigView = [pscustomobject]$view
function global:Get-MSPConfig {
    $global:MSPHostConfigView
}
function global:Write-MSPLog {
    param(
        [Parameter(Position = 0)][string]$Message,
        [Parameter(Position = 1)][string]$Level = 'Info',
        [Parameter(ValueFromRemainingArguments = $true)]$Rest
    )
    Write-Information -MessageData $Message -Tags @('msp:log', "level:$Level") -InformationAction Continue
}
function global:Add-MSPRetryQueue {
    param(
        [Parameter(Position = 0)][string]$Integration,
        [Parameter(Position = 1)][string]$Action,
        [Parameter(Position = 2)]$Data,
        [Parameter(ValueFromRemainingArguments = $true)]$Rest
    )
    Write-Information -MessageData $Action -Tags @('msp:retry') -InformationAction Continue
}
$PSVersionTable.PSEdition
$PSVersionTable.PSVersion.ToString()
"""

COMMAND_NOT_FOUND_IDS = ("CommandNotFoundException",)


class RunspaceDied(Exception):
    """The PowerShell process or connection went away; a new runspace is needed."""


@dataclass
class ErrorInfo:
    message: str
    error_id: str = ""
    reason: str = ""
    exception_type: str = ""
    target: str = ""  # for a command not found: the command's name

    @property
    def missing_command(self) -> str:
        """The name of the command that was not found ("" when this is another error)."""
        if not self.command_not_found:
            return ""
        if self.target:
            return self.target
        import re

        found = re.search(r"term '([^']+)' is not recognized", self.message)
        return found.group(1) if found else ""

    @property
    def command_not_found(self) -> bool:
        return any(
            marker in text
            for text in (self.error_id, self.reason, self.exception_type)
            for marker in COMMAND_NOT_FOUND_IDS
        )

    def __str__(self) -> str:
        return f"{self.message} ({self.error_id})" if self.error_id else self.message


@dataclass
class InvokeResult:
    """What one pipeline produced."""

    output: list[Any] = field(default_factory=list)
    errors: list[ErrorInfo] = field(default_factory=list)  # the error stream (non-terminating)
    warnings: list[str] = field(default_factory=list)
    failed: ErrorInfo | None = None  # a terminating error (pipeline state Failed)
    information: list[tuple[list[str], str]] = field(default_factory=list)  # (tags, message data)


class Runspace(Protocol):
    @property
    def alive(self) -> bool: ...

    async def open(self) -> None: ...

    async def invoke(self, command: str, parameters: dict[str, Any], *, script: bool = False) -> InvokeResult: ...

    async def close(self) -> None: ...


def _first(*values: Any) -> str:
    for value in values:
        if value:
            return str(value)
    return ""


def error_from_psrpcore(record: Any) -> ErrorInfo:
    """An ErrorRecord as psrpcore deserialises it."""
    exception = getattr(record, "Exception", None)
    message = _first(getattr(exception, "Message", None), str(record) if record is not None else "")
    category = getattr(record, "CategoryInfo", None)
    ps = getattr(exception, "PSObject", None)
    types = [t.removeprefix("Deserialized.") for t in (getattr(ps, "type_names", None) or [])]
    target = getattr(record, "TargetObject", None)
    return ErrorInfo(
        message=message or "unknown error",
        error_id=_first(getattr(record, "FullyQualifiedErrorId", None)),
        reason=_first(getattr(category, "Reason", None)),
        exception_type=types[0] if types else "",
        target=_first(target if isinstance(target, str) else None, getattr(category, "TargetName", None)),
    )


def error_from_pypsrp(record: Any) -> ErrorInfo:
    """An ErrorRecord as pypsrp 0.9 deserialises it."""
    exception = getattr(record, "exception", None)
    message = ""
    if exception is not None:
        props = {**getattr(exception, "adapted_properties", {}), **getattr(exception, "extended_properties", {})}
        message = _first(props.get("Message"), getattr(exception, "to_string", None))
        types = [t.removeprefix("Deserialized.") for t in getattr(exception, "types", [])]
    else:
        types = []
    target = getattr(record, "target_object", None)
    return ErrorInfo(
        message=_first(message, getattr(record, "message", None), str(record)) or "unknown error",
        error_id=_first(getattr(record, "fq_error", None)),
        reason=_first(getattr(record, "reason", None)),
        exception_type=types[0] if types else "",
        target=_first(target if isinstance(target, str) else None, getattr(record, "target_name", None)),
    )


def information_from(record: Any) -> tuple[list[str], str]:
    """(tags, message data as text) of an InformationRecord from either deserialiser."""
    tags = getattr(record, "Tags", None)
    if tags is None:
        tags = getattr(record, "tags", None)
    data = getattr(record, "MessageData", None)
    if data is None:
        data = getattr(record, "message_data", None)
    return [str(t) for t in (tags or [])], "" if data is None else str(data)
