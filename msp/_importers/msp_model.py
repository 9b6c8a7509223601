"""msp-model's history (MSP Lite's state folder) recorded as msp events.

What MSP Lite keeps (``%USERPROFILE%\\.msp-lite`` on Windows), as its script writes it through
``ConvertTo-Json | Out-File -Encoding UTF8`` (Windows PowerShell: UTF-8 with a byte-order mark):

- ``archive/<id>.json``: one ended session: ``id`` (``msp-lite-yyyyMMdd-HHmmss``),
  ``startTime`` and ``endTime`` (``Get-Date -Format 'yyyy-MM-dd HH:mm:ss'``: local time, no
  zone), ``status`` (``completed``), ``progress``, ``duration``, ``updates`` (``timestamp``,
  ``message``, ``progress`` or null), ``decisions`` (``timestamp``, ``content``,
  ``sessionId``: updates whose words made MSP Lite take them for decisions) and ``context``
  (``user``, ``machine``, ``directory``);
- ``current-session.json``: the session in progress, the same fields, ``status`` ``active``;
- ``session-history.json``, ``decisions.json``, ``progress-tracking.json``: summaries derived
  from the sessions (not imported: the sessions hold all of it), and ``context-export-*.txt``.

Each session becomes the events msp would have recorded (started, its updates and decisions in
time order, closed), at their original times and under the original session id, with
``imported_from: "msp-model"`` in their data. Ids are derived from the session and the item's
place in it, so an import run again finds them present and adds nothing; a session in progress
imported earlier gets the moments added since. No integration is called: ``msp replay`` back-fills
them. Times without a zone are read in the zone given (this machine's local time by default),
and times that do carry one (``/Date(ms)/``, ISO with an offset) keep it. A file that cannot be
read is listed, never fatal; so is any file MSP Lite does not write.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from msp._model.ids import derived_event_id, derived_item_id
from msp._model.models import DecisionInput, Event, EventType, UpdateInput
from msp._store.interface import Store

IMPORTED_FROM = "msp-model"
CURRENT = "current-session.json"
ARCHIVE = "archive"
#: Files MSP Lite writes that are summaries of its sessions: known, not needed.
DERIVED = ("session-history.json", "decisions.json", "progress-tracking.json")
_EXPORT = re.compile(r"context-export-\d{8}-\d{6}\.txt")
#: A session id msp can keep as it is: what msp-model writes, and safe in a file name or a URL.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: Windows PowerShell's serialised DateTime: milliseconds since 1970 (UTC), maybe an offset.
_MS_DATE = re.compile(r"\\?/Date\((-?\d+)([+-]\d{4})?\)\\?/")
#: ``yyyy-MM-dd HH:mm:ss`` (``:`` is the culture's time separator in .NET, ``.`` in some), or ISO.
_STAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2})[:.](\d{2})(?:[:.](\d{2})(?:\.(\d{1,7}))?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class Listed:
    file: str
    reason: str


@dataclass
class SessionImport:
    """One msp-model session as msp events, in order."""

    file: str
    session_id: str
    original_id: str
    active: bool
    events: list[Event]


@dataclass
class Report:
    folder: str
    zone: str
    project: str
    dry_run: bool = False
    sessions: int = 0
    events: int = 0
    #: Sessions found with every event already in the store.
    present: int = 0
    imported: list[str] = field(default_factory=list)
    damaged: list[Listed] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    skipped: list[Listed] = field(default_factory=list)
    notes: list[Listed] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True, "folder": self.folder, "zone": self.zone, "project": self.project, "dry_run": self.dry_run,
            "sessions": self.sessions, "events": self.events, "already_present": self.present,
            "imported": self.imported,
            "damaged": [vars(d) for d in self.damaged], "unknown": self.unknown,
            "skipped": [vars(s) for s in self.skipped], "notes": [vars(n) for n in self.notes],
        }


# --- reading ---------------------------------------------------------------------------------


def parse_zone(name: str | None) -> tuple[tzinfo | None, str]:
    """The zone ``--tz`` names (an IANA name, ``UTC``, or an offset like ``+02:00``), and how to
    say it; None means this machine's local time."""
    from msp.errors import InvalidInput

    if name is None:
        return None, f"this machine's local time ({'/'.join(dict.fromkeys(time.tzname))})"
    offset = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2}):?(\d{2})?", name.strip())
    if offset:
        sign = 1 if offset[1] == "+" else -1
        delta = timedelta(hours=int(offset[2]), minutes=int(offset[3] or 0))
        if delta > timedelta(hours=14):
            raise InvalidInput(f"--tz {name!r} is more than 14 hours from UTC", "give e.g. +02:00 or Europe/Berlin")
        return timezone(sign * delta), f"UTC{offset[1]}{int(offset[2]):02d}:{int(offset[3] or 0):02d}"
    if name.strip().upper() in ("UTC", "Z", "GMT"):
        return UTC, "UTC"
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip()), name.strip()
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"--tz {name!r} is not a time zone this machine knows",
            "give an IANA name (Europe/Berlin, America/New_York), UTC, or an offset like +02:00",
        ) from None


