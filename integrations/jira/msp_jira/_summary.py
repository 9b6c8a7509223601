"""What a session summary says, independent of how it is rendered (ADF or wiki markup).

Built from the session alone (no clock, no I/O): duration from its start and end times.
Texts are cleaned (control characters dropped, line ends normalised) and trimmed to fit a
character budget, so a session with a thousand updates or a 10 KB decision still makes a
comment Jira accepts; what is left out is counted ("... and 12 more"), never silently lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from msp import session_duration

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ELLIPSIS = "…"


@dataclass(frozen=True)
class Detail:
    label: str
    text: str


@dataclass(frozen=True)
class Item:
    text: str
    tag: str | None = None  # e.g. "40%" or "resolved", shown bold before the text
    details: tuple[Detail, ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[Item, ...]
    more: int = 0  # items not shown

    @property
    def more_text(self) -> str:
        noun = "item" if self.more == 1 else "items"
        return f"{ELLIPSIS} and {self.more} more {noun} (msp show has them all)"


@dataclass(frozen=True)
class Summary:
    title: str
    facts: tuple[Detail, ...]
    sections: tuple[Section, ...]
    footer: str
    empty_note: str | None = None  # shown when there is nothing to list


def clean(text: str) -> str:
    """Normalise line ends and drop control characters a tracker may refuse (tabs stay)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clip(text: str, limit: int) -> str:
    text = clean(text).strip()
    if len(text) <= limit:
        return text
    return text[: max(1, limit - 1)].rstrip() + ELLIPSIS


def session_end(session: Any, event: Any | None = None) -> datetime:
    """When the session ended: its end time, else the closing event's, else its last event's."""
    end: datetime = session.ended_at or (event.at if event is not None else None) or session.last_event_at
    return end


def duration_seconds(session: Any, event: Any | None = None) -> int:
    """Whole seconds from the session's start to its end (as :func:`session_end` says)."""
    return round(session_duration(session, event.at if event is not None else None))


def human_duration(seconds: int) -> str:
    # Jira's own wording, kept rather than msp.format_duration: worklogs and comments read
    # "1h 5m" rounded to the nearest minute, and a few seconds as "40s".
    minutes = (seconds + 30) // 60
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours}h {minutes}m"
    if hours:
        return f"{hours}h"
    return f"{minutes}m" if minutes else f"{seconds}s"


def progress_text(session: Any) -> str:
    delta = session.progress_delta
    sign = "+" if delta >= 0 else "−"
    return f"{session.start_progress}% → {session.progress}% ({sign}{abs(delta)} points)"


def utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def fair_cap(lengths: list[int], budget: int, *, floor: int, ceiling: int) -> int:
    """The largest cap ``c`` (within floor..ceiling) with ``sum(min(n, c)) <= budget``: short
    texts are kept whole and only the longest ones are trimmed."""
    if sum(min(n, ceiling) for n in lengths) <= budget:
        return ceiling
    remaining, left = budget, len(lengths)
    for n in sorted(lengths):
        share = remaining // left
        if n > share:
            return max(floor, min(ceiling, share))
        remaining -= n
        left -= 1
    return ceiling


def build_summary(session: Any, event: Any | None, *, max_items: int, max_item_chars: int,
                  budget: int) -> Summary:
    """The summary of a closed session, its texts trimmed so all of them fit in ``budget``."""
    raw_sections = _raw_sections(session)
    lengths = [len(clean(t).strip()) for _, items in raw_sections for item in items[:max_items]
               for t in (item.text, *(d.text for d in item.details))]
    # The facts (goal, summary) take at most a quarter; the lists share the rest.
    per_piece = fair_cap(lengths, budget - min(2 * max_item_chars, budget // 4), floor=60, ceiling=max_item_chars)

    seconds = duration_seconds(session, event)
    facts = [Detail("Project", clip(session.project, 200))]
    if session.goal:
        facts.append(Detail("Goal", clip(session.goal, max_item_chars)))
    span = f"{utc_text(session.started_at)} to {utc_text(session_end(session, event))}"
    facts.append(Detail("Duration", f"{human_duration(seconds)} ({span})"))
    facts.append(Detail("Progress", progress_text(session)))
    if session.summary:
        facts.append(Detail("Summary", clip(session.summary, max_item_chars)))
    if session.close_reason and session.close_reason != "ended":
        facts.append(Detail("Closed", clip(session.close_reason, 200)))

    sections = []
    for title, items in raw_sections:
        shown = tuple(
            Item(
                clip(item.text, per_piece) or ELLIPSIS,
                item.tag,
                tuple(Detail(d.label, clip(d.text, per_piece)) for d in item.details if clean(d.text).strip()),
            )
            for item in items[:max_items]
        )
        sections.append(Section(title, shown, max(0, len(items) - max_items)))
    nothing = None
    if not any(s.items for s in sections):
        nothing = "No updates, decisions or blockers were recorded in this session."
    return Summary(
        title=f"Work session summary: {clip(session.project, 200)}",
        facts=tuple(facts),
        sections=tuple(s for s in sections if s.items),
        footer=f"Recorded by msp, session {session.id}",
        empty_note=nothing,
    )


@dataclass(frozen=True)
class _Raw:
    text: str
    tag: str | None = None
    details: list[Detail] = field(default_factory=list)


def _raw_sections(session: Any) -> list[tuple[str, list[_Raw]]]:
    updates = [
        _Raw(u.text, f"{u.progress}%" if u.progress is not None else None,
             [Detail("Tags", ", ".join(u.tags))] if u.tags else [])
        for u in session.updates
    ]
    decisions = []
    # Items taken back (`msp retract`) are not part of what the session did.
    for d in (d for d in session.decisions if not d.is_retracted):
        details = []
        if d.rationale:
            details.append(Detail("Rationale", d.rationale))
        if d.alternatives:
            details.append(Detail("Alternatives considered", "; ".join(d.alternatives)))
        if d.impact:
            details.append(Detail("Impact", d.impact))
        decisions.append(_Raw(d.text, None, details))
    blockers = []
    for b in [*session.blockers, *session.resolved_elsewhere]:
        if b.is_retracted:
            continue
        details = []
        if b.severity:
            details.append(Detail("Severity", b.severity))
        if b.solution:
            details.append(Detail("Solution", b.solution))
        if b.session_id != session.id:
            details.append(Detail("Raised in", f"session {b.session_id}"))
        blockers.append(_Raw(b.text, "open" if b.is_open else "resolved", details))
    return [("Updates", updates), ("Decisions", decisions), ("Blockers", blockers)]
