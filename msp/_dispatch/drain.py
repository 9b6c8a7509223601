"""The drain: claims due actions from the outbox and delivers them through executors.

One asyncio loop. Each claimed *run* (consecutive due actions of one lane, i.e. one
integration and session) goes to one worker task, which delivers it in order. Outcomes are
buffered and written, together with the next claims and lease renewals, in one transaction per
loop turn.

Order within a lane, for every executor: the run stops at the first action that stays in the
lane (a retry or a wait: it is pending again and blocks what follows) and right after an action
that produced follow-ups (they are inserted right after their parent and must go before the
rest of the run). Everything after that point goes back to pending untouched, its attempt not
counted. A batching executor is held to the same rule: outcomes it returns past that point are
not applied, and those actions come up again in their turn. A dead action leaves its lane (it
never blocks one), so the run goes on after it.

Per integration: at most ``concurrency`` runs in flight, at most ``rate_per_second`` executor
calls per second, and a pause after a response that said when to come back (``Retry-After`` or
a rate-limit reset), never longer than the policy's cap whatever the server said.

What an attempt is: before an executor is called, the actions handed to it are marked started
in the store (one transaction for every worker starting in the same loop turn). A drain that
dies leaves leases behind; whoever reclaims them counts an attempt only for the started ones,
and the claimed-but-unsent go back exactly as they were.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msp._config import DispatchConfig
from msp._dispatch.policy import Limits, after_failure
from msp._dispatch.registry import ExecutorUnavailable, Registry
from msp._executors import BaseExecutor, ExecutionContext, Outcome
from msp._logging import get_log, mask_secrets, redact, remember_secret
from msp._secrets import MissingCredential
from msp._store.interface import ActionRow, FollowUp, Lane, Outbox, Store, Update
from msp._store.outbox_rules import clamp_delay_s, counts_attempt, delay_cap_s, now_ms
from msp._store.worker_records import Waker, WorkerRow

MAX_TEXT = 2000
#: Outcomes are written at the latest this long after they are known (or FLUSH_BATCH of them).
FLUSH_AFTER_S = 0.005
FLUSH_BATCH = 64
#: Started marks of actions about to be sent are gathered this long into one transaction (with
#: the outcomes buffered by then): one write per few actions rather than one per action, for a
#: delay no request notices.
MARK_GATHER_S = 0.002
#: After a claim came back short, look for more work of that integration this much later
#: (sooner when one of its workers finishes).
CLAIM_BACKOFF_S = 0.1
#: A worker's heartbeat (its row in the workers table, and the renewal of its leases) comes at
#: least this often, and more often when a third of the lease is shorter.
HEARTBEAT_S = 10.0


@dataclass
class IntegrationInfo:
    """An integration as the drain sees it: its merged config and the host's settings."""

    name: str
    config: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None  # set when it is configured but cannot be used


@dataclass
class DrainOptions:
    wait: bool = False
    """Keep going until nothing pending can come due (bounded by ``deadline`` and ``linger_s``)."""
    integration: str | None = None
    limit: int | None = None
    """Most actions to attempt in this run."""
    deadline: float | None = None
    """``time.monotonic()`` after which the drain stops (in-flight work is interrupted)."""
    linger_s: float | None = None
    """With ``wait``: exit instead of sleeping longer than this for the next retry."""
    skip_offline: bool = False
    """With ``wait``: a lane whose service could not be reached is left for a later drain
    instead of being retried in this one (``msp dispatch --wait`` does not sit out an outage)."""
    before_sleep: Callable[[], None] | None = None
    after_sleep: Callable[[], bool] | None = None
    """Called after an idle sleep; returning False ends the drain (another drain took over)."""
    waker: Waker | None = None
    """A worker (``msp dispatch --worker``): never stop when idle; sleep on this until actions
    may have been queued (or ``poll_s`` passes), until :meth:`Dispatcher.request_stop`."""
    poll_s: float = 30.0
    """With ``waker``: the longest idle sleep without a wake-up (the fallback poll)."""


