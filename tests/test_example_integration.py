"""The external example package (examples/msp-todotxt), installed like any third-party
integration, driven end to end: entry-point discovery, planning, the outbox, the file executor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "msp-todotxt"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build and install the example from its source, as a user would, into a private folder."""
    target = tmp_path_factory.mktemp("example-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return target


def test_the_installed_example_is_discovered_through_its_entry_point(installed_example: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed_example)}
    probe = subprocess.run(
        [sys.executable, "-c", "import msp_todotxt; from importlib.metadata import entry_points;"
         "print(msp_todotxt.__file__);"
         "print([e.value for e in entry_points(group='msp.integrations') if e.name == 'todotxt'][0])"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    module_file, value = probe.stdout.split()
    assert Path(module_file).is_relative_to(installed_example), "the copy the test installed is the one loaded"
    assert value == "msp_todotxt"


def test_a_session_lands_in_todo_txt(project_dir: Path, msp_cli: Any, installed_example: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(installed_example))
    cfg = project_dir / ".msp" / "config.toml"
    cfg.write_text(cfg.read_text() + '\n[integrations.todotxt]\nroot = "todo"\ncontext = "work"\n')
    listed = msp_cli("integrations", "list", "--json").json()["integrations"]
    assert {r["name"]: r["state"] for r in listed}["todotxt"] == "enabled"

    assert msp_cli("start", "--goal", "Ship the retry worker").code == 0
    assert msp_cli("block", "Sandbox rejects\ntest cards", "--severity", "high").code == 0
    assert msp_cli("block", "Waiting on review", "--severity", "low").code == 0
    assert msp_cli("resolve", "Sandbox", "--solution", "enabled").code == 0
    assert msp_cli("end", "--summary", "done").code == 0
    sid = msp_cli("sessions", "--json").json()["sessions"][0]["id"]
    r = msp_cli("dispatch", "--json")
    assert r.code == 0, r.out + r.err

    lines = (project_dir / "todo" / f"{sid}.todo.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("x ") and "Ship the retry worker +proj @work" in lines[0]
    assert lines[1].startswith("x ") and "Sandbox rejects test cards +proj @work blocker:b-" in lines[1]
    assert lines[2].startswith("(C) ") and "Waiting on review" in lines[2]
    queue = msp_cli("queue", "list", "--all", "--json")
    assert queue.code == 0, queue.err
