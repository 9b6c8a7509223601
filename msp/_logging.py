"""Logging: readable warnings on stderr, JSON lines under ``.msp/logs/``, secrets redacted.

Redaction has two parts. Patterns catch what looks like a credential (``token=...``, ``Bearer
...``, ``user:password@``). And the values themselves: every secret an executor resolved in this
process is remembered (:func:`remember_secret`), and any run of ``FRAGMENT`` or more of its
characters is masked wherever it appears, so a server echoing a token, whole or cut short in an
excerpt, never gets it into a log line, the store or the screen.

structlog is imported only when something is actually logged, so a quiet command pays nothing
for it.

The log file ``msp.jsonl`` is capped: a line that would take it past ``MAX_BYTES`` first moves
it to ``msp.jsonl.1`` (``.1`` to ``.2``, and so on; the oldest beyond ``BACKUPS`` is dropped). Any
number of msp processes write it at once (CLI commands, the background drain, the MCP server),
so every line is written under a cross-process lock (``filelock`` on ``msp.jsonl.lock``): check
the size, rotate if needed, append the whole line in one ``write``, close. Holding no file open
between lines is what makes this safe: a process never keeps appending to a file another one
has already rotated away (the flaw of the standard library's ``RotatingFileHandler`` with
several processes), and on Windows nobody holds the file open while it is renamed. The cost,
an open and a lock per line, is small next to what gets logged (warnings, and at ``info`` one
line per delivered action).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, MutableMapping
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
#: The log file's cap, and how many rotated files are kept: at most 4 x 5 MiB of log per project.
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3
#: The longest wait for another process's log write before this line is given up on.
_LOCK_WAIT_S = 10.0


#: A run this long of a known secret's characters is masked. Shorter runs are too common in
#: ordinary text (a word, a number) to be told apart from it.
FRAGMENT = 8
#: At most this many secret values are remembered per process (the newest are kept).
_MAX_KNOWN = 512
_known: dict[str, bool] = {}
_known_lock = threading.Lock()


def remember_secret(value: str, *, fragments: bool = True) -> None:
    """Mask ``value`` from now on in everything redacted by this process. ``fragments=False``
    masks only the whole value (a secret URL, whose scheme and host are not secret and would
    otherwise mask every URL of that service)."""
    if not value or len(value) < 4:
        return
    with _known_lock:
        _known[value] = _known.get(value, False) or fragments
        while len(_known) > _MAX_KNOWN:
            del _known[next(iter(_known))]


def mask_secrets(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret value (``extra`` too), and any run of ``FRAGMENT`` or
    more characters of one, replaced by ``***``."""
    with _known_lock:
        known = dict(_known)
    for value in extra:
        if value and len(value) >= 4:
            known[value] = known.get(value, False) or "://" not in value
    if not known or not text:
        return text
    for value in sorted(known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    grams = {v[i : i + FRAGMENT] for v, frag in known.items() if frag for i in range(len(v) - FRAGMENT + 1)}
    if not grams or len(text) < FRAGMENT:
        return text
    hidden = bytearray(len(text))
    found = False
    for i in range(len(text) - FRAGMENT + 1):
        if text[i : i + FRAGMENT] in grams:
            hidden[i : i + FRAGMENT] = b"\x01" * FRAGMENT
            found = True
    if not found:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if hidden[i]:
            while i < len(text) and hidden[i]:
                i += 1
            out.append(REDACTED)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def redact(value: Any, key: str | None = None) -> Any:
    """Mask any value under a secret-looking key, recursively; scrub credentials in text."""
    if key is not None and SECRET_KEY.search(key) and not key.endswith(("_env", "_keyring")):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        value = mask_secrets(value)
        value = _SECRET_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        value = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}@", value)
        return _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, value)
    return value


def _redact_processor(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: redact(v, k) for k, v in event_dict.items()}


