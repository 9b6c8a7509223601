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

COMMAND_NOT_FOUND_IDS = ("CommandNotFoundException",)


class RunspaceDied(Exception):
    """The PowerShell process or connection went away; a new runspace is needed."""


@dataclass
class ErrorInfo:
    message: str
    error_id: str = ""
    reason: str = ""
    exception_type: str = ""

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
    return ErrorInfo(
        message=message or "unknown error",
        error_id=_first(getattr(record, "FullyQualifiedErrorId", None)),
        reason=_first(getattr(category, "Reason", None)),
        exception_type=types[0] if types else "",
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
    return ErrorInfo(
        message=_first(message, getattr(record, "message", None), str(record)) or "unknown error",
        error_id=_first(getattr(record, "fq_error", None)),
        reason=_first(getattr(record, "reason", None)),
        exception_type=types[0] if types else "",
    )
