"""The obsidian integration through the real ``msp`` command line: record, ``msp dispatch``, look."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msp_obsidian
from obsidian_vault import frontmatter, notes, unresolved_links


def enable(project_dir: Path, extra: str = "") -> Path:
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + f'\n[integrations.obsidian]\nvault = "vault"\n{extra}', encoding="utf-8")
    vault = project_dir / "vault"
    vault.mkdir()
    return vault


def test_a_session_through_the_cli_lands_in_the_vault(msp_cli: Any, project_dir: Path) -> None:
    vault = enable(project_dir)
    for args in (
        ("start", "--goal", "Retry failed payments", "--progress", "10"),
        ("update", "Mapped the flow of [[payments]]", "30", "--tag", "research"),
        ("decide", "Use an outbox table", "--rationale", "No lost charges", "--alternative", "In memory"),
        ("entity", "../../etc/passwd", "--type", "module"),
        ("end", "--summary", "Done for today"),
    ):
        r = msp_cli(*args)
        assert r.code == 0, r.err
    assert notes(vault) == {}  # manual dispatch: nothing written yet
    r = msp_cli("dispatch", "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["dead"] == 0 and report["done"] > 0, report
    written = notes(vault)
    assert len(written) == 5
    assert unresolved_links(vault) == []
    session = next(text for path, text in written.items() if "/sessions/" in path)
    fm = frontmatter(session)
    assert (fm["progress_start"], fm["progress_end"], fm["status"]) == (10, 30, "closed")
    assert all((vault / p).resolve().is_relative_to(vault.resolve()) for p in written)
    assert not (project_dir.parent / "etc").exists()
    assert "(5 notes)" in msp_obsidian.demo_summary(vault)


def test_config_validate_names_a_folder_outside_the_vault(msp_cli: Any, project_dir: Path) -> None:
    enable(project_dir, 'adr_folder = "../../outside"\n')
    r = msp_cli("config", "validate")
    assert r.code != 0
    assert "adr_folder" in r.err and "'../../outside'" in r.err and "'..'" in r.err
    assert "Traceback" not in r.err


def test_detected_items_are_marked_and_a_retracted_one_struck_through(msp_cli: Any, project_dir: Path) -> None:
    vault = enable(project_dir)
    assert msp_cli("start", "--goal", "Retry failed payments").code == 0
    r = msp_cli("update", "Decided to use an outbox table. Blocked by the sandbox outage.", "--json")
    assert r.code == 0, r.err
    detected = {e["type"]: e["data"]["id"] for e in r.json()["detected"]}
    assert set(detected) == {"decision_recorded", "blocker_raised"}
    assert msp_cli("end", "--summary", "Done").code == 0
    took = msp_cli("retract", detected["blocker_raised"], "--reason", "sandbox was fine")
    assert took.code == 0, took.err
    assert msp_cli("dispatch", "--json").json()["dead"] == 0
    session = next(text for path, text in notes(vault).items() if "/sessions/" in path)
    assert "~~Blocked by the sandbox outage~~ · retracted: sandbox was fine" in session
    decisions = session.split("## Decisions", 1)[1].split("##", 1)[0]
    (decision_line,) = [line for line in decisions.splitlines() if line.startswith("- ")]
    assert "outbox" in decision_line and decision_line.endswith("· detected") and "~~" not in decision_line
    assert "Resolve: Blocked by the sandbox outage" not in session  # no longer a next step