class RotatingFile:
    """Appends whole lines to a size-capped file shared by several processes (see the module
    docstring). Used as structlog's logger: every level method writes the rendered line."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        from filelock import FileLock

        self.path = path
        self.max_bytes = max(1024, max_bytes)
        self.backups = max(0, backups)
        self._threads = threading.Lock()
        self._lock = FileLock(path.with_name(path.name + ".lock"), thread_local=False)
        #: What went wrong writing the file, said once on stderr (None while all is well).
        self.write_error: str | None = None

    def msg(self, message: str) -> None:
        data = self._fit(message).encode("utf-8") + b"\n"
        from filelock import Timeout

        try:
            with self._threads, self._lock.acquire(timeout=_LOCK_WAIT_S):
                self._rotate_for(len(data))
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    view = memoryview(data)
                    while view:  # a regular file takes it in one write; loop in case it does not
                        view = view[os.write(fd, view):]
                finally:
                    os.close(fd)
        except (OSError, Timeout) as exc:
            if self.write_error is None:  # logging never stops a command; say so once
                self.write_error = cannot_write(self.path, exc)
                _stderr(f"warning: {self.write_error}")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg

    def _rotate_for(self, incoming: int) -> None:
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        if self.backups == 0:
            os.unlink(self.path)
            return
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def _fit(self, line: str) -> str:
        """A line longer than the cap would overflow any file: keep its head, and say so."""
        if len(line.encode("utf-8")) < self.max_bytes:
            return line
        try:
            record = json.loads(line)
        except ValueError:
            record = {"event": line}
        keep = self.max_bytes // 8  # fits even if every character becomes a \uXXXX escape
        short = {k: record[k] for k in ("level", "timestamp") if k in record}
        short["event"] = str(record.get("event", ""))[:keep]
        short["truncated_bytes"] = len(line.encode("utf-8"))
        return json.dumps(short, sort_keys=True, default=str)


class Log:
    """The process's logger; configured on first use."""

    def __init__(self, logs_dir: Path | None = None, level: str = "warning", *,
                 max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        self.logs_dir = logs_dir
        self.level = _LEVELS.get(level, 30)
        self.max_bytes = max_bytes
        self.backups = backups
        self._logger: Any = None
        self._file: RotatingFile | None = None
        self._failure: str | None = None

    @property
    def failures(self) -> list[str]:
        """Why log lines could not be written (each said once on stderr already)."""
        found = [self._failure] if self._failure else []
        if self._file is not None and self._file.write_error:
            found.append(self._file.write_error)
        return found

    def _get(self) -> Any:
        if self._logger is None:
            import structlog

            assert self.logs_dir is not None
            try:
                self.logs_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                # Logging never stops a command: say so once, and log nowhere from now on.
                self._failure = cannot_write(self.logs_dir, exc)
                _stderr(f"warning: {self._failure}")
                self.logs_dir = None
                return None
            self._file = RotatingFile(self.logs_dir / "msp.jsonl", self.max_bytes, self.backups)
            self._logger = structlog.wrap_logger(
                self._file,
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
            logger = self._get()
            if logger is not None:
                getattr(logger, level)(event, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        """Tell the user on stderr, readably (control characters escaped), and keep it in the log."""
        clean = redact(message)
        _stderr(f"warning: {clean}")
        self.log("warning", clean, **fields)

    def close(self) -> None:
        """Nothing stays open between lines; kept so callers can say they are done."""
        self._logger = None
        self._file = None


def cannot_write(path: Path, exc: BaseException) -> str:
    """Why ``path`` cannot be written, and what to do about it."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = f"cannot write the log at {path}: {reason}"
    owner = _owner_of(path)
    if owner is not None:
        text += f" (it belongs to {owner}; run msp as {owner}, or make it yours with `chown`)"
    return text + "; commands still record, without a log"


def _owner_of(path: Path) -> str | None:
    """The user owning ``path`` (or its nearest existing folder) when that is not us."""
    if not hasattr(os, "geteuid"):
        return None
    for candidate in (path, *path.parents):
        try:
            uid = candidate.stat().st_uid
        except OSError:
            continue
        if uid == os.geteuid():
            return None
        try:
            import pwd

            return pwd.getpwuid(uid).pw_name
        except (ImportError, KeyError):
            return f"user id {uid}"
    return None


def _as_is(text: str) -> str:
    return text


#: How a line is made fit for the terminal before it goes to stderr. The application layer,
#: which decides what reaches a screen, installs its escaping here (:func:`show_through`); this
#: module sits below it and cannot import it.
_screen: Callable[[str], str] = _as_is


def show_through(screen: Callable[[str], str]) -> None:
    """Pass every line this module prints on stderr through ``screen`` first."""
    global _screen
    _screen = screen


def _stderr(line: str) -> None:
    """One line on stderr, made fit for a terminal; a closed stderr is not an error."""
    with contextlib.suppress(OSError, ValueError):
        print(_screen(line), file=sys.stderr)


_current = Log()


def configure(logs_dir: Path | None, level: str) -> Log:
    global _current
    _current.close()
    _current = Log(logs_dir, level)
    return _current


def get_log() -> Log:
    return _current
