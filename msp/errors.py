"""The one exception tree users and integration authors see.

Every error names what was wrong and what to do about it (``hint``), and carries a stable
``code`` that the CLI's ``--json`` output and the MCP server hand back to callers.
"""

from __future__ import annotations

from typing import Any


class MspError(Exception):
    """Base of every error msp raises on purpose."""

    code = "MSP_ERROR"
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: Structured data for --json callers (e.g. the doctor's full report).
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.details is not None:
            out["details"] = self.details
        return out


class InvalidInput(MspError):
    code = "INVALID_PARAMETERS"
    exit_code = 2


class SessionNotFound(MspError):
    code = "SESSION_NOT_FOUND"


class SessionNotActive(MspError):
    code = "SESSION_NOT_ACTIVE"


class SessionAlreadyActive(MspError):
    code = "SESSION_ALREADY_ACTIVE"


class BlockerNotFound(MspError):
    code = "BLOCKER_NOT_FOUND"


class AmbiguousBlocker(MspError):
    code = "BLOCKER_AMBIGUOUS"


class ConfigError(MspError):
    code = "CONFIG_INVALID"


class StoreError(MspError):
    code = "STORE_ERROR"


class ProjectNotFound(MspError):
    code = "PROJECT_NOT_FOUND"


class PluginError(MspError):
    code = "PLUGIN_ERROR"


class ActionNotFound(MspError):
    code = "ACTION_NOT_FOUND"
