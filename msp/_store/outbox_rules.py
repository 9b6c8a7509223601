"""The rules of the outbox that hold whatever the backend: written once, used by every backend
and by the dispatcher.

A backend turns these into queries; it never restates them. The rules the dispatch-hardening
issue (12) changes each have one place here:

- *an attempt counts only when a request was started*: :func:`counts_attempt`. A drain marks
  an action started (``OutboxWriter.mark_started``, committed before the executor is called),
  so a backend reclaiming a lease knows whether the dead drain had sent it;
- *connection-level failures are bounded by age, not attempts*: the ``offline`` argument of
  :func:`after_failure`; such attempts are also counted apart (``offline_attempts``) so a
  service that comes back after a long outage still gets ``max_attempts`` answers;
- *a server cannot make a delay infinite*: :func:`clamp_delay_s`, applied to every delay
  a failure schedules;
- *"already applied" refusals are recorded as done*: decided by the executor reading the
  answer against the action's ``already_applied`` declarations (an ``Outcome`` of ``done``);
- *a newer pending write to the same file supersedes an older one*: :func:`file_target` and
  :func:`supersedes`, applied by the outbox's ``add_actions``
  (:class:`msp._store.interface.OutboxWriter`), the one way actions enter it.

Pure functions and data, no I/O, light to import.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from msp._store.interface import QueueOp, Status, Update

#: Statuses that block a lane: an action is claimable only when no earlier action of its lane
#: is in one of these. Held, done, dead and dropped actions do not hold back the ones after them.
BLOCKING: tuple[Status, ...] = ("pending", "in_flight")

#: ``last_error`` of an action whose lease was reclaimed.
RECLAIMED_NOTE = "outcome unknown: the drain delivering it stopped (lease reclaimed); retrying"


def now_ms() -> int:
    return int(time.time() * 1000)


def order_key(action_id: int) -> str:
    """An action's place in its lane: its id, zero-padded so keys sort as text."""
    return f"{action_id:012d}"


def follow_up_order_key(parent_key: str, index: int) -> str:
    """A follow-up sorts right after its parent, before anything planned after the parent."""
    return f"{parent_key}.{index:04d}"


def initial_status(held: bool) -> Status:
    return "held" if held else "pending"


def counts_attempt(started: bool | None) -> bool:
    """Whether an action handed back without an outcome used up one of its attempts.

    ``started`` says whether its request was started (True), was not (False), or nobody knows
    (None). A drain marks an action started before it calls the executor, so a reclaimed lease
    knows: claimed but never sent goes back unchanged. An unknown start (a lease taken before
    the mark existed) counts, so that an action that kills every drain delivering it still ends
    up dead.
    """
    return started is not False


@dataclass(frozen=True)
class OpRule:
    """A manual operation on queued actions: from which statuses, to which, and whether the
    action starts afresh (attempts and age window reset)."""

    to: Status
    sources: tuple[Status, ...]
    fresh: bool = False


QUEUE_OPS: dict[QueueOp, OpRule] = {
    # fresh: attempts, offline attempts and the age window start again.
    "retry": OpRule("pending", ("dead", "pending", "dropped"), fresh=True),
    "drop": OpRule("dropped", ("pending", "held", "dead")),
    "approve": OpRule("pending", ("held",)),
    "hold": OpRule("held", ("pending",)),
    # Asked for by hand (`msp setup`): run again even if delivered before; never under a drain.
    "rerun": OpRule("pending", ("pending", "held", "done", "dead", "dropped"), fresh=True),
}


# --- superseded writes ---------------------------------------------------------------------

#: Statuses of an action a newer write can supersede: not yet delivered, nor being delivered.
SUPERSEDABLE: tuple[Status, ...] = ("pending", "held")
#: The reserved section of a file's frontmatter, merged property by property: a frontmatter
#: write sets only the properties it names, so it never makes an older one pointless.
_MERGED_SECTIONS = frozenset({"frontmatter"})
_SEP = "\x00"


