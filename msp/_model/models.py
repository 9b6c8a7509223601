"""What a session is made of: validated inputs, stored events, and the views built from them.

The input models are the one source of truth for validation: the CLI, the Python API and the
MCP server all validate through them, and the MCP tool schemas are generated from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from msp._model.durations import session_duration

#: The documented limit for any one piece of text (an update, a decision, a name...).
MAX_TEXT_CHARS = 65_536
#: Short labels: project names, tags, categories, issue keys.
MAX_LABEL_CHARS = 200


def _not_blank(value: str) -> str:
    # Kept exactly as typed: only rejected when there is nothing but whitespace.
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return _no_nul(value)


def _no_nul(value: str) -> str:
    # Text is stored and handed on exactly; a NUL byte would be cut short or refused further
    # down (C strings, file names, terminals, some receivers), so it is refused here, at input.
    if "\x00" in value:
        raise ValueError(f"must not contain a NUL character (found at position {value.index(chr(0))})")
    return value


def _whole_percent(value: Any) -> Any:
    """Progress is a number, typed in ASCII digits: ``True`` is not 1 and ``"٤٠"`` is not 40."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number from 0 to 100, not true or false")
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise ValueError("must be a whole number from 0 to 100 in the digits 0-9")
        if len(value) > 3:
            raise ValueError("must be a whole number from 0 to 100")
        return int(value)
    return value


# Limits are in characters (code points), not bytes: "é" * MAX_TEXT_CHARS fits.
Text = Annotated[
    str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_not_blank)
]
Label = Annotated[
    str, Field(min_length=1, max_length=MAX_LABEL_CHARS), AfterValidator(_not_blank)
]
OptionalText = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_no_nul)] | None
Progress = Annotated[
    int, BeforeValidator(_whole_percent), Field(ge=0, le=100, description="Percent complete, 0 to 100.")
]
Impact = Literal["low", "medium", "high"]
Severity = Literal["low", "medium", "high"]
BlockerCategory = Literal["technical", "external", "resource"]
Source = Literal["cli", "mcp", "api"]


def _empty_list() -> list[Any]:
    """A new empty list: the default of list fields. Not ``list`` itself: for a builtin, pydantic
    reads the factory's signature from its text with ``tokenize``, about a millisecond a field
    on every command that validates (``msp update``)."""
    return []


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class StartInput(_Input):
    """Start a work session."""

    project: Label | None = Field(
        None, description="Project name; defaults to config, then to the directory's name."
    )
    goal: OptionalText = Field(None, description="What this session is meant to achieve.")
    progress: Progress | None = Field(
        None, description="Progress at start; defaults to where the project's last session ended."
    )
    issue: Label | None = Field(None, description="Issue key this session works on, e.g. ENG-123.")


#: A git object name: 40 (SHA-1) or 64 (SHA-256) lowercase hexadecimal digits.
CommitHash = Annotated[str, Field(pattern=r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")]


class CommitInput(_Input):
    """The git commit an update records (``msp git hook install``): read from git, not typed."""

    hash: CommitHash = Field(description="The commit's full object name.")
    subject: OptionalText = Field(None, description="The first line of its message.")
    files: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_no_nul)]] = Field(
        default_factory=_empty_list, max_length=10_000,
        description="Paths the commit changed, relative to the repository.",
    )


class UpdateInput(_Input):
    """Record progress."""

    text: Text = Field(description="What happened.")
    progress: Progress | None = Field(None, description="Percent complete after this update.")
    tags: list[Label] = Field(default_factory=_empty_list, description="Free-form tags.")
    commit: CommitInput | None = Field(None, description="The git commit this update records, if any.")


class DecisionInput(_Input):
    """Record a decision."""

    text: Text = Field(description="What was decided.")
    rationale: OptionalText = Field(None, description="Why.")
    alternatives: list[Text] = Field(default_factory=_empty_list, description="Options considered and not taken.")
    impact: Impact | None = Field(None, description="low, medium or high.")
    category: Label | None = Field(None, description="e.g. architecture, tooling.")


class EntityInput(_Input):
    """Record something created or touched: a module, a service, a table."""

    name: Text = Field(description="The entity's name.")
    type: Label | None = Field(None, description="e.g. module, service, table.")
    path: OptionalText = Field(None, description="Where it lives.")
    description: OptionalText = Field(None, description="What it is.")


class BlockerInput(_Input):
    """Raise a blocker."""

    text: Text = Field(description="What blocks progress.")
    category: BlockerCategory | None = Field(None, description="technical, external or resource.")
    severity: Severity | None = Field(None, description="low, medium or high.")


class ResolveInput(_Input):
    """Resolve an open blocker by its id (or a unique prefix) or by text that only it contains."""

    blocker: Text = Field(description="Blocker id, unique id prefix, or unique text.")
    solution: OptionalText = Field(None, description="How it was resolved.")


class GoalInput(_Input):
    """Change the active session's goal."""

    goal: Text = Field(description="What the session is meant to achieve from now on.")


class RetractInput(_Input):
    """Take back a decision, entity or blocker (a wrong detection, a mistyped item)."""

    item: Text = Field(description="The item's id, or a unique part of it (any session of the project).")
    reason: OptionalText = Field(None, description="Why it is taken back.")


