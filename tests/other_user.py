"""Running msp as another user, for checks about files that user does not own.

Tests run as root here, and root may write anything: a check that "a user who does not own the
store gets a clear error" proves nothing unless the command really runs as someone else. These
helpers run the real ``msp`` as ``nobody`` (through ``setpriv``) in a folder every user can
reach (pytest's own tmp folders are root-only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MSP_BIN, CliResult

NOBODY = 65534


def needs_root_and_setpriv() -> None:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run msp as another user")


def reachable_folder() -> Iterator[Path]:
    """A fresh 0755 folder under /tmp (removed afterwards), for a fixture to yield."""
    needs_root_and_setpriv()
    base = Path(tempfile.mkdtemp(prefix="msp-other-user-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def msp_as_nobody(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", MSP_BIN, *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "HOME": str(cwd), **(env or {})},
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def give_to_nobody(path: Path) -> None:
    for folder, _, files in os.walk(path):
        os.chown(folder, NOBODY, NOBODY)
        for name in files:
            os.chown(os.path.join(folder, name), NOBODY, NOBODY)
