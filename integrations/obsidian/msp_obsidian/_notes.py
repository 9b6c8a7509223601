"""The notes: where each lives and what it says. Pure functions of (session, config).

Every note is built from managed blocks written with ``FileWrite(mode="section")``: the YAML
frontmatter (merged property by property) and one or more ``%% msp:begin … %%`` blocks. Whatever
the user writes outside them stays. Links are full vault paths without ``.md``, so two notes
with the same name in different folders never make a link ambiguous.

A session note has three blocks: ``session`` (title, facts, goal, summary, chart),
``session:1-updates`` and ``session:2-items`` (decisions, entities, blockers, next steps). An
update adds its line to ``session:1-updates`` (``mode="section_append"``) and rewrites the other
two, which do not grow with the updates, so what one update costs stays flat however long the
session. The session a hook receives holds only the latest updates
(``session.update_count`` counts them all); while it does, the chart, the next steps and the
tags go by those, and the updates block is left to the appends. On close, whose session holds
every update, and on anything that holds every update (replays included), the whole note is
rendered.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from msp import Blocker, Decision, Entity, FileWrite, Session, Update

from . import _markdown as md
from ._dates import check_format, format_date
from ._names import clean_name, folder_parts, safe_name, safe_tag

ROOT_KEY = "vault"
#: Bytes of UTF-8 for a note's file name (without ``.md``) and for a project's folder name.
NOTE_NAME_BYTES = 100
PROJECT_NAME_BYTES = 60
#: The chart keeps at most this many points (first and last always; the rest evenly sampled).
MAX_CHART_POINTS = 40


@lru_cache(maxsize=32)
def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone {name!r} is not a known IANA time zone name (e.g. UTC, Europe/Berlin, America/New_York)"
        ) from None


FOLDER_KEYS = ("sessions_folder", "projects_folder", "adr_folder", "entities_folder", "daily_folder")


def _check_folder(key: str, value: str) -> None:
    if value.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"{key} = {value!r} must be a folder inside the vault, relative to it (e.g. msp/sessions)")
    if any(part == ".." for part in re.split(r"[/\\]", value)):
        raise ValueError(f"{key} = {value!r} must stay inside the vault; remove the '..'")
    if "\x00" in value:
        raise ValueError(f"{key} contains a NUL character")


@dataclass(frozen=True)
class Settings:
    sessions: tuple[str, ...]
    projects: tuple[str, ...]
    decisions: tuple[str, ...]
    entities: tuple[str, ...]
    daily_notes: bool
    daily: tuple[str, ...]
    daily_format: str
    zone: tzinfo
    tags: tuple[str, ...]
    chart: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        for key in FOLDER_KEYS:
            _check_folder(key, str(config.get(key, "")))
        fmt = str(config.get("daily_format") or "YYYY-MM-DD")
        check_format(fmt)
        tags = tuple(t for t in (safe_tag(str(x)) for x in config.get("tags", ["msp"])) if t)
        return cls(
            sessions=tuple(folder_parts(str(config.get("sessions_folder", "msp/sessions")))),
            projects=tuple(folder_parts(str(config.get("projects_folder", "msp/projects")))),
            decisions=tuple(folder_parts(str(config.get("adr_folder", "msp/decisions")))),
            entities=tuple(folder_parts(str(config.get("entities_folder", "msp/entities")))),
            daily_notes=bool(config.get("daily_notes", True)),
            daily=tuple(folder_parts(str(config.get("daily_folder", "")))),
            daily_format=fmt,
            zone=_zone(str(config.get("timezone") or "UTC")),
            tags=tags,
            chart=str(config.get("chart", "flowchart")),
        )

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)


# --- where notes live -----------------------------------------------------------------------


def _join(*parts: Iterable[str] | str) -> str:
    out: list[str] = []
    for part in parts:
        out += [part] if isinstance(part, str) else list(part)
    return "/".join(out)


def project_dir(project: str) -> str:
    return safe_name(project, PROJECT_NAME_BYTES)


def session_note(s: Settings, project: str, session_id: str) -> str:
    return _join(s.sessions, project_dir(project), safe_name(f"Session {session_id}", NOTE_NAME_BYTES))


def project_note(s: Settings, project: str) -> str:
    return _join(s.projects, safe_name(project, NOTE_NAME_BYTES))


def adr_note(s: Settings, project: str, decision: Decision) -> str:
    ident = clean_name(decision.id, 24)
    day = s.local(decision.at).strftime("%Y-%m-%d")
    head = _title(decision.text, 60)
    budget = NOTE_NAME_BYTES - len(f" ({ident})".encode())
    return _join(s.decisions, project_dir(project), clean_name(f"ADR {day} {head}", budget) + f" ({ident})")


def entity_note(s: Settings, project: str, name: str) -> str:
    return _join(s.entities, project_dir(project), safe_name(name, NOTE_NAME_BYTES))


def daily_note(s: Settings, at: datetime) -> str:
    formatted = format_date(s.local(at), s.daily_format)
    parts = [safe_name(p, NOTE_NAME_BYTES) for p in formatted.split("/") if p.strip(" .")]
    return _join(s.daily, parts or ["untitled"])


def _title(text: str, max_chars: int) -> str:
    first = " ".join(text.strip().splitlines()[0].split()) if text.strip() else "untitled"
    if len(first) <= max_chars:
        return first
    cut = first[:max_chars]
    return (cut.rsplit(" ", 1)[0] if " " in cut[max_chars // 2 :] else cut).rstrip(" .,;:") + "…"


def _session_block(session_id: str) -> str:
    """The id of a session's block in a shared note. ``session:<id>`` blocks are kept in id
    order, i.e. by start time, whatever order they are delivered in."""
    return "session:" + re.sub(r"[^A-Za-z0-9._-]", "-", session_id)


def _write(path: str, section: str, content: str) -> FileWrite:
    return FileWrite(path=path + ".md", root_from=ROOT_KEY, mode="section", section=section, content=content)


# --- little renderers ------------------------------------------------------------------------


def _hm(s: Settings, at: datetime, base: datetime | None = None) -> str:
    local = s.local(at)
    if base is not None and s.local(base).date() != local.date():
        return local.strftime("%Y-%m-%d %H:%M")
    return local.strftime("%H:%M")


def _stamp(s: Settings, at: datetime) -> str:
    return s.local(at).strftime("%Y-%m-%d %H:%M")


def _end_of(session: Session) -> datetime:
    return session.ended_at or session.last_event_at


def _tags(s: Settings, kind: str, extra: Iterable[str] = ()) -> list[str]:
    out: list[str] = []
    for tag in (*s.tags, f"msp/{kind}", *(safe_tag(t) for t in extra)):
        if tag and tag not in out:
            out.append(tag)
    return out


def _facts(items: Iterable[tuple[str, str | None]]) -> str:
    return " · ".join(f"{label} {md.one_line(value, 80)}" if label else md.one_line(value, 80)
                      for label, value in items if value)


def _session_link(s: Settings, session: Session) -> str:
    return md.link(session_note(s, session.project, session.id), f"{session.project} · {_stamp(s, session.started_at)}")


def _project_link(s: Settings, project: str) -> str:
    return md.link(project_note(s, project), project)


def _adr_link(s: Settings, project: str, decision: Decision) -> str:
    return md.link(adr_note(s, project, decision), _title(decision.text, 80))


def _entity_link(s: Settings, project: str, name: str) -> str:
    return md.link(entity_note(s, project, name), name)


def _callout(kind: str, title: str, body: str) -> str:
    return f"> [!{kind}] {title}\n> " + md.text(body, "> ")


def _progress_points(session: Session) -> list[tuple[datetime, int]]:
    points = [(session.started_at, session.start_progress)]
    points += [(u.at, u.progress) for u in session.updates if u.progress is not None]
    if session.status == "closed" and session.ended_at is not None:
        points.append((session.ended_at, session.progress))
    if len(points) > MAX_CHART_POINTS:
        step = (len(points) - 1) / (MAX_CHART_POINTS - 1)
        points = [points[round(i * step)] for i in range(MAX_CHART_POINTS)]
    return points


def chart(s: Settings, session: Session) -> str:
    """The progress chart as a Mermaid block (``flowchart`` works in every Obsidian with
    Mermaid; ``xychart`` needs Mermaid 10.3+ in Obsidian). Only times and numbers go in, never
    user text."""
    points = _progress_points(session)
    if s.chart == "xychart":
        labels = ", ".join(f'"{_hm(s, at, session.started_at)}"' for at, _ in points)
        values = ", ".join(str(p) for _, p in points)
        body = (f"xychart-beta\n    title \"Progress (%)\"\n    x-axis [{labels}]\n"
                f"    y-axis \"Progress (%)\" 0 --> 100\n    line [{values}]")
    else:
        nodes = [f'p{i}["{_hm(s, at, session.started_at)} · {p}%"]' for i, (at, p) in enumerate(points)]
        lines = ["flowchart LR", f"    {nodes[0]}"]
        for i in range(1, len(nodes)):
            delta = points[i][1] - points[i - 1][1]
            lines.append(f"    p{i - 1} -->|{delta:+d}| {nodes[i]}")
        body = "\n".join(lines)
    return f"```mermaid\n{body}\n```"


def _marked(item: Any, shown: str) -> str:
    """An item as listed: struck through once taken back (`msp retract`), with the reason;
    ``detected`` when msp noticed it in an update's text rather than being told."""
    if getattr(item, "retracted_at", None) is not None:
        why = getattr(item, "retraction", None)
        return f"~~{shown}~~ · retracted" + (f": {md.one_line(why)}" if why else "")
    return shown + (" · detected" if getattr(item, "detected", False) else "")


