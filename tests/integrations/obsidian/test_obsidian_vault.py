"""The obsidian integration end to end: sessions recorded through the session manager, planned by
the plugin loaded from its entry point, delivered by the real dispatcher and file executor onto a
real temporary vault."""

from __future__ import annotations

import asyncio
import os
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msp_obsidian
import pytest
from obsidian_vault import (
    START,
    action_rows,
    dispatch,
    frontmatter,
    links_from,
    make_project,
    notes,
    recorder,
    snapshot,
    unresolved_links,
)

from msp._executors import ExecutionContext
from msp._executors.file import FileExecutor
from msp.testing import SCRIPT

SESSION_DIR = "msp/sessions/demo-project/"


def _delivering(root: Path) -> int:
    """The actions to deliver: all but those a later write superseded."""
    return sum(r["status"] != "superseded" for r in action_rows(root))


def only(items: list[str]) -> str:
    assert len(items) == 1, items
    return items[0]


def test_a_scripted_session_becomes_a_linked_vault(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    with recorder(root) as rec:
        rec.run(SCRIPT)
        planned = len(rec.actions)
    report = dispatch(root)
    # Writes a later write overwrote before they were delivered are superseded, not sent.
    superseded = sum(r["status"] == "superseded" for r in action_rows(root))
    assert superseded > 0
    assert (report.done + superseded, report.dead, report.waiting, report.retried) == (planned, 0, 0, 0), report
    vault = root / "vault"
    all_notes = notes(vault)

    session = only([p for p in all_notes if p.startswith(SESSION_DIR)])
    adr = only([p for p in all_notes if p.startswith("msp/decisions/demo-project/")])
    entity = only([p for p in all_notes if p.startswith("msp/entities/demo-project/")])
    assert entity == "msp/entities/demo-project/RetryWorker.md"
    assert "msp/projects/demo-project.md" in all_notes
    assert "2026-01-05.md" in all_notes  # the daily note, default folder and format
    assert len(all_notes) == 5

    assert unresolved_links(vault) == []
    stem = {p: p.removesuffix(".md") for p in all_notes}
    # the web the graph view shows
    expected = {stem["msp/projects/demo-project.md"], "2026-01-05", stem[adr], stem[entity]}
    assert expected <= links_from(all_notes[session])
    assert {stem[session], stem["msp/projects/demo-project.md"]} <= links_from(all_notes[adr])
    assert stem[session] in links_from(all_notes[entity])
    assert {stem[session], stem[adr]} <= links_from(all_notes["msp/projects/demo-project.md"])
    assert stem[session] in links_from(all_notes["2026-01-05.md"])

    body = all_notes[session]
    for heading in ("## Updates", "## Decisions", "## Entities", "## Blockers", "## Next steps", "## Progress"):
        assert heading in body
    assert "```mermaid\nflowchart LR\n" in body
    assert '"09:00 · 10%"' in body and '"09:49 · 70%"' in body
    assert "Mapped the charge flow" in body and "Sandbox API rejects test cards" in body
    adr_text = all_notes[adr]
    for part in ("## Context", "## Decision", "## Rationale", "## Alternatives considered", "## Status",
                 "A crash must not lose a charge", "- Retry in memory", "- A message broker"):
        assert part in adr_text


def test_frontmatter_parses_as_yaml_with_the_expected_types(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    with recorder(root) as rec:
        rec.run(SCRIPT)
        session_id = rec.recorded[0].event.session_id
    dispatch(root)
    all_notes = notes(root / "vault")
    fm = frontmatter(all_notes[only([p for p in all_notes if p.startswith(SESSION_DIR)])])
    assert fm["type"] == "msp-session"
    assert fm["project"] == "demo-project"
    assert fm["session_id"] == session_id and isinstance(fm["session_id"], str)
    assert fm["status"] == "closed"
    assert isinstance(fm["start"], datetime) and fm["start"].utcoffset() == timedelta(0)
    assert fm["start"] == START
    assert fm["end"] == START + timedelta(minutes=49)
    assert fm["duration_minutes"] == 49
    assert (fm["progress_start"], fm["progress_end"]) == (10, 70)
    assert type(fm["progress_start"]) is int and type(fm["progress_end"]) is int
    assert fm["goal"] == "Ship the retry worker" and fm["issue"] == "ENG-123"
    assert fm["summary"] == "Retry worker behind a flag"
    assert fm["tags"] == ["msp", "msp/session", "research"]

    adr = frontmatter(all_notes[only([p for p in all_notes if p.startswith("msp/decisions/")])])
    assert adr["type"] == "msp-decision" and adr["status"] == "accepted" and adr["date"] == date(2026, 1, 5)
    assert adr["impact"] == "high" and adr["category"] == "architecture"
    assert isinstance(adr["decision_id"], str) and adr["session_id"] == session_id
    ent = frontmatter(all_notes["msp/entities/demo-project/RetryWorker.md"])
    assert (ent["type"], ent["name"], ent["entity_type"]) == ("msp-entity", "RetryWorker", "service")
    assert ent["path"] == "src/retry/worker.py"
    proj = frontmatter(all_notes["msp/projects/demo-project.md"])
    assert proj == {"type": "msp-project", "project": "demo-project", "tags": ["msp", "msp/project"]}


def test_an_active_session_has_no_end_yet(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    with recorder(root) as rec:
        rec.run(SCRIPT[:2])
    dispatch(root)
    all_notes = notes(root / "vault")
    fm = frontmatter(all_notes[only([p for p in all_notes if p.startswith(SESSION_DIR)])])
    assert fm["status"] == "active" and fm["end"] is None
    assert fm["duration_minutes"] == 7 and fm["progress_end"] == 20


def test_user_edits_outside_the_blocks_survive_every_later_write(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    vault = root / "vault"
    with recorder(root) as rec:
        rec.run(SCRIPT[:3])
        dispatch(root)
        all_notes = notes(vault)
        session = only([p for p in all_notes if p.startswith(SESSION_DIR)])
        edits = {
            session: ("rating: 5\n", "My own thoughts, above msp's block.\n\n", "\n## My notes\n- ask Bob\n"),
            "msp/projects/demo-project.md": ("owner: me\n", "", "\nProject notes by hand.\n"),
            "2026-01-05.md": (None, "# Monday\n\nStand-up at 10.\n\n", "\n## Journal\nGood day.\n"),
        }
        for path, (prop, before, after) in edits.items():
            note = vault / path
            text = note.read_text(encoding="utf-8")
            if prop:
                text = text.replace("---\n", "---\n" + prop, 1)
            block = text.index("%% msp:begin")
            note.write_text(text[:block] + before + text[block:] + after, encoding="utf-8")
        rec.run(SCRIPT[3:])
    report = dispatch(root)
    assert report.dead == 0 and report.waiting == 0
    final = notes(vault)
    for path, (prop, before, after) in edits.items():
        text = final[path]
        if prop:
            assert prop in text and frontmatter(text)[prop.split(":")[0]] is not None
        assert before in text and text.endswith(after)
    fm = frontmatter(final[session])
    assert fm["rating"] == 5 and fm["status"] == "closed" and fm["progress_end"] == 70
    assert "Retry worker behind a flag" in final[session]  # msp's block did move on
    assert "Stand-up at 10." in final["2026-01-05.md"] and "Retry worker behind a flag" in final["2026-01-05.md"]


def test_writing_the_same_state_again_gives_byte_identical_files(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    with recorder(root) as rec:
        rec.run(SCRIPT)
        actions = rec.actions
    dispatch(root)
    vault = root / "vault"
    first = snapshot(vault)
    proj = {**msp_obsidian.defaults, "vault": "vault"}
    ex = FileExecutor()
    ctx = ExecutionContext("obsidian", proj, root)
    # the whole session delivered again, in order, ends in exactly the same bytes
    outcomes = [asyncio.run(ex.execute(a, ctx)) for a in actions]
    assert all(o.status == "done" for o in outcomes)
    assert snapshot(vault) == first
    # and the final state written once more does not touch a single file
    mtimes = {p: os.stat(vault / p).st_mtime_ns for p in first}
    last_for: dict[tuple[str, str | None], Any] = {}
    for a in actions:
        last_for[(a.path, a.section)] = a
    for a in last_for.values():
        assert "unchanged" in asyncio.run(ex.execute(a, ctx)).summary
    assert {p: os.stat(vault / p).st_mtime_ns for p in first} == mtimes
    assert snapshot(vault) == first


def test_the_same_session_in_two_projects_gives_the_same_vault(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """No clock and no randomness in the notes: with the ids fixed, two runs match byte for byte."""
    import msp._session.manager as session_mod

    def fixed_ids() -> None:
        counter = iter(range(1000))
        monkeypatch.setattr(session_mod, "new_session_id", lambda at: "20260105-090000-fixed0")
        monkeypatch.setattr(session_mod, "short_item_id", lambda prefix: f"{prefix}-{next(counter):08d}")
        # an update's line carries its id (its event's)
        events = iter(range(1000))
        monkeypatch.setattr(session_mod, "new_event_id", lambda ms: f"01KE{next(events):022d}")

    vaults = []
    for name in ("a", "b"):
        fixed_ids()
        (tmp_path / name).mkdir()
        root = make_project(tmp_path / name)
        with recorder(root) as rec:
            rec.run(SCRIPT)
        dispatch(root)
        vaults.append(snapshot(root / "vault"))
    assert vaults[0] == vaults[1]
    assert len(vaults[0]) == 5


def test_two_sessions_share_project_daily_and_entity_notes(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    script_one: list[tuple[str, dict[str, Any]]] = [
        ("start", {"project": "demo-project", "goal": "First", "progress": 0}),
        ("entity", {"name": "RetryWorker", "type": "service"}),
        ("block", {"text": "Waiting for the sandbox account", "category": "external"}),
        ("end", {"summary": "Half way", "progress": 50}),
    ]
    script_two: list[tuple[str, dict[str, Any]]] = [
        ("start", {"project": "demo-project", "goal": "Second"}),
        ("resolve", {"blocker": "sandbox", "solution": "Account arrived"}),
        ("entity", {"name": "RetryWorker", "type": "service", "description": "Now with backoff"}),
        ("end", {"summary": "Done", "progress": 100}),
    ]
    with recorder(root) as rec:
        rec.run(script_one)
        rec.run(script_two)
        first_id = rec.recorded[0].event.session_id
        second_id = rec.recorded[-1].event.session_id
    report = dispatch(root)
    assert report.dead == 0
    vault = root / "vault"
    all_notes = notes(vault)
    assert unresolved_links(vault) == []
    sessions = [p for p in all_notes if p.startswith(SESSION_DIR)]
    assert len(sessions) == 2
    project = all_notes["msp/projects/demo-project.md"]
    assert project.count("%% msp:begin session:") == 2
    assert project.index(first_id) < project.index(second_id)
    daily = all_notes["2026-01-05.md"]
    assert daily.count("%% msp:begin session:") == 2
    assert daily.index(first_id) < daily.index(second_id)
    entity = all_notes["msp/entities/demo-project/RetryWorker.md"]
    assert entity.index(f"session:{first_id}") < entity.index(f"session:{second_id}")
    second = all_notes[only([p for p in sessions if second_id in p])]
    assert "Account arrived" in second and "raised in [[" in second
    first_note = only([p for p in sessions if first_id in p]).removesuffix(".md")
    assert first_note in links_from(second)
    assert frontmatter(second)["progress_start"] == 50


HOSTILE = [
    "../../x",
    "/etc/passwd",
    "CON",
    "con.txt",
    "LPT1",
    "a:b*c?",
    "a?b*c:",
    "a*b:c?",
    "x" * 300,
    "é" * 200,
    "👩‍👩‍👧‍👦 family " * 20,
    "rocket 🚀",
    "[[evil]] | #tag ^block",
    "%% msp:end msp-session %%",
    ".hidden",
    "..",
    "trailing dots...",
    "new\nline",
    "C:\\Windows\\system32",
    "Café",
    "Cafe\u0301",
]


def test_hostile_names_stay_inside_the_vault(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    before = snapshot(tmp_path)
    script: list[tuple[str, dict[str, Any]]] = [("start", {"project": "../../x", "goal": "[[not a link]]"})]
    script += [("entity", {"name": name, "description": name}) for name in HOSTILE]
    script += [("decide", {"text": "Use /etc/passwd and ../../ as a name?", "alternatives": ["[[x]]"]}),
               ("end", {"summary": "%% msp:begin frontmatter %%"})]
    with recorder(root) as rec:
        rec.run(script)
    report = dispatch(root)
    assert report.dead == 0 and report.waiting == 0, [r["last_error"] for r in action_rows(root) if r["last_error"]]
    vault = root / "vault"

    # nothing outside the vault changed except the project's own state
    after = snapshot(tmp_path)
    changed = {p for p in after if before.get(p) != after[p]}
    assert all(p.startswith(("proj/vault/", "proj/.msp/")) for p in changed), changed

    all_notes = notes(vault)
    entities = [p for p in all_notes if p.startswith("msp/entities/")]
    # every name its own note, also those that sanitise alike ("a:b*c?", "a?b*c:") or differ only
    # in Unicode normalisation ("Café" written two ways)
    assert len(entities) == len(set(HOSTILE))
    assert unicodedata.normalize("NFC", "Cafe\u0301") == "Café"
    project_folders = {p.split("/")[2] for p in entities}
    assert len(project_folders) == 1 and ".." not in project_folders.pop()
    forbidden = set('*"\\<>:|?#^[]%')
    reserved = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
    for path in all_notes:
        for part in path.split("/"):
            assert not forbidden & set(part), part
            assert len(part.encode("utf-8")) <= 110, part
            stem = part.removesuffix(".md")
            assert not stem.startswith((".", " ")) and not stem.endswith((".", " ")), part
            assert stem.split(".")[0].upper() not in reserved, part
            assert "\n" not in part
        assert (vault / path).resolve().is_relative_to(vault.resolve())
    assert unresolved_links(vault) == []
    for text in all_notes.values():
        assert "[[evil]]" not in text and "[[not a link]]" not in text and "[[x]]" not in text
        if text.startswith("---\n"):
            frontmatter(text)  # still valid YAML


def test_a_symlink_inside_the_vault_pointing_out_is_not_followed(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("needs POSIX symlinks")
    root = make_project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "vault" / "msp").mkdir()
    (root / "vault" / "msp" / "entities").symlink_to(outside, target_is_directory=True)
    with recorder(root) as rec:
        rec.run(SCRIPT)
    report = dispatch(root)
    assert list(outside.rglob("*")) == []
    rows = action_rows(root)
    dead = [r for r in rows if r["status"] == "dead"]
    assert dead and all('"msp/entities/' in r["payload"] for r in dead)
    assert all("outside the root" in r["last_error"] for r in dead)
    assert report.dead == len(dead)
    # everything else was written (or overwritten by a later write before it was)
    assert all(r["status"] in ("done", "superseded") for r in rows if '"msp/entities/' not in r["payload"])


def test_a_missing_vault_outside_the_project_waits_then_delivers(tmp_path: Path) -> None:
    vault = tmp_path / "usb-drive" / "Notes"  # e.g. a drive that is not mounted yet
    root = make_project(tmp_path, vault=False, vault_path=str(vault))
    with recorder(root) as rec:
        rec.run(SCRIPT[:2])
    report = dispatch(root)
    assert report.done == 0 and report.waiting >= 1
    assert not (tmp_path / "usb-drive").exists()
    assert any("does not exist" in (r["last_error"] or "") for r in action_rows(root))
    vault.mkdir(parents=True)
    report = dispatch(root)
    assert report.dead == 0 and report.done == _delivering(root)
    assert len(notes(vault)) == 3


def test_a_missing_vault_inside_the_project_is_created(tmp_path: Path) -> None:
    root = make_project(tmp_path, vault=False)
    with recorder(root) as rec:
        rec.run(SCRIPT[:2])
    report = dispatch(root)
    assert report.dead == 0 and report.waiting == 0 and report.done == _delivering(root)
    assert len(notes(root / "vault")) == 3


def test_daily_notes_follow_the_configured_folder_format_and_zone(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        'daily_folder = "Journal/Daily"\ndaily_format = "YYYY/MM-MMMM/YYYY-MM-DD dddd"\n'
        'timezone = "America/Los_Angeles"\nchart = "xychart"\n',
    )
    with recorder(root, start=datetime.fromisoformat("2026-03-01T02:30:00+00:00")) as rec:
        rec.run(SCRIPT)
    assert dispatch(root).dead == 0
    vault = root / "vault"
    all_notes = notes(vault)
    # 02:30 UTC on 1 March is 18:30 on Saturday 28 February in Los Angeles
    assert "Journal/Daily/2026/02-February/2026-02-28 Saturday.md" in all_notes
    assert unresolved_links(vault) == []
    session = all_notes[only([p for p in all_notes if p.startswith(SESSION_DIR)])]
    fm = frontmatter(session)
    assert fm["start"].isoformat() == "2026-02-28T18:30:00-08:00"
    assert "```mermaid\nxychart-beta\n" in session and "line [10, 20, 60, 70]" in session


def test_a_long_session_appends_each_update_and_renders_the_whole_note_on_close(tmp_path: Path) -> None:
    """An update's writes do not grow with the session (its line is appended; nothing carries the
    earlier updates), while the note still ends holding every update once, in order, with the
    user's own text kept."""
    from msp._model.events import RECENT_UPDATES

    root = make_project(tmp_path)
    vault = root / "vault"
    n = RECENT_UPDATES + 30
    with recorder(root) as rec:
        rec.run([("start", {"goal": "long", "progress": 0})])
        rec.run([("update", {"text": f"step {i:04d}", "progress": i % 101}) for i in range(10)])
        dispatch(root)
        session = only([p for p in notes(vault) if p.startswith(SESSION_DIR)])
        note = vault / session
        note.write_text(note.read_text(encoding="utf-8") + "\nMy own line.\n", encoding="utf-8")
        later = rec.run([("update", {"text": f"step {i:04d}", "progress": i % 101}) for i in range(10, n)])
        size = [sum(len(a.content) for a in r.planned.objects) for r in (later[40], later[-1])]
        last = later[-1].planned.objects
        assert not any("step 0000" in a.content for a in last)
        (append,) = [a for a in last if a.mode == "section_append"]
        assert append.section == "session:1-updates" and append.content.count("\n") == 1
        assert f"step {n - 1:04d}" in append.content
        # the same size at update 51 (the chart at its cap) as at update n, past the updates a
        # hook's session holds, give or take the digits in the chart
        assert size[1] < size[0] * 1.1, size
        dispatch(root)
        middle = note.read_text(encoding="utf-8")
        assert [line.split(" · ")[-1].split(" ^")[0] for line in middle.splitlines() if "step " in line] == [
            f"step {i:04d}" for i in range(n)]
        rec.run([("end", {"summary": "done"})])
    dispatch(root)
    text = note.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if "step " in line]
    assert [line.split(" · ")[-1].split(" ^")[0] for line in lines] == [f"step {i:04d}" for i in range(n)]
    assert text.endswith("\nMy own line.\n") and frontmatter(text)["status"] == "closed"
    # the close wrote the updates whole, so the appends still waiting were superseded, not sent
    rows = action_rows(root)
    assert all(r["status"] in ("done", "superseded") for r in rows)


def test_an_append_delivered_again_adds_no_line(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    with recorder(root) as rec:
        rec.run(SCRIPT[:3])
        actions = rec.actions
    dispatch(root)
    vault = root / "vault"
    before = snapshot(vault)
    ex = FileExecutor()
    ctx = ExecutionContext("obsidian", {**msp_obsidian.defaults, "vault": "vault"}, root)
    appends = [a for a in actions if a.mode == "section_append"]
    assert appends
    for a in appends:
        assert "unchanged" in asyncio.run(ex.execute(a, ctx)).summary
    assert snapshot(vault) == before
