"""One drain at a time per store: an advisory lock on ``.msp/dispatch.lock``.

The operating system drops the lock when its process dies, even under SIGKILL, so a crashed
drain never blocks the next one; and whoever holds it knows that any lease it finds in the
outbox belongs to a drain that is gone.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO


class DrainLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open while held
        if not _lock(handle):
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def acquire(self, timeout_s: float | None) -> bool:
        """Wait for the lock, up to ``timeout_s`` (None: as long as it takes)."""
        give_up = None if timeout_s is None else time.monotonic() + timeout_s
        delay = 0.02
        while not self.try_acquire():
            if give_up is not None and time.monotonic() >= give_up:
                return False
            time.sleep(delay if give_up is None else min(delay, max(0.0, give_up - time.monotonic())))
            delay = min(delay * 2, 0.25)
        return True

    def release(self) -> None:
        if self._file is None:
            return
        handle, self._file = self._file, None
        try:
            _unlock(handle)
        finally:
            handle.close()

    def holder(self) -> str | None:
        """The process id written by the current holder, for messages."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text or None


def _lock(handle: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
