"""Fixtures shared by the whole suite: real temporary projects, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from msp._config import init_project
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore

MSP_BIN = str(Path(sys.executable).with_name("msp"))
REPO = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's own config or project."""
    monkeypatch.setenv("MSP_USER_CONFIG", str(tmp_path / "user-config.toml"))
    # The user's state folder (the embedded graph server's home) is the test's own.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "user-state"))
    monkeypatch.delenv("MSP_DIR", raising=False)
    monkeypatch.delenv("MSP_LOAD_PLUGINS", raising=False)
    for key in list(os.environ):
        if key.startswith("MSP_") and key not in ("MSP_USER_CONFIG",):
            monkeypatch.delenv(key, raising=False)
    # Secrets one test's drain resolved are masked process-wide from then on; not in the next test.
    import msp._logging

    monkeypatch.setattr(msp._logging, "_known", {})


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    init_project(root)
    # Tests don't need power-loss durability; crash safety is the same in WAL either way.
    (root / ".msp" / "config.toml").write_text('[store]\nsynchronous = "normal"\n[dispatch]\nmode = "manual"\n')
    return root


@pytest.fixture
def msp_cli(project_dir: Path) -> Any:
    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 60) -> CliResult:
        done = subprocess.run(
            [MSP_BIN, *args], cwd=cwd or project_dir, capture_output=True, text=True,
            env={**os.environ, **(env or {})}, input=input, timeout=timeout,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def store(project_dir: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(project_dir / ".msp" / "msp.db", synchronous="normal")
    yield s
    s.close()


@pytest.fixture
def manager(store: SqliteStore) -> SessionManager:
    return SessionManager(store, None, default_project="proj", source="api")
