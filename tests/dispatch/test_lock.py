"""The one-drain lock across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from msp._dispatch.lock import DrainLock

HOLD = """
import sys, time
from pathlib import Path
from msp._dispatch.lock import DrainLock
lock = DrainLock(Path(sys.argv[1]))
print("took" if lock.try_acquire() else "busy", flush=True)
sys.stdin.readline()  # hold until told (or killed)
lock.release()
print("released", flush=True)
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "took"
    return proc


def test_another_process_cannot_take_it_and_the_holder_is_named(tmp_path: Path) -> None:
    path = tmp_path / ".msp" / "dispatch.lock"
    proc = _holder(path)
    try:
        mine = DrainLock(path)
        assert not mine.try_acquire()
        assert not mine.acquire(0.2)
        # trying did not wipe what the holder wrote
        assert mine.holder() == str(proc.pid)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
        assert mine.acquire(10)
        assert mine.holder() == str(os.getpid())
        mine.release()
        assert mine.holder() is None
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_holder_leaves_the_lock_free(tmp_path: Path) -> None:
    path = tmp_path / "dispatch.lock"
    proc = _holder(path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lock = DrainLock(path)
    assert lock.try_acquire()
    lock.release()


def test_taking_it_twice_is_not_re_entering_and_one_release_frees_it(tmp_path: Path) -> None:
    path = tmp_path / "dispatch.lock"
    lock = DrainLock(path)
    assert lock.try_acquire() and lock.try_acquire() and lock.held
    lock.release()
    assert not lock.held
    other = DrainLock(path)  # a second holder in this process conflicts like another process would
    assert other.try_acquire()
    assert not lock.try_acquire()
    other.release()
