"""Logging: readable warnings on stderr, JSON lines under ``.msp/logs/``, secrets redacted.

structlog is imported only when something is actually logged, so a quiet command pays nothing
for it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

# "key" but not the outbox's idempotency_key, which is an identifier, not a credential.
SECRET_KEY = re.compile(r"(token|(?<!idempotency_)key|passw(or)?d|secret|authori[sz]ation|credential|cookie)", re.I)
_SECRET_VALUE = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
# `password=hunter2`, `"api_key": "abc"`, `?token=abc&`, `X-Api-Key: abc` inside free text (error
# messages, URLs). Names ending in _env/_keyring name a secret's place, not the secret: kept.
_SECRET_PAIR = re.compile(
    r"""(?i)\b((?:[\w.-]*[_.-])?(?:api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|token"""
    r"""|passw(?:or)?d|passwd|secret|authori[sz]ation|credentials?|cookie)["']?\s*[=:]\s*)"""
    r"""("[^"]*"|'[^']*'|[^\s,;&"'}\]]+)"""
)
# user:password@ in a URL.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@")
REDACTED = "***"
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def redact(value: Any, key: str | None = None) -> Any:
    """Mask any value under a secret-looking key, recursively; scrub credentials in text."""
    if key is not None and SECRET_KEY.search(key) and not key.endswith(("_env", "_keyring")):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        value = _SECRET_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        value = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}@", value)
        return _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, value)
    return value


def _redact_processor(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: redact(v, k) for k, v in event_dict.items()}


class Log:
    """The process's logger; configured on first use."""

    def __init__(self, logs_dir: Path | None = None, level: str = "warning") -> None:
        self.logs_dir = logs_dir
        self.level = _LEVELS.get(level, 30)
        self._logger: Any = None
        self._file: Any = None

    def _get(self) -> Any:
        if self._logger is None:
            import structlog

            if self.logs_dir is not None:
                self.logs_dir.mkdir(parents=True, exist_ok=True)
                self._file = open(self.logs_dir / "msp.jsonl", "a", encoding="utf-8")  # noqa: SIM115
            self._logger = structlog.wrap_logger(
                structlog.WriteLogger(self._file or open("/dev/null", "w")),  # noqa: SIM115
                processors=[
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    _redact_processor,
                    structlog.processors.JSONRenderer(sort_keys=True, default=str),
                ],
            )
        return self._logger

    def log(self, level: str, event: str, **fields: Any) -> None:
        if _LEVELS[level] >= self.level and self.logs_dir is not None:
            getattr(self._get(), level)(event, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        """Tell the user on stderr, readably, and keep it in the log."""
        clean = redact(message)
        print(f"warning: {clean}", file=sys.stderr)
        self.log("warning", clean, **fields)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


_current = Log()


def configure(logs_dir: Path | None, level: str) -> Log:
    global _current
    _current.close()
    _current = Log(logs_dir, level)
    return _current


def get_log() -> Log:
    return _current
