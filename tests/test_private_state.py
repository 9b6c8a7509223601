"""``.msp/`` is its owner's alone, and git ignores everything msp writes there but the config.

Tests run as root here, and root reads everything: the reader in these checks is another user
(``nobody``, through ``setpriv``), or the check would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from msp._config import init_project

NOBODY = 65534


def _as_nobody(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd],
        capture_output=True, text=True, timeout=30,
    )


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A project folder every user can reach (pytest's own tmp folders are root-only, which
    would make any "nobody cannot read it" check pass for the wrong reason)."""
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the reader as another user")
    base = Path(tempfile.mkdtemp(prefix="msp-private-", dir="/tmp"))
    base.chmod(0o755)
    root = base / "proj"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _session(msp_cli: Any, root: Path) -> None:
    for args in (["start", "--goal", "private"], ["update", "secretive work", "40"], ["end"]):
        r = msp_cli(*args, cwd=root)
        assert r.code == 0, r.err


def test_another_user_reads_nothing_in_msp_but_can_reach_the_project(msp_cli: Any, open_folder: Path) -> None:
    r = msp_cli("init", cwd=open_folder)
    assert r.code == 0, r.err
    (open_folder / ".msp" / "config.toml").write_text('[dispatch]\nmode = "manual"\n[logging]\nlevel = "info"\n')
    _session(msp_cli, open_folder)
    (open_folder / "README.txt").write_text("public\n")
    # The control: nobody can read an ordinary file of the project, so a refusal below is
    # the folder's mode at work and not an unreachable path.
    assert _as_nobody("cat", str(open_folder / "README.txt")).stdout == "public\n"
    msp_dir = open_folder / ".msp"
    written = [p for p in msp_dir.rglob("*") if p.is_file()]
    assert {"msp.db", "msp.jsonl"} <= {p.name for p in written}, written
    for path in [msp_dir, *written]:
        verb = ["ls", str(path)] if path.is_dir() else ["cat", str(path)]
        done = _as_nobody(*verb)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (path, done)
    assert msp_dir.stat().st_mode & 0o777 == 0o700


def test_a_folder_made_world_readable_is_tightened_on_the_next_command(msp_cli: Any, open_folder: Path) -> None:
    msp_dir, _ = init_project(open_folder)
    msp_dir.chmod(0o755)
    assert _as_nobody("ls", str(msp_dir)).returncode == 0  # readable before
    r = msp_cli("status", cwd=open_folder)
    assert r.code == 0, r.err
    assert msp_dir.stat().st_mode & 0o777 == 0o700
    assert _as_nobody("ls", str(msp_dir)).returncode != 0


def test_git_ignores_every_file_msp_writes_except_the_config(msp_cli: Any, tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("needs git")
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert msp_cli("init", cwd=root).code == 0
    (root / ".msp" / "config.toml").write_text(
        '[dispatch]\nmode = "manual"\n[logging]\nlevel = "info"\n')
    _session(msp_cli, root)
    assert msp_cli("dispatch", cwd=root).code == 0
    written = sorted(str(p.relative_to(root)) for p in (root / ".msp").rglob("*") if p.is_file())
    assert ".msp/msp.db" in written and any(w.startswith(".msp/logs/") for w in written), written
    assert any(w.startswith(".msp/cache/") for w in written), written
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.split("\n")
    shown = sorted(line[3:] for line in status if line)
    assert shown == [".msp/.gitignore", ".msp/config.toml"], shown