def parse_stamp(value: Any, zone: tzinfo | None) -> datetime:
    """A time as msp-model wrote it, made exact: a zone it carries is kept, else ``zone``."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    text = value.strip()
    ms = _MS_DATE.fullmatch(text)
    if ms:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms[1]))
    m = _STAMP.fullmatch(text)
    if not m:
        raise ValueError(f"{value[:40]!r} is not a time msp-model writes (yyyy-MM-dd HH:mm:ss)")
    fraction = int((m[7] or "0").ljust(6, "0")[:6])
    naive = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0), fraction)
    if m[8]:
        return datetime.fromisoformat(naive.isoformat() + ("+00:00" if m[8] == "Z" else m[8]))
    return naive.astimezone() if zone is None else naive.replace(tzinfo=zone)


def _decode(raw: bytes) -> str:
    # Out-File -Encoding UTF8 (Windows PowerShell) starts with a byte-order mark; its default,
    # "Unicode", is UTF-16 with one.
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def _items(value: Any) -> list[Any]:
    """A list as ConvertTo-Json may have written it: a list, one object on its own, nothing,
    or Windows PowerShell 5.1's ``{"value": [...], "Count": n}`` wrapper."""
    if value is None:
        return []
    if isinstance(value, dict) and isinstance(value.get("value"), list) and "Count" in value:
        return list(value["value"])
    return value if isinstance(value, list) else [value]


def _problem(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: "
                     f"{e['msg'].removeprefix('Value error, ').lower()}" for e in exc.errors())


def _session_id(original: Any, file: str) -> str:
    if isinstance(original, str) and _SAFE_ID.fullmatch(original):
        return original
    return derived_item_id("msp-lite", f"{IMPORTED_FROM}\0{original!r}\0{file}")


def read_session(doc: Any, file: str, project: str, zone: tzinfo | None, notes: list[Listed]) -> SessionImport:
    """One session file's content as events; ``ValueError`` says why a file cannot be one."""
    if not isinstance(doc, dict):
        raise ValueError(f"holds a JSON {type(doc).__name__}, not a session object")
    if "startTime" not in doc or "id" not in doc:
        raise ValueError("not an msp-model session (no id or no startTime)")
    original = doc["id"]
    sid = _session_id(original, file)
    started = parse_stamp(doc["startTime"], zone)
    context: dict[str, Any] = doc["context"] if isinstance(doc.get("context"), dict) else {}
    base: dict[str, Any] = {"imported_from": IMPORTED_FROM, "imported_file": file}
    if sid != original:
        base["original_id"] = original
        shown = str(original)[:60]
        notes.append(Listed(file, f"session id {shown!r} is not one msp keeps as it is; recorded as {sid}"))
    events: list[Event] = []

    def event(kind: EventType, at: datetime, key: str, data: dict[str, Any]) -> None:
        ms = int(at.timestamp() * 1000)
        events.append(Event(
            id=derived_event_id(ms, f"{IMPORTED_FROM}\0{sid}\0{key}"), type=kind, session_id=sid, project=project,
            at=at.astimezone(UTC), source="cli", data={**data, **base},
        ))

    def text_of(value: Any) -> str:
        return value if isinstance(value, str) else ""

    event("session_started", started, "started", {
        "goal": None, "issue": None, "progress": 0,
        "user": text_of(context.get("user")) or None, "host": text_of(context.get("machine")) or None,
        **({"directory": context["directory"]} if isinstance(context.get("directory"), str) else {}),
    })
    moments: list[tuple[datetime, int, str, EventType, dict[str, Any]]] = []
    last = started
    for n, raw in enumerate(_items(doc.get("updates")), 1):
        if not isinstance(raw, dict):
            notes.append(Listed(file, f"update {n} is not an object; left out"))
            continue
        try:
            at = parse_stamp(raw.get("timestamp"), zone)
        except ValueError as exc:
            notes.append(Listed(file, f"update {n}: {exc}; recorded at the moment before it"))
            at = last
        last = at
        progress = raw.get("progress")
        try:
            inp = UpdateInput.model_validate({"text": text_of(raw.get("message")), "progress": progress})
        except ValidationError as exc:
            try:  # a bad progress alone loses only the progress
                inp = UpdateInput.model_validate({"text": text_of(raw.get("message"))})
                notes.append(Listed(file, f"update {n}: progress {progress!r} left out ({_problem(exc)})"))
            except ValidationError as again:
                notes.append(Listed(file, f"update {n} left out: {_problem(again)}"))
                continue
        moments.append((at, 0, f"update/{n}", "progress_updated",
                        {"text": inp.text, "progress": inp.progress, "tags": []}))
    for n, raw in enumerate(_items(doc.get("decisions")), 1):
        if not isinstance(raw, dict):
            notes.append(Listed(file, f"decision {n} is not an object; left out"))
            continue
        try:
            at = parse_stamp(raw.get("timestamp"), zone)
        except ValueError as exc:
            notes.append(Listed(file, f"decision {n}: {exc}; recorded at the session's start"))
            at = started
        try:
            decision = DecisionInput.model_validate({"text": text_of(raw.get("content"))})
        except ValidationError as exc:
            notes.append(Listed(file, f"decision {n} left out: {_problem(exc)}"))
            continue
        # MSP Lite found it by its words in an update, as msp's own detection would.
        moments.append((at, 1, f"decision/{n}", "decision_recorded", {
            "id": derived_item_id("d", f"{IMPORTED_FROM}\0{sid}\0decision/{n}"), **decision.model_dump(),
            "detected": True,
        }))
    moments.sort(key=lambda m: (m[0], m[1]))  # stable: a decision right after its update
    for at, _order, key, kind, data in moments:
        event(kind, at, key, data)
    active = doc.get("status") == "active" and not doc.get("endTime")
    if not active:
        ended: datetime | None = None
        if doc.get("endTime"):
            try:
                ended = parse_stamp(doc["endTime"], zone)
            except ValueError as exc:
                notes.append(Listed(file, f"endTime: {exc}; closed at its last recorded moment"))
        final = doc.get("progress")
        ok = isinstance(final, int) and not isinstance(final, bool) and 0 <= final <= 100
        event("session_closed", ended or max(e.at for e in events), "closed",
              {"summary": None, "progress": final if ok else None, "reason": "ended" if ended else "recovered"})
    return SessionImport(file, sid, original if isinstance(original, str) else sid, active, events)


