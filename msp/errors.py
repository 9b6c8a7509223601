"""The one exception tree users and integration authors see.

Every error names what was wrong and what to do about it (``hint``), and carries a stable
``code`` that the CLI's ``--json`` output and the MCP server hand back to callers, and an
``exit_code`` the CLI exits with. Catch :class:`MspError` to catch everything msp raises on
purpose; anything else reaching a user is a bug (the CLI reports it as ``INTERNAL``).

::

    MspError                      MSP_ERROR               base of the tree
    ├── InvalidInput              INVALID_PARAMETERS      bad input: a progress of 140, an empty text (exit 2)
    ├── SessionNotFound           SESSION_NOT_FOUND       no session has that id or prefix
    ├── SessionNotActive          SESSION_NOT_ACTIVE      the command needs an active session
    ├── SessionAlreadyActive      SESSION_ALREADY_ACTIVE  one session is active at a time
    ├── BlockerNotFound           BLOCKER_NOT_FOUND       no open blocker matches
    ├── AmbiguousBlocker          BLOCKER_AMBIGUOUS       more than one open blocker matches
    ├── ItemNotFound              ITEM_NOT_FOUND          no decision, entity or blocker has that id
    ├── ConfigError               CONFIG_INVALID          a config key is wrong; the message names it
    ├── ProjectNotFound           PROJECT_NOT_FOUND       no ``.msp/`` here or above
    ├── PluginError               PLUGIN_ERROR            an integration cannot be loaded or run
    ├── ActionNotFound            ACTION_NOT_FOUND        no queued action has that id
    ├── MissingCredential         CREDENTIAL_MISSING      a named secret is not available now
    ├── DispatchBusy              DISPATCH_BUSY           another drain holds the project's lock
    └── StoreError                STORE_ERROR             the store cannot be read or written
        └── StoreBusy             STORE_BUSY              the store stayed locked past the deadline

Integrations may subclass :class:`MspError` (or a more specific class) for their own errors;
give the subclass a ``code`` of its own.
"""

# Only the classes below are public names here (no __future__ import, typing under a private
# name): tests/test_public_api.py checks the namespace against __all__.
import typing as _typing

__all__ = [
    "ActionNotFound",
    "AmbiguousBlocker",
    "BlockerNotFound",
    "ConfigError",
    "DispatchBusy",
    "InvalidInput",
    "ItemNotFound",
    "MissingCredential",
    "MspError",
    "PluginError",
    "ProjectNotFound",
    "SessionAlreadyActive",
    "SessionNotActive",
    "SessionNotFound",
    "StoreBusy",
    "StoreError",
]


class MspError(Exception):
    """Base of every error msp raises on purpose."""

    code = "MSP_ERROR"
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, details: _typing.Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: Structured data for --json callers (e.g. the doctor's full report).
        self.details = details

    def to_dict(self) -> dict[str, _typing.Any]:
        out: dict[str, _typing.Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.details is not None:
            out["details"] = self.details
        return out


class InvalidInput(MspError):
    """Input that fails validation; the message says which field and why."""

    code = "INVALID_PARAMETERS"
    exit_code = 2


class SessionNotFound(MspError):
    """No session has the given id or unique id prefix."""

    code = "SESSION_NOT_FOUND"


class SessionNotActive(MspError):
    """The command records into the active session, and none is active."""

    code = "SESSION_NOT_ACTIVE"


class SessionAlreadyActive(MspError):
    """A session is already active; end or recover it first."""

    code = "SESSION_ALREADY_ACTIVE"


class BlockerNotFound(MspError):
    """No open blocker matches the id, prefix or text given."""

    code = "BLOCKER_NOT_FOUND"


class ItemNotFound(MspError):
    """No decision, entity or blocker of the project has the id (or id part) given."""

    code = "ITEM_NOT_FOUND"


class AmbiguousBlocker(MspError):
    """More than one open blocker matches; the message lists them."""

    code = "BLOCKER_AMBIGUOUS"


class ConfigError(MspError):
    """The configuration is wrong: the message names the key and the file."""

    code = "CONFIG_INVALID"


class StoreError(MspError):
    """The store cannot be opened, read or written."""

    code = "STORE_ERROR"


class StoreBusy(StoreError):
    """Other writers held the store's lock for longer than the deadline."""

    code = "STORE_BUSY"


class ProjectNotFound(MspError):
    """No ``.msp/`` folder in this directory or any above it."""

    code = "PROJECT_NOT_FOUND"


class PluginError(MspError):
    """An integration cannot be loaded, configured or called."""

    code = "PLUGIN_ERROR"


class ActionNotFound(MspError):
    """No action in the outbox has the given id."""

    code = "ACTION_NOT_FOUND"


class MissingCredential(MspError):
    """A named secret is not available now. Actions needing it wait; they are not dead."""

    code = "CREDENTIAL_MISSING"


class DispatchBusy(MspError):
    """Another process is draining this project's outbox right now."""

    code = "DISPATCH_BUSY"