def _blocker_line(s: Settings, b: Blocker, session: Session, earlier: bool = False) -> str:
    mark = "x" if b.resolved_at else " "
    facts = _facts([("", b.category), ("", b.severity)])
    line = f"- [{mark}] {_marked(b, md.one_line(b.text))}" + (f" · {facts}" if facts else "")
    if earlier:
        line += " · raised in " + md.link(session_note(s, session.project, b.session_id), f"session {b.session_id}")
    if b.resolved_at:
        line += f" · resolved {_hm(s, b.resolved_at, session.started_at)}"
        if b.solution:
            line += f"\n  Solution: {md.text(b.solution, '  ')}"
    return line


def next_steps(session: Session) -> list[str]:
    """What is left: open blockers, updates tagged ``next`` or ``todo``, and the goal while
    progress is under 100%."""
    steps = [f"Resolve: {md.one_line(b.text)}" for b in session.open_blockers]
    steps += [md.one_line(u.text) for u in session.updates if {"next", "todo"} & {t.casefold() for t in u.tags}]
    if session.progress < 100:
        goal = f": {md.one_line(session.goal)}" if session.goal else ""
        steps.append(f"Continue from {session.progress}%{goal}")
    return steps


# --- the session note -----------------------------------------------------------------------


def session_frontmatter(s: Settings, session: Session) -> dict[str, Any]:
    end = _end_of(session)
    update_tags = [t for u in session.updates for t in u.tags]
    return {
        "type": "msp-session",
        "project": session.project,
        "session_id": session.id,
        "status": session.status,
        "start": s.local(session.started_at),
        "end": s.local(session.ended_at) if session.ended_at else None,
        "duration_minutes": int(max(0.0, (end - session.started_at).total_seconds()) // 60),
        "progress_start": session.start_progress,
        "progress_end": session.progress,
        "goal": session.goal,
        "issue": session.issue,
        "summary": session.summary,
        # Whose session it is (a team store holds many engineers'); None before sessions had one.
        "user": session.user,
        "host": session.host,
        "aliases": [f"{session.project} · {_stamp(s, session.started_at)}"],
        "tags": _tags(s, "session", update_tags),
    }


SESSION_HEAD = "session"
SESSION_UPDATES = "session:1-updates"
SESSION_ITEMS = "session:2-items"


def holds_every_update(session: Session) -> bool:
    """Whether the session holds all its updates (on close, in replays and exports, and while a
    session is short); otherwise only the latest (see the module's docstring)."""
    return len(session.updates) >= session.update_count


def _engineer(session: Session) -> str:
    """``user@host`` as one line of note text (stored text, never markup)."""
    who = f"{session.user}@{session.host}" if session.host else str(session.user)
    return md.one_line(who, 120)


def session_head(s: Settings, session: Session) -> str:
    start = session.started_at
    span = f"{_stamp(s, start)}–{_hm(s, _end_of(session), start)}" if session.status == "closed" else _stamp(s, start)
    out = [f"# {md.one_line(session.project, 120)} · {span}", ""]
    meta = [f"**Project:** {_project_link(s, session.project)}"]
    if s.daily_notes:
        meta.append(f"**Day:** {md.link(daily_note(s, start))}")
    if session.user:
        meta.append(f"**Engineer:** {_engineer(session)}")
    meta.append(f"**Status:** {session.status}")
    meta.append(f"**Progress:** {session.start_progress}% → {session.progress}% ({session.progress_delta:+d})")
    if session.issue:
        meta.append(f"**Issue:** {md.one_line(session.issue)}")
    out += [" · ".join(meta), ""]
    if session.goal:
        out += [_callout("abstract", "Goal", session.goal), ""]
    if session.summary:
        out += [_callout("success", "Summary", session.summary), ""]
    if s.chart != "none":
        out += ["## Progress", "", chart(s, session), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def update_line(s: Settings, session: Session, u: Update) -> str:
    """An update's line; it ends with the update's block id (``^u-…``), which makes every line
    unique (an append delivered twice is recognised) and lets other notes link to it."""
    head = f"- {_hm(s, u.at, session.started_at)}" + (f" · **{u.progress}%**" if u.progress is not None else "")
    tags = " ".join(f"#{t}" for t in (safe_tag(x) for x in u.tags) if t)
    return f"{head} · {md.text(u.text, '  ')}" + (f" {tags}" if tags else "") + f" ^u-{_block_id(u.id)}"


def _block_id(item_id: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", item_id.lower())


def session_updates(s: Settings, session: Session) -> str:
    return "\n".join(["## Updates", "", *(update_line(s, session, u) for u in session.updates)]) + "\n"


def session_items(s: Settings, session: Session) -> str:
    out = ["## Decisions", ""]
    for d in session.decisions:
        facts = _facts([("", d.impact), ("", d.category)])
        out.append(f"- {_marked(d, _adr_link(s, session.project, d))}" + (f" · {facts}" if facts else ""))
    if not session.decisions:
        out.append("_None._")
    out.append("")

    out += ["## Entities", ""]
    seen: set[str] = set()
    for e in session.entities:
        if e.name in seen:
            continue
        seen.add(e.name)
        facts = _facts([("", e.type), ("", e.path)])
        out.append(f"- {_marked(e, _entity_link(s, session.project, e.name))}" + (f" · {facts}" if facts else ""))
    if not session.entities:
        out.append("_None._")
    out.append("")

    out += ["## Blockers", ""]
    out += [_blocker_line(s, b, session) for b in session.blockers]
    if session.resolved_elsewhere:
        out += ["", "Resolved here, raised in earlier sessions:", ""]
        out += [_blocker_line(s, b, session, earlier=True) for b in session.resolved_elsewhere]
    if not session.blockers and not session.resolved_elsewhere:
        out.append("_None._")
    out.append("")

    out += ["## Next steps", ""]
    out += [f"- [ ] {step}" for step in next_steps(session)] or ["_Nothing left._"]
    return "\n".join(out) + "\n"


def session_body(s: Settings, session: Session) -> str:
    """The whole note's body, as its three blocks hold it."""
    return "\n".join((session_head(s, session), session_updates(s, session), session_items(s, session)))


def _session_frontmatter_write(s: Settings, session: Session, path: str) -> FileWrite:
    props = session_frontmatter(s, session)
    if not holds_every_update(session):
        del props["tags"]  # they gather every update's tags: left as they are until close
    return _write(path, "frontmatter", md.frontmatter(props))


def session_writes(s: Settings, session: Session) -> list[FileWrite]:
    """The session note. Its updates block is written whole only from a session holding every
    update; otherwise the appends keep it (see :func:`update_writes`)."""
    path = session_note(s, session.project, session.id)
    out = [_session_frontmatter_write(s, session, path), _write(path, SESSION_HEAD, session_head(s, session))]
    if holds_every_update(session):
        out.append(_write(path, SESSION_UPDATES, session_updates(s, session)))
    out.append(_write(path, SESSION_ITEMS, session_items(s, session)))
    return out


def update_writes(s: Settings, session: Session, update: Update) -> list[FileWrite]:
    """The session note after an update: its line added to the updates block, the blocks that
    do not grow with the updates rewritten."""
    path = session_note(s, session.project, session.id)
    append = FileWrite(path=path + ".md", root_from=ROOT_KEY, mode="section_append", section=SESSION_UPDATES,
                       content=update_line(s, session, update) + "\n")
    return [
        _session_frontmatter_write(s, session, path),
        _write(path, SESSION_HEAD, session_head(s, session)),
        append,
        _write(path, SESSION_ITEMS, session_items(s, session)),
    ]


# --- project and daily notes ----------------------------------------------------------------


def project_writes(s: Settings, session: Session) -> list[FileWrite]:
    path = project_note(s, session.project)
    props = {"type": "msp-project", "project": session.project, "tags": _tags(s, "project")}
    head = (f"# {md.one_line(session.project, 120)}\n\n"
            "Sessions recorded by msp, each with its decisions. Your own notes can go anywhere "
            "outside the msp blocks.\n")
    line = (f"- {_session_link(s, session)} · {session.status} · "
            f"{session.start_progress}% → {session.progress}%")
    if session.user:
        line += f" · {_engineer(session)}"
    if session.goal:
        line += f" · {md.one_line(session.goal, 120)}"
    lines = [line] + [f"  - Decision: {_adr_link(s, session.project, d)}" for d in session.decisions]
    return [
        _write(path, "frontmatter", md.frontmatter(props)),
        _write(path, "project", head),
        _write(path, _session_block(session.id), "\n".join(lines) + "\n"),
    ]


def daily_writes(s: Settings, session: Session) -> list[FileWrite]:
    if not s.daily_notes:
        return []
    start = session.started_at
    span = f"{_hm(s, start)}–{_hm(s, _end_of(session), start)}" if session.status == "closed" else f"{_hm(s, start)}–"
    lines = [
        f"### {span} {_project_link(s, session.project)}: "
        + md.link(session_note(s, session.project, session.id), "session note"),
        "",
        f"- Progress {session.start_progress}% → {session.progress}% · {session.status}",
    ]
    if session.goal:
        lines.append(f"- Goal: {md.one_line(session.goal)}")
    if session.summary:
        lines.append(f"- Summary: {md.one_line(session.summary)}")
    if session.decisions:
        lines.append("- Decisions: " + ", ".join(_adr_link(s, session.project, d) for d in session.decisions))
    if session.open_blockers:
        lines.append(f"- Open blockers: {len(session.open_blockers)}")
    return [_write(daily_note(s, start), _session_block(session.id), "\n".join(lines) + "\n")]


# --- ADRs ----------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _folded(text: str) -> str:
    return text.casefold()


def _mentions(text: str, name: str) -> bool:
    return bool(name.strip()) and _folded(name) in _folded(text)


def adr_writes(s: Settings, session: Session, d: Decision) -> list[FileWrite]:
    """The decision's ADR note; built from what was known when it was taken, so writing it
    again later gives the same bytes."""
    path = adr_note(s, session.project, d)
    # updates are in event order, i.e. by time: those up to the decision are a prefix
    earlier = session.updates[: bisect_right(session.updates, d.at, key=lambda u: u.at)]
    progress = next((u.progress for u in reversed(earlier) if u.progress is not None), session.start_progress)
    props = {
        "type": "msp-decision",
        "decision_id": d.id,
        "project": session.project,
        "session_id": session.id,
        "status": "accepted",
        "date": s.local(d.at).date(),
        "impact": d.impact,
        "category": d.category,
        "tags": _tags(s, "decision", [d.category] if d.category else []),
    }
    context = [f"Taken at {_stamp(s, d.at)} in {_session_link(s, session)} of {_project_link(s, session.project)}, "
               f"at {progress}% progress."]
    if session.goal:
        context.append(f"Session goal: {md.one_line(session.goal)}")
    if earlier:
        context.append(f"Latest progress before it: {md.one_line(earlier[-1].text)}")
    blocking = [b for b in session.blockers if b.at <= d.at and (b.resolved_at is None or b.resolved_at > d.at)]
    if blocking:
        context.append("Open blockers then: " + "; ".join(md.one_line(b.text, 100) for b in blocking))
    named = []
    for e in session.entities:
        if e.at <= d.at and e.name not in named and (_mentions(d.text, e.name) or _mentions(d.rationale or "", e.name)):
            named.append(e.name)
    if named:
        context.append("Concerns: " + ", ".join(_entity_link(s, session.project, n) for n in named))
    out = [
        f"# ADR: {md.one_line(_title(d.text, 120), 200)}",
        "",
        f"**Status:** accepted · **Date:** {_stamp(s, d.at)}"
        + (f" · **Impact:** {md.one_line(d.impact)}" if d.impact else "")
        + (f" · **Category:** {md.one_line(d.category)}" if d.category else ""),
        "",
        "## Context",
        "",
        "\n".join(f"- {c}" for c in context),
        "",
        "## Decision",
        "",
        md.text(d.text),
        "",
        "## Rationale",
        "",
        md.text(d.rationale) if d.rationale else "_Not recorded._",
        "",
        "## Alternatives considered",
        "",
        "\n".join(f"- {md.text(a, '  ')}" for a in d.alternatives) if d.alternatives else "_None recorded._",
        "",
        "## Status",
        "",
        "Accepted when recorded. To supersede it, record a new decision and link this note from it.",
    ]
    return [
        _write(path, "frontmatter", md.frontmatter(props)),
        _write(path, "adr", "\n".join(out) + "\n"),
    ]


# --- entities ------------------------------------------------------------------------------


def entity_writes(s: Settings, session: Session, name: str) -> list[FileWrite]:
    """The entity's note: a header, then one block per session that recorded it."""
    path = entity_note(s, session.project, name)
    mine: list[Entity] = [e for e in session.entities if e.name == name]
    if not mine:
        return []
    latest = mine[-1]
    props = {
        "type": "msp-entity",
        "name": name,
        "project": session.project,
        "entity_type": latest.type,
        "path": latest.path,
        "tags": _tags(s, "entity", [latest.type] if latest.type else []),
    }
    head = [f"# {md.one_line(name, 200)}", ""]
    facts = _facts([("Type:", latest.type), ("Path:", latest.path)])
    head.append(f"Project: {_project_link(s, session.project)}" + (f" · {facts}" if facts else ""))
    if latest.description:
        head += ["", md.text(latest.description)]
    block = [f"- {_session_link(s, session)}"]
    for e in mine:
        detail = _facts([("", e.type), ("", e.path), ("", e.description)])
        block.append(f"  - recorded {_hm(s, e.at, session.started_at)}" + (f" · {detail}" if detail else ""))
    for d in session.decisions:
        if _mentions(d.text, name) or _mentions(d.rationale or "", name):
            block.append(f"  - named in {_adr_link(s, session.project, d)}")
    return [
        _write(path, "frontmatter", md.frontmatter(props)),
        _write(path, "entity", "\n".join(head) + "\n"),
        _write(path, _session_block(session.id), "\n".join(block) + "\n"),
    ]


def entity_names(session: Session) -> list[str]:
    out: list[str] = []
    for e in session.entities:
        if e.name not in out:
            out.append(e.name)
    return out


def note_text(s: Settings, session: Session) -> str:
    """The session note as one document (for ``msp export``)."""
    return "---\n" + md.frontmatter(session_frontmatter(s, session)) + "---\n\n" + session_body(s, session)
