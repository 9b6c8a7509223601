"""A config section for an integration nobody installed: the message names the package and the
command that installs it.

The environment is real: a virtual environment whose site-packages holds everything this one
does except msp-obsidian, so discovery runs through importlib.metadata as it does for a user
who never installed the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from msp._plugins.packages import BUILT_IN, install_hint, package_of


@pytest.fixture(scope="module")
def python_without_obsidian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with msp and every other package of this environment, but not msp-obsidian."""
    env = tmp_path_factory.mktemp("no-obsidian") / "venv"
    venv.create(env, with_pip=False, symlinks=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = env / ours.relative_to(Path(sys.prefix))
    theirs.mkdir(parents=True, exist_ok=True)
    for entry in ours.iterdir():
        if "obsidian" not in entry.name and not (theirs / entry.name).exists():
            (theirs / entry.name).symlink_to(entry)
    python = env / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                            "print(sorted(e.name for e in m.entry_points(group='msp.integrations')))"],
                           capture_output=True, text=True, check=True)
    assert "obsidian" not in probe.stdout and "neo4j" in probe.stdout, probe.stdout
    return python


def _msp(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "msp", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ}, timeout=60)


def test_a_built_in_that_is_not_installed_names_its_package_and_the_command(
        python_without_obsidian: Path, project_dir: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + '\n[integrations.obsidian]\nvault = "notes"\n', encoding="utf-8")

    started = _msp(python_without_obsidian, project_dir, "start", "--goal", "Map the flow")
    assert started.returncode == 0, started.stderr  # the moment is still recorded
    assert ("no installed integration provides 'obsidian': install it with `msp install obsidian` "
            "(the package msp-obsidian)") in started.stderr

    doctor = _msp(python_without_obsidian, project_dir, "integrations", "doctor", "obsidian", "--json")
    assert doctor.returncode != 0
    assert "msp install obsidian" in doctor.stdout and "msp-obsidian" in doctor.stdout


def test_an_unknown_integration_gets_the_generic_install_hint(python_without_obsidian: Path,
                                                             project_dir: Path) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + "\n[integrations.todotxt]\n", encoding="utf-8")
    listed = _msp(python_without_obsidian, project_dir, "integrations", "list")
    assert listed.returncode == 0, listed.stderr
    assert "no installed integration provides 'todotxt'" in listed.stdout
    assert "msp install PACKAGE" in listed.stdout
    assert "msp install todotxt" not in listed.stdout  # not ours: no package name is guessed


def test_every_built_in_name_maps_to_its_own_package() -> None:
    assert {package_of(name) for name in BUILT_IN} == {f"msp-{name}" for name in BUILT_IN}
    assert package_of("msp_neo4j") == "msp-neo4j"
    assert package_of("todotxt") is None
    assert "`msp install slack` (the package msp-slack)" in install_hint("slack")