class EndInput(_Input):
    """End the active session."""

    summary: OptionalText = Field(None, description="What the session achieved.")
    progress: Progress | None = Field(None, description="Final progress; defaults to the last recorded.")


# --- events ------------------------------------------------------------------------------

EventType = Literal[
    "session_started",
    "progress_updated",
    "decision_recorded",
    "entity_recorded",
    "blocker_raised",
    "blocker_resolved",
    "session_resumed",
    "session_closed",
    "goal_changed",
    "item_retracted",
]
# What each type means (its input, hook, fold and item) is declared once, in msp._model.events.


def format_time(at: datetime) -> str:
    """Fixed-format ISO-8601 UTC with microseconds, so strings sort like the times."""
    # isoformat, not strftime: the same text at a third of the cost, on every stored event.
    return at.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_time(text: str) -> datetime:
    """The inverse of :func:`format_time` (``fromisoformat``: strptime is ~20x slower here)."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


@dataclass(frozen=True)
class Event:
    """One immutable moment. ``data`` holds the validated item as plain JSON values."""

    id: str
    type: EventType
    session_id: str
    project: str
    at: datetime
    source: Source
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "type": self.type,
            "session_id": self.session_id,
            "project": self.project,
            "at": format_time(self.at),
            "source": self.source,
            "data": self.data,
        }

    def data_json(self) -> str:
        return _DATA_ENCODER.encode(self.data)


_DATA_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# --- views (projections of events) -------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class Commit(_View):
    hash: str
    subject: str | None = None
    files: list[str] = Field(default_factory=_empty_list)


class Update(_View):
    id: str
    at: datetime
    text: str
    progress: int | None = None
    tags: list[str] = Field(default_factory=_empty_list)
    #: The git commit the update records (``msp git``); None for a typed update.
    commit: Commit | None = None


class _Item(_View):
    """What decisions, entities and blockers share: where they came from, and whether they
    were taken back."""

    #: Noticed in an update's text (msp._model.detect), not recorded by its own command: an
    #: integration may wait for the session's close before posting it.
    detected: bool = False
    #: The id of the update (its event) it was detected in.
    from_update: str | None = None
    #: When it was taken back (``msp retract``); None while it stands.
    retracted_at: datetime | None = None
    retraction: str | None = Field(None, description="Why it was taken back, when said.")

    @property
    def is_retracted(self) -> bool:
        return self.retracted_at is not None


class Decision(_Item):
    id: str
    at: datetime
    text: str
    rationale: str | None = None
    alternatives: list[str] = Field(default_factory=_empty_list)
    impact: str | None = None
    category: str | None = None


class Entity(_Item):
    id: str
    at: datetime
    name: str
    type: str | None = None
    path: str | None = None
    description: str | None = None


class Blocker(_Item):
    id: str
    at: datetime
    text: str
    category: str | None = None
    severity: str | None = None
    session_id: str
    resolved_at: datetime | None = None
    solution: str | None = None
    resolved_in: str | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Session(_View):
    """A session as it stands: what every hook receives as ``session``."""

    id: str
    project: str
    status: Literal["active", "closed"]
    goal: str | None = None
    issue: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    last_event_at: datetime
    start_progress: int
    progress: int
    summary: str | None = None
    close_reason: str | None = None
    source: str = "cli"
    user: str | None = Field(
        None, description="The engineer the session belongs to (MSP_USER, else the login name); None for a "
        "session recorded before sessions had one.",
    )
    host: str | None = Field(None, description="The machine the session was started on (MSP_HOST, else its name).")
    update_count: int = Field(
        0, ge=0, description="How many updates the session has: the session a hook receives holds only the "
        "latest of them (msp._model.events.RECENT_UPDATES), except on close. Left out, it is len(updates).",
    )
    started_seq: int | None = Field(
        None, description="The store's position (sequence) of the session_started event; None when not read "
        "from a store.",
    )
    last_seq: int | None = Field(
        None, description="The store's position of the session's latest event. Positions strictly increase; times "
        "do not (two events may share a millisecond), so what was later is decided by these.",
    )
    updates: list[Update] = Field(default_factory=_empty_list)
    decisions: list[Decision] = Field(default_factory=_empty_list)
    entities: list[Entity] = Field(default_factory=_empty_list)
    blockers: list[Blocker] = Field(default_factory=_empty_list)
    resolved_elsewhere: list[Blocker] = Field(
        default_factory=_empty_list, description="Blockers of earlier sessions resolved in this one."
    )

    @model_validator(mode="before")
    @classmethod
    def _count_updates(cls, data: Any) -> Any:
        if isinstance(data, dict) and "update_count" not in data:
            return {**data, "update_count": len(data.get("updates") or [])}
        return data

    @property
    def open_blockers(self) -> list[Blocker]:
        return [b for b in self.blockers if b.is_open and not b.is_retracted]

    @property
    def progress_delta(self) -> int:
        return self.progress - self.start_progress

    def duration_seconds(self, now: datetime | None = None) -> float:
        """Seconds until ``ended_at``, else ``now``, else the last recorded moment; never the clock."""
        return session_duration(self, now)
