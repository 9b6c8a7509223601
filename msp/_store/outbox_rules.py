"""The rules of the outbox that hold whatever the backend: written once, used by every backend
and by the dispatcher.

A backend turns these into queries; it never restates them. The rules the dispatch-hardening
issue (12) changes each have one place here:

- *an attempt counts only when a request was started*: :func:`counts_attempt`, used when a
  drain hands an action back without an outcome and when a lease is reclaimed;
- *connection-level failures are bounded by age, not attempts*: the ``offline`` argument of
  :func:`after_failure`;
- *"already applied" refusals are recorded as done*: :func:`after_failure` is where a failure
  becomes ``dead`` (``Transition`` already allows ``done``);
- *a newer pending write to the same file supersedes an older one*: :func:`file_target` and
  :func:`supersedes`, applied by the outbox's ``add_actions``
  (:class:`msp._store.interface.OutboxWriter`), the one way actions enter it.

Pure functions and data, no I/O, light to import.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Literal

from msp._store.interface import QueueOp, Status

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
    (None: the lease of a drain that stopped was reclaimed). An unknown start counts, so that an
    action that kills every drain delivering it still ends up dead.
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
    """What to write for an action after an outcome."""

    status: Literal["done", "pending", "dead"]
    attempts: int
    next_attempt_ms: int
    error: str | None


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
) -> Transition:
    """The next state after a failed attempt: retry later, or dead with the reason kept.

    ``offline`` marks a failure to reach the service at all: it is bounded by the age limit
    only, so a laptop offline for a while does not use up its actions' attempts.
    """
    attempts = attempts_before + 1
    if not retryable:
        return Transition("dead", attempts, now_ms, summary)
    if attempts >= limits.max_attempts and not offline:
        return Transition("dead", attempts, now_ms, f"gave up after {attempts} attempt(s); last: {summary}")
    if now_ms - window_start_ms >= limits.max_age_ms:
        hours = limits.max_age_ms / 3_600_000
        return Transition("dead", attempts, now_ms, f"gave up: still failing after {hours:g} h; last: {summary}")
    if retry_after_s is not None:
        delay = retry_after_s
    else:
        delay = backoff_s(attempts, limits.backoff_base_s, limits.backoff_cap_s, rng)
    return Transition("pending", attempts, now_ms + int(delay * 1000), summary)
