"""msp integration for Obsidian: sessions, decisions and entities as linked notes in a vault.

Enabled by an ``[integrations.obsidian]`` section with ``vault = "<folder>"``. Every hook returns
``FileWrite`` actions for the dispatcher's ``file`` executor, which writes atomically, never
outside the vault, and only inside msp's managed blocks, so a user's own text in any note
survives every later write. Hooks are pure: the notes are a function of the session and the
config, so writing the same state again produces byte-identical files.

Per event it rewrites the session's note (frontmatter and its msp blocks; an update adds its
line to the updates block instead of rewriting the list, so an update's writes stay the same
size however long the session), the session's line in the project note and its block in the
day's daily note; a decision also writes its ADR note, an entity its entity note; closing a
session renders the whole note and writes all of the session's ADR and entity notes again
(unchanged ones are not touched), so links resolve even when the integration was enabled late.
See README.md for the layout, the config and the file-name rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from msp import hookimpl

from . import _notes
from ._notes import Settings

if TYPE_CHECKING:
    from msp import Blocker, Decision, Entity, Event, FileWrite, Finding, Session, Update

__all__ = [
    "config_schema",
    "defaults",
    "demo_summary",
    "msp_blocker",
    "msp_decision",
    "msp_doctor",
    "msp_entity",
    "msp_export",
    "msp_goal_changed",
    "msp_initialize",
    "msp_item_retracted",
    "msp_session_close",
    "msp_session_start",
    "msp_update",
    "name",
    "readiness",
]

name = "obsidian"

#: Merged under the user's ``[integrations.obsidian]`` section by the host.
defaults: dict[str, Any] = {
    "sessions_folder": "msp/sessions",
    "projects_folder": "msp/projects",
    "adr_folder": "msp/decisions",
    "entities_folder": "msp/entities",
    "daily_notes": True,
    "daily_folder": "",
    "daily_format": "YYYY-MM-DD",
    "timezone": "UTC",
    "tags": ["msp"],
    "chart": "flowchart",
}

# Relative and without "..": checked in msp_initialize (Settings.from_config) so the message can
# say so in words; the file executor refuses such paths anyway.
_FOLDER = {"type": "string", "maxLength": 200}

config_schema: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "[integrations.obsidian]",
    "type": "object",
    "additionalProperties": False,
    "required": ["vault"],
    "properties": {
        "vault": {
            "type": "string",
            "minLength": 1,
            "description": "The vault's folder. ~ is expanded; a relative path is relative to the project's "
            "root folder. Inside the project it is created when missing; elsewhere it must exist (until it "
            "does, writes wait).",
        },
        "sessions_folder": {
            **_FOLDER,
            "description": "Session notes, one subfolder per project. Default msp/sessions.",
        },
        "projects_folder": {**_FOLDER, "description": "One note per project. Default msp/projects."},
        "adr_folder": {**_FOLDER, "description": "ADR notes, one per decision, per project. Default msp/decisions."},
        "entities_folder": {**_FOLDER, "description": "One note per entity, per project. Default msp/entities."},
        "daily_notes": {"type": "boolean", "description": "Add a block per session to the daily note. Default true."},
        "daily_folder": {
            **_FOLDER,
            "description": "Folder of the vault's daily notes, as in Obsidian's Daily notes settings. "
            "Default: the vault's root.",
        },
        "daily_format": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "Date format of daily note names, moment.js tokens as in Obsidian's Daily notes "
            "settings (e.g. YYYY-MM-DD, YYYY/MM/YYYY-MM-DD dddd). Default YYYY-MM-DD.",
        },
        "timezone": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "IANA time zone for times shown in notes and for which daily note a session "
            "belongs to (e.g. Europe/Berlin). Default UTC.",
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
            "maxItems": 20,
            "description": "Tags on every note msp writes. Default [\"msp\"].",
        },
        "chart": {
            "enum": ["flowchart", "xychart", "none"],
            "description": "Progress chart in the session note: flowchart (Mermaid flowchart, every "
            "Obsidian), xychart (Mermaid xychart-beta line chart, needs Mermaid 10.3+ in Obsidian) or none.",
        },
    },
}


#: Checked by the host before each recording command and by the doctor: the vault must exist
#: (or lie inside the project, where it is created) and be writable, or every write waits.
readiness: dict[str, Any] = {"folders": ["vault"]}


def _settings(config: dict[str, Any]) -> Settings:
    return Settings.from_config({**defaults, **config})


def _common(s: Settings, session: Session) -> list[FileWrite]:
    return [*_notes.session_writes(s, session), *_notes.project_writes(s, session), *_notes.daily_writes(s, session)]


@hookimpl
def msp_initialize(config: dict[str, Any]) -> None:
    """Check what the JSON Schema cannot: the time zone and the date format."""
    _settings(config)


@hookimpl
def msp_session_start(session: Session, event: Event, config: dict[str, Any]) -> list[FileWrite]:
    return _common(_settings(config), session)


@hookimpl
def msp_update(session: Session, update: Update, event: Event, config: dict[str, Any]) -> list[FileWrite]:
    s = _settings(config)
    return [*_notes.update_writes(s, session, update), *_notes.project_writes(s, session),
            *_notes.daily_writes(s, session)]


@hookimpl
def msp_decision(session: Session, decision: Decision, event: Event, config: dict[str, Any]) -> list[FileWrite]:
    s = _settings(config)
    return [*_common(s, session), *_notes.adr_writes(s, session, decision)]


@hookimpl
def msp_entity(session: Session, entity: Entity, event: Event, config: dict[str, Any]) -> list[FileWrite]:
    s = _settings(config)
    return [*_common(s, session), *_notes.entity_writes(s, session, entity.name)]


@hookimpl
def msp_blocker(session: Session, blocker: Blocker, resolved: bool, event: Event,
                config: dict[str, Any]) -> list[FileWrite]:
    return _common(_settings(config), session)


@hookimpl
def msp_goal_changed(session: Session, event: Event, config: dict[str, Any]) -> list[FileWrite]:
    """The notes that show the goal (the session's head, the project's and the day's lines)."""
    return _common(_settings(config), session)


@hookimpl
def msp_item_retracted(session: Session, config: dict[str, Any]) -> list[FileWrite]:
    """The item's session note (and the project and daily notes) again: the item struck through."""
    return _common(_settings(config), session)


@hookimpl
def msp_session_close(session: Session, event: Event, config: dict[str, Any]) -> list[FileWrite]:
    s = _settings(config)
    out = _common(s, session)
    for d in session.decisions:
        out += _notes.adr_writes(s, session, d)
    for entity_name in _notes.entity_names(session):
        out += _notes.entity_writes(s, session, entity_name)
    return out


@hookimpl
def msp_export(sessions: list[Session], config: dict[str, Any]) -> str:
    """The sessions' notes (frontmatter and body) one after another, as Markdown."""
    s = _settings(config)
    return "\n".join(_notes.note_text(s, session) for session in sessions)


@hookimpl
def msp_doctor(config: dict[str, Any], online: bool, project_root: Path) -> list[Finding]:
    """The note folders inside the vault, and whether Obsidian has opened it (the vault folder
    itself is checked by the host, from :data:`readiness`)."""
    from . import _doctor

    return _doctor.findings(config, online, project_root)


def demo_summary(vault: Path) -> str:
    """What the demo wrote into ``vault``: the notes by folder and where to look first."""
    vault = Path(vault)
    notes = sorted(p.relative_to(vault).as_posix() for p in vault.rglob("*.md") if p.is_file())
    lines = [f"Obsidian vault: {vault} ({len(notes)} notes)"]
    folders: dict[str, list[str]] = {}
    for rel in notes:
        folder, _, file = rel.rpartition("/")
        folders.setdefault(folder + "/" if folder else "(vault root)", []).append(file)
    for folder, files in folders.items():
        lines.append(f"  {folder}")
        lines += [f"    {f}" for f in files]
    sessions = [rel for rel in notes if "/Session " in f"/{rel}"]
    if sessions:
        lines.append(f"Start with the session note: {vault / sessions[-1]}")
    lines.append("Open the folder in Obsidian (Open folder as vault); the graph view shows sessions linked "
                 "to their project, decisions (ADRs), entities and daily notes.")
    return "\n".join(lines)
