"""One drain at a time per store: an advisory lock on ``.msp/dispatch.lock`` (``filelock``).

The operating system drops the lock when its process dies, even under SIGKILL, so a crashed
drain never blocks the next one; and whoever holds it knows that any lease it finds in the
outbox belongs to a drain that is gone.

The holder's process id goes to ``dispatch.lock.pid`` beside it, for messages only: the lock
file itself is opened (and, by some filelock versions, truncated) by every process that tries
it, so it cannot carry what the holder wrote.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filelock import BaseFileLock


class DrainLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid_path = path.with_name(path.name + ".pid")
        self._lock: BaseFileLock | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None and self._lock.is_locked

    def try_acquire(self) -> bool:
        """One attempt, never waiting. Holding it already counts as success (not re-entered)."""
        return self._take(0.0)

    def acquire(self, timeout_s: float | None) -> bool:
        """Wait for the lock, up to ``timeout_s`` (None: as long as it takes)."""
        return self._take(timeout_s)

    def _take(self, timeout_s: float | None) -> bool:
        if self.held:
            return True
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            # Not thread-local: a drain may let go of it on another thread than the one that took it.
            self._lock = FileLock(self.path, thread_local=False)
        try:
            if timeout_s is not None and timeout_s <= 0:
                self._lock.acquire(blocking=False)
            else:
                self._lock.acquire(timeout=-1 if timeout_s is None else timeout_s, poll_interval=0.05)
        except Timeout:
            return False
        with contextlib.suppress(OSError):  # only ever used in messages
            self.pid_path.write_text(f"{os.getpid()}\n", encoding="utf-8")
        return True

    def release(self) -> None:
        if not self.held:
            return
        assert self._lock is not None
        with contextlib.suppress(OSError):
            self.pid_path.unlink()
        self._lock.release(force=True)

    def holder(self) -> str | None:
        """The process id written by the current holder, for messages."""
        try:
            text = self.pid_path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text or None
