"""`msp integrations new` makes a package that installs, is discovered, and passes its tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_scaffolded_package_installs_and_its_tests_pass(msp_cli: Any, tmp_path: Path) -> None:
    r = msp_cli("integrations", "new", "acme_tracker", "--dir", str(tmp_path / "pkg"))
    assert r.code == 0, r.err
    pkg = tmp_path / "pkg"
    assert (pkg / "pyproject.toml").exists() and (pkg / "msp_acme_tracker" / "__init__.py").exists()

    # Installable: a real wheel build + install into a private target folder.
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(pkg)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    found = subprocess.run(
        [sys.executable, "-c", "from importlib.metadata import entry_points;"
         "print([e.value for e in entry_points(group='msp.integrations') if e.name == 'acme_tracker'])"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert found.stdout.strip() == "['msp_acme_tracker']"

    # Its own tests pass straight away, against the installed copy, with msp's pytest plugin.
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(pkg / "tests")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout


def test_scaffold_refuses_a_bad_name_or_a_used_folder(msp_cli: Any, tmp_path: Path) -> None:
    r = msp_cli("integrations", "new", "../evil")
    assert r.code != 0 and "not a valid integration name" in r.err
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("mine")
    r = msp_cli("integrations", "new", "fine", "--dir", str(tmp_path / "used"))
    assert r.code != 0 and "not empty" in r.err
    assert (tmp_path / "used" / "x").read_text() == "mine"