def file_target(kind: str, payload: dict[str, Any]) -> str | None:
    """What a ``file`` action writes, as a key a backend stores with it: root key, path and
    section (empty for a write to the whole file), NUL-separated; None for other kinds."""
    if kind != "file":
        return None
    section = payload.get("section") if payload.get("mode") in ("section", "section_append") else None
    return _SEP.join((str(payload.get("root_from", "root")), str(payload.get("path", "")), section or ""))


def supersedes(kind: str, payload: dict[str, Any]) -> tuple[str, bool] | None:
    """Which older waiting writes of the same integration a new action makes pointless.

    None when it supersedes nothing. Else ``(key, whole_file)``: with ``whole_file`` (mode
    ``replace``: the whole file becomes its content), every waiting write whose
    :func:`file_target` starts with ``key``; otherwise (mode ``section``: the managed block
    becomes its content) those whose target is ``key``, i.e. earlier replacements of and
    appends to the same block. Appends, ``create`` and frontmatter merges supersede nothing:
    what they leave depends on what is there. Delivered in order, the newer write would have
    overwritten whatever the older ones wrote, so marking those ``superseded`` changes no file;
    it keeps the queue, and the work of a drain after a long offline spell, flat.
    """
    target = file_target(kind, payload)
    if target is None:
        return None
    mode = payload.get("mode")
    if mode == "replace":
        return target.rsplit(_SEP, 1)[0] + _SEP, True
    if mode == "section" and payload.get("section") and payload["section"] not in _MERGED_SECTIONS:
        return target, False
    return None


# --- failures: retry later, or give up ---------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """The limits one integration's actions are delivered under."""

    max_attempts: int
    max_age_ms: int
    backoff_base_s: float
    backoff_cap_s: float


@dataclass(frozen=True)
class Transition:
    """What to write for an action after an outcome.

    ``note`` says why a delay was not taken as given (a server asked for an impossible one):
    the caller logs it.
    """

    status: Literal["done", "pending", "dead"]
    attempts: int
    next_attempt_ms: int
    error: str | None
    offline_attempts: int = 0
    note: str | None = None


#: No delay is ever longer than this, whatever the config or a server says (a year: far beyond
#: any age limit in use, and small enough that a clock plus it fits every integer column).
MAX_DELAY_S = 366 * 86_400.0


def delay_cap_s(limits: Limits) -> float:
    """The longest delay a failure may schedule: the backoff cap, or a server's own delay up to
    the age limit (waiting longer than that would only find the action given up)."""
    cap = max(limits.backoff_cap_s, limits.max_age_ms / 1000.0)
    return cap if cap <= MAX_DELAY_S else MAX_DELAY_S  # also when the config says inf