@dataclass
class DrainReport:
    done: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    released: int = 0
    reclaimed: int = 0
    follow_ups: int = 0
    attempted: int = 0
    stopped: str = ""
    remaining: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    waits: list[dict[str, Any]] = field(default_factory=list)
    """What is still pending and why, grouped: integration, count, reason, next attempt."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": self.done, "retried": self.retried, "dead": self.dead, "waiting": self.waiting,
            "released": self.released, "reclaimed": self.reclaimed, "follow_ups": self.follow_ups,
            "attempted": self.attempted, "stopped": self.stopped, "remaining": self.remaining,
            "notes": self.notes, "waits": self.waits,
        }


@dataclass
class _Context(ExecutionContext):
    """An execution context that remembers the secrets it handed out, to scrub them from text."""

    seen: set[str] = field(default_factory=set)

    def secret(self, key: str) -> str:
        value = super().secret(key)
        self.remember(value)
        return value

    def remember(self, value: str) -> None:
        if value and len(value) >= 4:
            self.seen.add(value)
            # For the whole process too: whatever this drain stores, logs or reports (another
            # lane's error quoting it, say) is masked as well. A URL is masked whole only; the
            # http executor remembers its secret pieces (path, query) on their own.
            remember_secret(value, fragments="://" not in value)


def scrub(text: str, secrets: set[str] | frozenset[str] = frozenset()) -> str:
    """Text safe to store or print: every secret resolved in this process (and ``secrets``)
    masked, with any run of 8 or more of its characters (a token cut short in an excerpt),
    then credential-looking text redacted."""
    clean = redact(mask_secrets(text, secrets))
    out = clean if isinstance(clean, str) else str(clean)
    return out if len(out) <= MAX_TEXT else out[: MAX_TEXT - 1] + "…"


class _RateLimiter:
    """Evenly spaced calls: at most ``rate`` per second, no bursts."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = 0.0

    async def acquire(self, n: int = 1) -> None:
        now = time.monotonic()
        slot = max(now, self.next_at)
        self.next_at = slot + n * self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class _Lane:
    """Per-integration state for one drain."""

    info: IntegrationInfo
    concurrency: int
    limits: Limits
    limiter: _RateLimiter | None
    running: int = 0
    paused_until: float = 0.0
    claim_after: float = 0.0
    skip_sessions: set[str | None] = field(default_factory=set)


def _batches(executor: Any) -> bool:
    method = getattr(type(executor), "execute_batch", None)
    return method is not None and method is not BaseExecutor.execute_batch


def _new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


