"""`msp install` puts an integration into msp's own environment, as `llm install` does."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

from msp._cli.plugins import _install_spec

REPO = Path(__file__).resolve().parent.parent


def _fresh_env(tmp_path: Path) -> Path:
    """A new, empty environment that sees msp and pip through a .pth file: what `msp install`
    writes lands in this environment's site-packages, never in the test suite's own."""
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # addsitedir, not a plain path line: the suite's editable installs are .pth files themselves.
    lines = [f"import site; site.addsitedir({d!r})" for d in site.getsitepackages()]
    Path(purelib, "suite.pth").write_text("\n".join(lines) + "\n")
    return env


def test_msp_install_a_folder_lands_in_msps_own_environment(tmp_path: Path) -> None:
    env = _fresh_env(tmp_path)
    python = str(env / "bin" / "python")
    # The build backend is already here; without this pip would fetch it from the index.
    run_env = {**os.environ, "PIP_NO_BUILD_ISOLATION": "0"}
    done = subprocess.run([python, "-m", "msp", "install", str(REPO / "examples" / "msp-todotxt"), "--json"],
                          capture_output=True, text=True, env=run_env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    found = subprocess.run(
        [python, "-c", "from importlib.metadata import distribution, entry_points;"
         "print(distribution('msp-todotxt').locate_file(''));"
         "print([e.value for e in entry_points(group='msp.integrations') if e.name == 'todotxt'])"],
        capture_output=True, text=True, timeout=60,
    )
    location, eps = found.stdout.splitlines()
    assert Path(location).resolve().is_relative_to(env.resolve())
    assert eps == "['msp_todotxt']"
    # The suite's own environment did not get it.
    mine = subprocess.run([sys.executable, "-c", "import importlib.util;"
                           "print(importlib.util.find_spec('msp_todotxt') is None)"],
                          capture_output=True, text=True)
    assert mine.stdout.strip() == "True"


def test_a_failed_install_says_what_and_exits_non_zero(tmp_path: Path) -> None:
    env = _fresh_env(tmp_path)
    missing = tmp_path / "no-such-wheel-1.0-py3-none-any.whl"
    done = subprocess.run([str(env / "bin" / "python"), "-m", "msp", "install", str(missing) + ".zip"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode != 0
    assert "pip could not install" in done.stderr and "hint:" in done.stderr


def test_built_in_names_resolve_to_their_folders_in_a_checkout() -> None:
    assert _install_spec("neo4j") == str(REPO / "integrations" / "neo4j")
    assert _install_spec("msp-obsidian") == str(REPO / "integrations" / "obsidian")
    assert _install_spec("some-other-package") == "some-other-package"
    assert _install_spec(str(REPO / "examples" / "msp-todotxt")) == str(REPO / "examples" / "msp-todotxt")
