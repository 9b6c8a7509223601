"""The external example package (examples/msp-todotxt), installed like any third-party
integration, driven end to end: entry-point discovery, planning, the outbox, the file executor."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest


def test_the_example_is_installed_and_discovered_through_its_entry_point() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="msp.integrations")}
    if "todotxt" not in found:
        pytest.fail("examples/msp-todotxt is not installed: `python3 dev.py test` installs it")
    assert found["todotxt"] == "msp_todotxt"


def test_a_session_lands_in_todo_txt(project_dir: Path, msp_cli: Any) -> None:
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
