#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+.

    python3 dev.py demo    # set up .venv, then run a demo session end to end
    python3 dev.py test    # set up .venv, then ruff, mypy, the import contracts and the test suite

Set-up creates ``.venv`` and installs msp, every built-in integration (each its own small
distribution under ``integrations/``) and the dev tools. It is skipped
when nothing it depends on changed since the last run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def _packages() -> list[Path]:
    """msp first, then every built-in integration distribution in the tree. (The example
    packages under examples/ are installed by the test suite itself, as a user would.)"""
    return [ROOT, *sorted(p.parent for p in (ROOT / "integrations").glob("*/pyproject.toml"))]


def _fingerprint(packages: list[Path]) -> str:
    digest = hashlib.sha256(sys.version.encode())
    for package in packages:
        digest.update(str(package.relative_to(ROOT)).encode())
        digest.update((package / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file is run by whatever python3 is
        sys.exit(f"msp needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    packages = _packages()
    stamp = VENV / ".msp-setup"
    fingerprint = _fingerprint(packages)
    if stamp.exists() and stamp.read_text() == fingerprint and PY.exists():
        return
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing msp, its integrations and dev tools ...", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    args: list[str] = ["-e", f"{ROOT}[dev]"]
    for package in packages[1:]:
        args += ["-e", str(package)]
    subprocess.run([*pip, *args], check=True)
    stamp.write_text(fingerprint)


def run(*cmd: str) -> int:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def test(extra: list[str]) -> int:
    for step in (
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "mypy"), "msp", "integrations", "benchmarks", "dev.py", "scripts"],
        # The architecture contracts in pyproject.toml ([tool.importlinter]).
        [str(BIN / "lint-imports"), "--no-cache"],
    ):
        code = run(*step)
        if code:
            return code
    return run(str(PY), "-m", "pytest", *extra)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test", "setup"):
        print(__doc__)
        return 2
    setup()
    if sys.argv[1] == "demo":
        return run(str(PY), str(ROOT / "scripts" / "demo.py"), *sys.argv[2:])
    if sys.argv[1] == "test":
        return test(sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
