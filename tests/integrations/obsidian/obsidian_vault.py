"""Helpers for the obsidian tests: a real project with a real vault, sessions recorded through the
session manager and delivered by the real dispatcher, and readers for what landed in the vault."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from msp._config import init_project, open_project
from msp._dispatch import DrainReport, drain_project
from msp._plugins.host import build_host
from msp._session.manager import Recorded, SessionManager
from msp._store.sqlite import SqliteStore

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WIKILINK = re.compile(r"(?<!\\)!?\[\[([^\[\]\n]+?)\]\]")


def make_project(tmp_path: Path, obsidian: str = "", vault: bool = True, vault_path: str = "vault") -> Path:
    """A project whose config enables obsidian with ``vault = "vault"`` (plus ``obsidian`` lines);
    with ``vault=False`` the vault folder is not made."""
    root = tmp_path / "proj"
    root.mkdir()
    init_project(root)
    (root / ".msp" / "config.toml").write_text(
        '[store]\nsynchronous = "normal"\n[dispatch]\nmode = "manual"\n'
        f"[integrations.obsidian]\nvault = {json.dumps(vault_path)}\n{obsidian}\n",
        encoding="utf-8",
    )
    if vault:
        (root / "vault").mkdir()
    return root


class Recorder:
    """Records steps (as in msp.testing.SCRIPT) with a clock that moves 7 minutes a step."""

    def __init__(self, root: Path, start: datetime = START, project: str = "demo-project") -> None:
        proj = open_project(root)
        assert proj is not None
        host = build_host(proj.config.integrations)
        assert not host.broken, host.broken
        self.store = SqliteStore(proj.db_path, synchronous="normal")
        self._ticks = (start + timedelta(minutes=7 * i) for i in range(100_000))
        self.manager = SessionManager(self.store, host, default_project=project, source="api",
                                      clock=lambda: next(self._ticks))
        self.recorded: list[Recorded] = []

    def run(self, script: list[tuple[str, dict[str, Any]]]) -> list[Recorded]:
        out = []
        for step, data in script:
            rec = getattr(self.manager, step)(data)
            assert not rec.warnings, rec.warnings
            out.append(rec)
        self.recorded += out
        return out

    @property
    def actions(self) -> list[Any]:
        return [a for rec in self.recorded for a in rec.planned.objects]

    def close(self) -> None:
        self.store.close()


@contextmanager
def recorder(root: Path, **kwargs: Any) -> Iterator[Recorder]:
    rec = Recorder(root, **kwargs)
    try:
        yield rec
    finally:
        rec.close()


def dispatch(root: Path) -> DrainReport:
    """Deliver the project's outbox with the real dispatcher (and the real file executor)."""
    proj = open_project(root)
    assert proj is not None
    return drain_project(proj, timeout_s=120)


def action_rows(root: Path) -> list[dict[str, Any]]:
    import sqlite3

    db = sqlite3.connect(root / ".msp" / "msp.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM actions WHERE integration = 'obsidian' ORDER BY id")]
    finally:
        db.close()


def notes(vault: Path) -> dict[str, str]:
    """Every note in the vault by its vault-relative path."""
    return {p.relative_to(vault).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(vault.rglob("*.md")) if p.is_file()}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def frontmatter(text: str) -> dict[str, Any]:
    assert text.startswith("---\n"), text[:80]
    end = text.index("\n---\n", 4)
    data = yaml.safe_load(text[4 : end + 1])
    assert isinstance(data, dict)
    return data


def link_targets(text: str) -> list[str]:
    """Targets of every wikilink (and embed), without alias or heading/block part."""
    out = []
    for inner in WIKILINK.findall(text):
        target = inner.split("|", 1)[0].split("#", 1)[0].split("^", 1)[0].strip()
        out.append(target)
    return out


def unresolved_links(vault: Path) -> list[tuple[str, str]]:
    """(note, target) for every wikilink that names no note in the vault. A target with a folder
    must match that path; a bare name may match any note of that name (as Obsidian resolves)."""
    all_notes = notes(vault)
    by_name: set[str] = {Path(p).stem for p in all_notes}
    missing = []
    for path, text in all_notes.items():
        for target in link_targets(text):
            ok = f"{target}.md" in all_notes if "/" in target else target in by_name
            if not ok:
                missing.append((path, target))
    return missing


def links_from(text: str) -> set[str]:
    return set(link_targets(text))