def looks_like_msp_store(folder: Path) -> bool:
    """msp's own ``.msp/`` (its database or config), which an import must never read as msp-model's."""
    return folder.name == ".msp" or (folder / "msp.db").exists() or (
        (folder / "config.toml").exists() and not (folder / CURRENT).exists() and not (folder / ARCHIVE).is_dir()
    )


def scan(folder: Path, project: str, zone: tzinfo | None, report: Report) -> list[SessionImport]:
    """Every session the folder holds (archived ones first, the one in progress last); what
    cannot be read is listed in ``report``."""
    found: list[tuple[str, Path]] = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name == ARCHIVE and path.is_dir():
            for inner in sorted(path.iterdir()):
                if inner.is_file() and inner.suffix.lower() == ".json":
                    found.append((f"{ARCHIVE}/{inner.name}", inner))
                else:
                    report.unknown.append(f"{ARCHIVE}/{inner.name}")
        elif name == CURRENT and path.is_file():
            continue  # read last, below
        elif name in DERIVED or _EXPORT.fullmatch(name):
            continue
        else:
            report.unknown.append(name + ("/" if path.is_dir() else ""))
    if (folder / CURRENT).is_file():
        found.append((CURRENT, folder / CURRENT))
    out: list[SessionImport] = []
    seen: set[str] = set()
    for file, path in found:
        try:
            doc = json.loads(_decode(path.read_bytes()))
            session = read_session(doc, file, project, zone, report.notes)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            reason = f"not JSON ({exc})" if isinstance(exc, json.JSONDecodeError) else str(exc)
            report.damaged.append(Listed(file, reason))
            continue
        if session.session_id in seen:  # ended and archived, its current file not yet removed
            report.notes.append(Listed(file, f"session {session.session_id} is archived too; the archive is used"))
            continue
        seen.add(session.session_id)
        out.append(session)
    return out


# --- recording -------------------------------------------------------------------------------


def record(store: Store, sessions: Iterable[SessionImport], report: Report,
           step: Callable[[SessionImport], None] | None = None) -> None:
    """Append each session's events not yet in the store, one transaction per session, with no
    planning: nothing is delivered now, ``msp replay`` back-fills integrations."""
    for session in sessions:
        if step is not None:
            step(session)
        with store.write() as tx:
            row = tx.session_row(session.session_id)
            have = {e.id for e in tx.session_events(session.session_id)} if row is not None else set()
            started = session.events[0]
            if row is not None and started.id not in have:
                report.skipped.append(Listed(session.file, f"a different session with id {session.session_id} "
                                                           "is already in the store; not imported"))
                continue
            missing = [e for e in session.events if e.id not in have]
            if not missing:
                report.present += 1
                continue
            if row is not None and row.status != "active":
                report.skipped.append(Listed(session.file, f"session {session.session_id} was closed in msp; "
                                                           f"{len(missing)} later msp-model moments not added"))
                continue
            if session.active and row is None:
                others = [s.id for s in tx.active_sessions()]
                if others:
                    report.skipped.append(Listed(session.file, f"session {others[-1]} is active in msp; the session "
                                                               "in progress is not imported (end it and import again)"))
                    continue
            if not report.dry_run:
                for event in missing:
                    tx.append(event)
            report.sessions += 1
            report.events += len(missing)
            report.imported.append(session.session_id)