class Dispatcher:
    """Delivers the outbox of one store."""

    def __init__(
        self,
        store: Store,
        integrations: Mapping[str, IntegrationInfo],
        config: DispatchConfig,
        project_root: Path,
        *,
        executors: Mapping[str, Any] | None = None,
        executor_kinds: Mapping[str, Any] | None = None,
        holds_lock: bool = False,
        progress: Callable[[DrainReport], None] | None = None,
        rng: random.Random | None = None,
        worker: WorkerRow | None = None,
        on_unusable: Callable[[str, str], None] | None = None,
    ) -> None:
        self.outbox = Outbox(store)
        self.integrations = dict(integrations)
        self.config = config
        self.project_root = project_root
        self.registry = Registry(executors, executor_kinds)
        self.holds_lock = holds_lock
        self.progress = progress
        self.rng = rng or random.Random()
        self.worker = worker
        """A worker's row, written with every heartbeat; its id is the owner of its leases."""
        self.owner = worker.id if worker is not None else _new_owner()
        self.on_unusable = on_unusable
        """Told (name, why) of each integration this drain cannot deliver, instead of noting it
        on the actions: a worker leaves them to another worker, which may well deliver them."""
        self.report = DrainReport()
        self._lanes: dict[str, _Lane] = {}
        self._skip_kinds: set[str] = set()
        self._unusable: set[str] = set()
        self._updates: list[Update] = []
        self._parents: dict[int, ActionRow] = {}
        self._claimed: dict[int, ActionRow] = {}
        self._started: set[int] = set()
        self._claimed_total = 0
        self._known_due: set[str] = set()
        self._went_on: set[str] = set()  # integrations whose runs just ended: look at them again
        self._due_checked = 0.0
        self._renewed = 0.0
        self._log = get_log()
        self._wait = False
        self._skip_offline = False
        self._marks: list[int] = []
        self._marks_written: asyncio.Future[None] | None = None
        self._dirty = asyncio.Event()
        self._finished: list[asyncio.Task[None]] = []
        self._first_unflushed = 0.0
        self._stop = asyncio.Event()
        self._stop_at = 0.0

    # --- set-up --------------------------------------------------------------------------

    def _lane(self, name: str) -> _Lane | None:
        lane = self._lanes.get(name)
        if lane is not None:
            return lane
        info = self.integrations.get(name)
        if info is None or info.error is not None:
            return None
        settings = info.settings
        rate = settings.get("rate_per_second")
        lane = _Lane(
            info=info,
            concurrency=max(1, int(settings.get("concurrency", self.config.concurrency))),
            limits=Limits(
                max_attempts=max(1, int(settings.get("max_attempts", self.config.max_attempts))),
                max_age_ms=int(self.config.max_age_hours * 3_600_000),
                backoff_base_s=self.config.backoff_base_s,
                backoff_cap_s=self.config.backoff_cap_s,
            ),
            limiter=_RateLimiter(float(rate)) if rate else None,
        )
        self._lanes[name] = lane
        return lane

    def _mark_unusable(self, names: list[str]) -> None:
        """Leave actions of integrations that are not enabled (or failed to load) pending, saying why."""
        fresh = [n for n in names if n not in self._unusable and self._lane(n) is None]
        if not fresh:
            return
        if self.on_unusable is not None:
            for name in fresh:
                info = self.integrations.get(name)
                self.on_unusable(name, info.error if info is not None and info.error else "not configured")
            self._unusable.update(fresh)
            return
        now = now_ms()
        with self.outbox.write() as tx:
            for name in fresh:
                info = self.integrations.get(name)
                why = (
                    f"integration {name!r} cannot be used: {info.error}" if info is not None and info.error
                    else f"integration {name!r} is not enabled in config; enable [integrations.{name}] "
                         "or drop its actions with `msp queue drop`"
                )
                tx.note_error(tx.pending_ids_of(name), scrub(why), now)
                self.report.notes.append(why)
        self._unusable.update(fresh)

    # --- the loop ------------------------------------------------------------------------

    async def run(self, opts: DrainOptions | None = None) -> DrainReport:
        opts = opts or DrainOptions()
        self._wait = opts.wait
        self._skip_offline = opts.skip_offline
        tasks: dict[asyncio.Task[None], list[ActionRow]] = {}
        try:
            with self.outbox.write() as tx:
                self.report.reclaimed += tx.reclaim(self.owner, now_ms(), other_owners=self.holds_lock)
            while True:
                claimed = self._cycle(opts, idle=not tasks)
                for run in claimed:
                    lane = self._lanes[run[0].integration]
                    lane.running += 1
                    task = asyncio.create_task(self._work(lane, run))
                    task.add_done_callback(self._finished_task)
                    tasks[task] = run
                if opts.deadline is not None and time.monotonic() >= opts.deadline:
                    self.report.stopped = "timeout"
                    break
                if self._stop.is_set() and (not tasks or time.monotonic() >= self._stop_at):
                    self.report.stopped = "stopped"
                    break
                if tasks:
                    # Sleep until a worker finishes (its slot can be filled) or buffered outcomes
                    # are due to be written (FLUSH_AFTER_S), whichever comes first.
                    if not self._finished:
                        try:
                            async with asyncio.timeout(self._tick(opts)):
                                await self._dirty.wait()
                        except TimeoutError:
                            pass
                    self._dirty.clear()
                    finished, self._finished = self._finished, []
                    for task in finished:
                        run = tasks.pop(task)
                        lane = self._lanes[run[0].integration]
                        lane.running -= 1
                        lane.claim_after = 0.0  # its lane may go on: claim (and write) now
                        # ...even in a one-pass drain: what the run handed back (after follow-ups
                        # or a dead action) and the follow-ups are due once the outcomes are written.
                        self._went_on.add(lane.info.name)
                        task.result()  # workers handle their own errors; a bug surfaces here
                    continue
                if self._updates:
                    continue
                if self._limit_reached(opts):
                    self.report.stopped = "limit"
                    break
                delay = self._idle_delay(opts)
                if delay is None:
                    if opts.waker is None:
                        self.report.stopped = self.report.stopped or "idle"
                        break
                    delay = opts.poll_s  # nothing can come due: until a wake-up, or the poll
                if opts.waker is not None:
                    delay = min(delay, self._beat_s())
                if delay > 0:
                    if opts.before_sleep:
                        opts.before_sleep()
                    if opts.waker is not None:
                        await self._sleep_on(opts.waker, delay)
                    else:
                        await asyncio.sleep(delay)
                    if opts.after_sleep and not opts.after_sleep():
                        self.report.stopped = "handed over"
                        break
                    with self.outbox.write() as tx:
                        self.report.reclaimed += tx.reclaim(self.owner, now_ms(), other_owners=self.holds_lock)
                    self._due_checked = 0.0
        finally:
            try:
                await self._shutdown(tasks)
            finally:
                if self.worker is not None:
                    self._last_beat()
        with self.outbox.read() as tx:
            self.report.remaining = {k: v for k, v in tx.counts().items() if k in ("pending", "held", "in_flight")}
            if self.report.remaining.get("pending"):
                self.report.waits = waits(tx.select(("pending",), opts.integration, WAITS_SCANNED), now_ms())
        return self.report

    def request_stop(self, grace_s: float = 0.0) -> None:
        """Stop claiming; end the run once the runs in flight finish, or after ``grace_s``
        (then what is still held goes back, see :meth:`_shutdown`). Safe from a signal handler
        on the drain's loop."""
        deadline = time.monotonic() + grace_s
        self._stop_at = min(self._stop_at, deadline) if self._stop.is_set() else deadline
        self._stop.set()
        self._dirty.set()

    async def _sleep_on(self, waker: Waker, delay: float) -> None:
        """An idle worker's sleep: until the waker wakes it, ``delay`` passes, or a stop."""
        woken = asyncio.ensure_future(waker.wait(delay))
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({woken, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (woken, stopped):
                fut.cancel()
            await asyncio.gather(woken, stopped, return_exceptions=True)
        names = woken.result() if woken.done() and not woken.cancelled() and woken.exception() is None else None
        if names is not None:
            self._log.log("debug", "dispatch worker woken", by="notification" if waker.notified else "store poll",
                          integrations=sorted(names))

    def _beat_s(self) -> float:
        """How often leases are renewed (and a worker's heartbeat written)."""
        third = self.config.lease_s / 3
        return min(third, HEARTBEAT_S) if self.worker is not None else third

    def _worker_row(self, now: int, stopped: bool = False) -> WorkerRow:
        assert self.worker is not None
        self.worker.last_beat_ms = now
        self.worker.delivered = self.report.done
        self.worker.stopped_ms = now if stopped else None
        return self.worker

    def _last_beat(self) -> None:
        """A worker that stops says so in its row (one killed outright just stops beating)."""
        try:
            with self.outbox.write() as tx:
                tx.beat(self._worker_row(now_ms(), stopped=True))
        except Exception as exc:  # the store may be what stopped it: the row then just ages
            self._log.log("warning", "dispatch worker: could not record that it stopped",
                          error=f"{type(exc).__name__}: {exc}")

    def _finished_task(self, task: asyncio.Task[None]) -> None:
        self._finished.append(task)
        self._dirty.set()

    def _tick(self, opts: DrainOptions) -> float:
        """How long to wait for a worker before looking at the outbox again."""
        wake = 0.25
        if self._updates:
            wake = min(wake, max(0.0, self._first_unflushed + FLUSH_AFTER_S - time.monotonic()))
        if opts.deadline is not None:
            wake = min(wake, max(0.0, opts.deadline - time.monotonic()))
        if self._stop.is_set():
            wake = min(wake, max(0.0, self._stop_at - time.monotonic()))
        return wake

    def _limit_reached(self, opts: DrainOptions) -> bool:
        return opts.limit is not None and self._claimed_total >= opts.limit

    def _idle_delay(self, opts: DrainOptions) -> float | None:
        """Nothing in flight and nothing claimable: how long to sleep, or None to stop."""
        if not opts.wait:
            return None
        skip_integrations = set(self._unusable)
        skip_lanes = {(name, s) for name, lane in self._lanes.items() for s in lane.skip_sessions}
        with self.outbox.read() as tx:
            due = tx.next_due_ms(opts.integration, skip_lanes, skip_integrations, self._skip_kinds)
        if due is None:
            return None
        now_s = time.monotonic()
        delay = max(0.0, (due - now_ms()) / 1000.0)
        paused = [lane.paused_until - now_s for lane in self._lanes.values() if lane.paused_until > now_s]
        if paused:
            delay = max(delay, min(paused))
        if delay <= 0:
            # Due now but not claimed: its lane is blocked by an action in flight elsewhere.
            delay = 0.05
        if opts.linger_s is not None and delay > opts.linger_s:
            return None
        if opts.deadline is not None:
            left = opts.deadline - now_s
            if left <= 0:
                return None
            delay = min(delay, left)
        return min(delay, 5.0)

    def _cycle(self, opts: DrainOptions, idle: bool) -> list[list[ActionRow]]:
        """Write buffered outcomes, renew leases, and claim what can start now: one transaction,
        and none at all when there is nothing to write and no worker slot to fill."""
        now = now_ms()
        mono = time.monotonic()
        if opts.waker is not None and opts.waker.take():
            self._due_checked = 0.0  # notified while busy: look at what is due now
        if mono - self._due_checked > 0.5 or idle:
            with self.outbox.read() as tx:
                due = tx.integrations_due(now)
            if opts.integration is not None:
                due = [n for n in due if n == opts.integration]
            self._mark_unusable(due)
            self._known_due = {n for n in due if n not in self._unusable}
            self._due_checked = mono
        self._known_due |= self._went_on
        self._went_on = set()
        stopping = (opts.deadline is not None and mono >= opts.deadline) or self._stop.is_set()
        wanted: list[tuple[_Lane, int]] = []
        if not stopping and not self._limit_reached(opts):
            for name in sorted(self._known_due):
                lane = self._lane(name)
                if lane is None or lane.paused_until > mono or lane.claim_after > mono:
                    continue
                free = lane.concurrency - lane.running
                if free > 0:
                    wanted.append((lane, free))
        flush = bool(self._updates) and (
            idle or stopping or bool(wanted) or len(self._updates) >= FLUSH_BATCH
            or mono - self._first_unflushed >= FLUSH_AFTER_S
        )
        renew = mono - self._renewed > self._beat_s()
        if not (flush or renew or wanted):
            return []
        lease_ms = int(self.config.lease_s * 1000)
        runs: list[list[ActionRow]] = []
        with self.outbox.write() as tx:
            if self._updates:
                updates, self._updates = self._updates, []
                tx.apply(updates, now, self._parents)
                self._parents = {}
            if renew:
                tx.renew(self.owner, now + lease_ms)
                self._renewed = mono
                if self.worker is not None:
                    tx.beat(self._worker_row(now))
                    # A worker runs for days: lanes it set aside (waiting for a credential, say)
                    # are looked at again once per heartbeat.
                    for lane in self._lanes.values():
                        lane.skip_sessions.clear()
            for lane, free in wanted:
                run_max = self.config.batch_size
                if opts.limit is not None:
                    free, run_max = min(free, opts.limit - self._claimed_total), 1
                    if free <= 0:
                        break
                got = tx.claim(
                    lane.info.name, self.owner, now, now + lease_ms, free, run_max=run_max,
                    skip_lanes=lane.skip_sessions, skip_kinds=self._skip_kinds,
                )
                if len(got) < free:
                    lane.claim_after = mono + CLAIM_BACKOFF_S  # nothing more to start for now
                for run in got:
                    for row in run:
                        self._claimed[row.id] = row
                    self._claimed_total += len(run)
                runs += got
        return runs

    async def _shutdown(self, tasks: dict[asyncio.Task[None], list[ActionRow]]) -> None:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        # What was claimed and never recorded: never started goes back as it was; started
        # (outcome unknown) goes back with the attempt counted.
        now = now_ms()
        for row in list(self._claimed.values()):
            if counts_attempt(row.id in self._started):
                self._updates.append(Update(
                    row.id, "released", attempts=row.attempts + 1, next_attempt_ms=now,
                    error="interrupted before its outcome was known; it will be retried",
                ))
            else:
                self._updates.append(Update(row.id, "released", keep_error=True))
            self.report.released += 1
        self._claimed.clear()
        try:
            if self._updates:
                with self.outbox.write() as tx:
                    tx.apply(self._updates, now, self._parents)
                self._updates = []
        finally:
            await self.registry.aclose()

    # --- workers -------------------------------------------------------------------------

    async def _work(self, lane: _Lane, run: list[ActionRow]) -> None:
        kind = run[0].kind
        try:
            executor = self.registry.get(kind)
        except ExecutorUnavailable as exc:
            self._skip_kinds.add(kind)
            for row in run:
                self._release(row, str(exc))
            return
        info = lane.info
        ctx = _Context(
            integration=info.name,
            config=info.config,
            project_root=self.project_root,
            settings=info.settings,
            timeout_s=self.config.timeout_s,
        )
        actions: list[tuple[ActionRow, Any]] = []
        for i, row in enumerate(run):
            try:
                actions.append((row, _parse(self.registry, row)))
            except ValueError as exc:
                if actions:  # keep order: deliver what precedes it; it comes up again as a head
                    for later in run[i:]:
                        self._release(later)
                    break
                self._record(lane, row, Outcome("dead", f"the stored action is not valid: {exc}"), ctx)
        if not actions:
            return
        guard_s = max(30.0, self.config.timeout_s * 3)
        if _batches(executor):
            if lane.limiter:
                await lane.limiter.acquire(len(actions))
            if not await self._begin([row for row, _ in actions]):
                return
            outcomes = await self._call(
                executor.execute_batch([a for _, a in actions], ctx), guard_s * len(actions), len(actions)
            )
            stopped_at: int | None = None
            for i, (row, _) in enumerate(actions):
                if stopped_at is None and i < len(outcomes):
                    if _stops_lane(self._record(lane, row, outcomes[i], ctx)):
                        stopped_at = i
                    continue
                if stopped_at is not None and i < len(outcomes) and outcomes[i].status == "done":
                    self._log.log(
                        "warning", "dispatch: executor went on past the point its lane stops; the action "
                        "will be delivered again in its turn", action=row.id, integration=row.integration,
                        kind=row.kind, stopped_at=actions[stopped_at][0].id,
                    )
                self._release(row)
            return
        for i, (row, action) in enumerate(actions):
            if lane.limiter:
                await lane.limiter.acquire()
            if not await self._begin([row for row, _ in actions[i:]], 1):
                return
            outcome = (await self._call(executor.execute(action, ctx), guard_s, 1))[0]
            if _stops_lane(self._record(lane, row, outcome, ctx)):
                for later, _ in actions[i + 1:]:
                    self._release(later)
                return

    async def _begin(self, rows: list[ActionRow], count: int | None = None) -> bool:
        """Commit the started mark of ``rows[:count]`` before their executor is called.

        Workers starting in the same loop turn share one transaction (which also writes the
        outcomes buffered so far). When the mark cannot be written, nothing is sent: every row
        goes back untouched and False is returned.
        """
        starting = rows[:count] if count is not None else rows
        loop = asyncio.get_running_loop()
        if self._marks_written is None:
            self._marks_written = loop.create_future()
            loop.call_later(MARK_GATHER_S, self._write_marks)
        written = self._marks_written
        self._marks.extend(row.id for row in starting)
        try:
            await asyncio.shield(written)
        except Exception as exc:
            self._log.log("warning", "dispatch: could not record that delivery starts; not sending",
                          integration=rows[0].integration, error=f"{type(exc).__name__}: {exc}")
            for row in rows:
                self._release(row)
            return False
        self._started.update(row.id for row in starting)
        return True

    def _write_marks(self) -> None:
        ids, self._marks = self._marks, []
        written, self._marks_written = self._marks_written, None
        if written is None:
            return
        try:
            now = now_ms()
            with self.outbox.write() as tx:
                if self._updates:
                    updates, self._updates = self._updates, []
                    tx.apply(updates, now, self._parents)
                    self._parents = {}
                tx.mark_started(ids, self.owner, now)
        except Exception as exc:
            written.set_exception(exc)
            written.exception()  # retrieved here: the waiting workers handle it
        else:
            written.set_result(None)

    async def _call(self, call: Awaitable[Any], guard_s: float, n: int) -> list[Outcome]:
        """Await an executor call; turn what it raised into outcomes."""
        try:
            async with asyncio.timeout(guard_s):
                result = await call
        except MissingCredential as exc:
            text = f"{exc.message}; {exc.hint}" if exc.hint else exc.message
            return [Outcome("wait", f"waiting for a credential. {text}")] * n
        except TimeoutError:
            return [Outcome("retry", f"the executor did not finish within {guard_s:g}s")] * n
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return [Outcome("retry", f"executor error: {detail}")] * n
        if isinstance(result, Outcome):
            return [result]
        return list(result)

    def _buffer(self, update: Update) -> None:
        """Queue an outcome for writing: within FLUSH_AFTER_S, or at once when FLUSH_BATCH are waiting."""
        if not self._updates:
            self._first_unflushed = time.monotonic()
            asyncio.get_running_loop().call_later(FLUSH_AFTER_S, self._dirty.set)
        self._updates.append(update)
        if len(self._updates) >= FLUSH_BATCH:
            self._dirty.set()

    def _release(self, row: ActionRow, error: str | None = None) -> None:
        """Hand an action back untouched (not attempted in this run)."""
        self._claimed.pop(row.id, None)
        if error is None:
            self._buffer(Update(row.id, "released", keep_error=True))
        else:
            self._buffer(Update(row.id, "released", error=scrub(error)))
        self.report.released += 1

    def _record(self, lane: _Lane, row: ActionRow, outcome: Outcome, ctx: _Context) -> Update:
        self._claimed.pop(row.id, None)
        self._started.discard(row.id)
        summary = scrub(outcome.summary or "", frozenset(ctx.seen))
        now = now_ms()
        status = outcome.status
        self.report.attempted += status != "wait"
        if status == "done":
            update = Update(row.id, "done", attempts=row.attempts + 1, error=None, result=summary or "done",
                            status_code=outcome.status_code)
            if outcome.follow_ups:
                try:
                    update.follow_ups = _follow_ups(row, outcome.follow_ups, lane.info, self.registry)
                except ValueError as exc:
                    update = Update(row.id, "dead", attempts=row.attempts + 1, status_code=outcome.status_code,
                                    error=scrub(f"delivered, but returned an invalid follow-up action: {exc}"))
                    self.report.dead += 1
                else:
                    self._parents[row.id] = row
                    self.report.follow_ups += len(update.follow_ups)
                    self.report.done += 1
            else:
                self.report.done += 1
        elif status == "wait":
            update = Update(row.id, "pending", error=summary or "waiting", status_code=outcome.status_code)
            lane.skip_sessions.add(row.session_id)
            self.report.waiting += 1
        else:
            offline = status == "retry" and bool(getattr(outcome, "offline", False))
            move = after_failure(
                retryable=status == "retry",
                summary=summary or status,
                attempts_before=row.attempts,
                window_start_ms=row.window_ms,
                now_ms=now,
                limits=lane.limits,
                retry_after_s=outcome.retry_after_s,
                rng=self.rng,
                offline=offline,
                offline_before=row.offline_attempts,
            )
            if move.note:
                self._log.log("warning", "dispatch: the delay a server asked for was not usable as given",
                              action=row.id, integration=row.integration, detail=move.note)
            update = Update(row.id, move.status, attempts=move.attempts, next_attempt_ms=move.next_attempt_ms,
                            error=move.error, status_code=outcome.status_code,
                            offline_attempts=move.offline_attempts)
            if move.status == "dead":
                self.report.dead += 1
            else:
                self.report.retried += 1
                if not self._wait or (offline and self._skip_offline):
                    # Without --wait a drain is one pass: each lane is tried at most once. An
                    # unreachable service is not waited for when the drain is told not to.
                    lane.skip_sessions.add(row.session_id)
                pause, _ = clamp_delay_s(outcome.retry_after_s, delay_cap_s(lane.limits))
                if pause is not None:
                    # The service said when to come back: hold the whole integration till then.
                    lane.paused_until = max(lane.paused_until, time.monotonic() + pause)
        self._buffer(update)
        self._log.log(
            "info" if update.status == "done" else "warning", "dispatch",
            action=row.id, integration=row.integration, kind=row.kind, outcome=update.status,
            attempts=update.attempts, detail=update.error or update.result,
        )
        if self.progress is not None:
            self.progress(self.report)
        return update


#: Most pending actions looked at to say what waits and why.
WAITS_SCANNED = 1000
#: Most groups in that summary.
WAITS_SHOWN = 20


def waits(rows: list[ActionRow], now: int) -> list[dict[str, Any]]:
    """Pending actions grouped by integration and reason: what still waits, and why."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        why = scrub(row.last_error)[:200] if row.last_error else "not tried yet"
        group = groups.setdefault((row.integration, why), {
            "integration": row.integration, "count": 0, "why": why, "next_attempt_ms": None,
        })
        group["count"] += 1
        if row.next_attempt_ms > now:
            nxt = group["next_attempt_ms"]
            group["next_attempt_ms"] = row.next_attempt_ms if nxt is None else min(nxt, row.next_attempt_ms)
    return sorted(groups.values(), key=lambda g: (g["integration"], -g["count"]))[:WAITS_SHOWN]


def _stops_lane(update: Update) -> bool:
    """Whether the rest of a run must wait: the action is pending again (a retry or a wait still
    heads its lane), or it produced follow-ups, which go before anything after their parent."""
    return update.status == "pending" or bool(update.follow_ups)


def _parse(registry: Registry, row: ActionRow) -> Any:
    from pydantic import ValidationError

    try:
        return registry.parse(row.payload)
    except ValidationError as exc:
        raise ValueError(str(exc).splitlines()[0] if str(exc) else "invalid") from None


def _follow_ups(parent: ActionRow, items: list[Any], info: IntegrationInfo, registry: Registry) -> list[FollowUp]:
    from msp._model.actions import idempotency_key, stamp
    from msp._plugins.host import normalise

    try:
        actions = normalise(items, registry.models)
    except Exception as exc:
        raise ValueError(str(exc)) from None
    out = []
    for i, action in enumerate(actions):
        key = idempotency_key(parent.idempotency_key, parent.integration, f"follow-up-{i}")
        stamped = stamp(action, parent.integration, key)
        out.append(FollowUp(key, stamped.kind, stamped.model_dump(mode="json", by_alias=True),
                            held=bool(info.settings.get("hold", False))))
    return out


def lane_of(row: ActionRow) -> Lane:
    return row.lane