def clamp_delay_s(value: float | None, cap_s: float) -> tuple[float | None, str | None]:
    """A delay made safe to add to a clock: finite, in ``[0, cap_s]``, or None when unusable.

    Returns the delay and, when it was changed or dropped, a note saying why. ``NaN`` and
    negative values are dropped (the backoff decides instead); infinity and values beyond
    ``cap_s`` become ``cap_s``.
    """
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"ignored a delay that is not a number ({type(value).__name__})"
    number = float(value)
    if math.isnan(number):
        return None, "ignored a delay that is not a number (NaN)"
    if number < 0:
        return None, f"ignored a negative delay ({number:g} s)"
    if number > cap_s:  # infinity included
        return cap_s, f"a delay of {number:g} s was cut to the cap of {cap_s:g} s"
    return number, None


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]`` for the ``attempt``-th retry."""
    ceiling = min(cap_s, base_s * (2 ** max(0, min(attempt - 1, 62))))
    return (rng or random).uniform(0.0, ceiling)


def after_failure(
    *,
    retryable: bool,
    summary: str,
    attempts_before: int,
    window_start_ms: int,
    now_ms: int,
    limits: Limits,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
    offline: bool = False,
    offline_before: int = 0,
) -> Transition:
    """The next state after a failed attempt: retry later, or dead with the reason kept.

    ``offline`` marks a failure to reach the service at all (refused, DNS, unreachable, connect
    timeout): it backs off up to the cap and is bounded by the age limit only, so a laptop
    offline for a while does not use up its actions' attempts. ``attempts`` counts every
    attempt (it sets the backoff); ``max_attempts`` bounds only those that reached the service
    (``attempts - offline_attempts``), so answers from a service that has just come back still
    get their full share.

    The delay is clamped (:func:`clamp_delay_s`) whatever a server said: ``next_attempt_ms`` is
    always in ``[now_ms, now_ms + delay_cap_s(limits) * 1000]``.
    """
    attempts = attempts_before + 1
    offline_attempts = min(offline_before + (1 if offline else 0), attempts)
    reached = attempts - offline_attempts
    if not retryable:
        return Transition("dead", attempts, now_ms, summary, offline_attempts)
    if reached >= limits.max_attempts and not offline:
        return Transition("dead", attempts, now_ms, f"gave up after {reached} attempt(s); last: {summary}",
                          offline_attempts)
    if now_ms - window_start_ms >= limits.max_age_ms:
        hours = limits.max_age_ms / 3_600_000
        return Transition("dead", attempts, now_ms, f"gave up: still failing after {hours:g} h; last: {summary}",
                          offline_attempts)
    delay, note = clamp_delay_s(retry_after_s, delay_cap_s(limits))
    if delay is None:
        cap = min(limits.backoff_cap_s, MAX_DELAY_S)
        delay, _ = clamp_delay_s(backoff_s(attempts, limits.backoff_base_s, cap, rng), cap)
    return Transition("pending", attempts, now_ms + int((delay or 0.0) * 1000), summary, offline_attempts, note)


def outcome_columns(update: Update, now: int) -> list[tuple[str, Any]]:
    """What recording an outcome writes to its action, as (column, value) pairs: the lease and
    the started mark are cleared, and only what the outcome says is set. ``released`` (handed
    back untried) is stored as ``pending``. Each backend turns the pairs into its own UPDATE."""
    columns: list[tuple[str, Any]] = [
        ("lease_owner", None), ("lease_until_ms", None), ("started_ms", None), ("updated_ms", now),
        ("status", "pending" if update.status == "released" else update.status),
    ]
    if update.attempts is not None:
        columns.append(("attempts", update.attempts))
    if update.next_attempt_ms is not None:
        columns.append(("next_attempt_ms", update.next_attempt_ms))
    if not update.keep_error:
        columns.append(("last_error", update.error))
    if update.result is not None:
        columns.append(("result", update.result))
    if update.status_code is not None:
        columns.append(("last_status", update.status_code))
    if update.offline_attempts is not None:
        columns.append(("offline_attempts", update.offline_attempts))
    return columns


def earliest_due(
    heads: Iterable[tuple[str, str | None, str, str, int | None, int | None]],
    skip_lanes: Iterable[tuple[str, str | None]] = (),
    skip_integrations: Iterable[str] = (),
    skip_kinds: Iterable[str] = (),
) -> int | None:
    """When the next lane head falls due: a pending one at its next attempt, one in flight when
    its lease runs out; lanes, integrations and kinds the drain set aside don't count.
    ``heads`` are (integration, session, kind, status, next_attempt_ms, lease_until_ms) of the
    actions at the head of their lane, as each backend reads them."""
    lanes, integrations, kinds = set(skip_lanes), set(skip_integrations), set(skip_kinds)
    best: int | None = None
    for integration, session, kind, status, due, lease in heads:
        if integration in integrations or kind in kinds or (integration, session) in lanes:
            continue
        when = int(due or 0) if status == "pending" else int(lease or 0)
        best = when if best is None else min(best, when)
    return best
