"""Delivery workers: ``msp dispatch --worker``, a drain that keeps running.

A worker is the drain of :mod:`msp._dispatch.drain` with three differences: it never stops
when the outbox is empty but sleeps on the store's :class:`~msp._store.interface.Waker`
(PostgreSQL: ``LISTEN msp_outbox``, woken when actions are queued; SQLite: the database file
polled for commits), with ``poll_s`` only as the fallback; it writes a heartbeat (its row in the
workers table, and the renewal of its leases) every few seconds; and it stops on SIGTERM or
SIGINT by finishing what it holds (or, after a grace period or a second signal, handing it back).

On a team store any number of workers run, on any machines: they claim lane heads with
``FOR UPDATE SKIP LOCKED`` under leases, so each (integration, session) lane is delivered in
order across them, and a worker that dies (SIGKILL, a lost machine) loses nothing: its leases
run out and another worker takes the actions, repeating only those whose outcome was unknown.
On SQLite (one machine) a worker holds the project's drain lock, so it is the only drain;
another worker waits for the lock.

A worker delivers only the integrations it can: configured and loaded here, and every credential
their config names resolvable on this machine. Actions of the others stay pending for a worker
that can, and it says once per integration why it leaves them; it never marks them dead.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from msp._dispatch.drain import Dispatcher, DrainOptions, DrainReport, IntegrationInfo
from msp._store.outbox_rules import now_ms
from msp._store.worker_records import WorkerRow

if TYPE_CHECKING:
    from msp._config import Project
    from msp._store.interface import Store

#: The fallback poll of an idle worker when nothing says when to look again.
DEFAULT_POLL_S = 30.0
#: After SIGTERM/SIGINT, how long the runs in flight may take to finish before they are
#: handed back (at least the request timeout; a second signal hands them back at once).
STOP_GRACE_S = 10.0


def host_name() -> str:
    """The machine a worker names in its row: the one its sessions would name (``MSP_HOST``
    overrides it, for containers)."""
    from msp._model.identity import current_engineer

    return current_engineer().host


def missing_credential(info: IntegrationInfo) -> str | None:
    """Why this machine cannot deliver for ``info``: the first credential its config names
    (``*_env``, ``*_keyring``, ``secret_headers``) that does not resolve here, else None."""
    from msp._secrets import MissingCredential, resolve_header, resolve_secret

    config = info.config
    try:
        for key in sorted(config):
            value = config[key]
            for suffix in ("_env", "_keyring"):
                if key.endswith(suffix) and isinstance(value, str) and value:
                    resolve_secret(config, key.removesuffix(suffix), integration=info.name)
        headers = config.get("secret_headers")
        if isinstance(headers, Mapping):
            for header, spec in headers.items():
                resolve_header(spec, str(header), integration=info.name)
    except MissingCredential as exc:
        return exc.message
    return None


def deliverable(infos: Mapping[str, IntegrationInfo]) -> dict[str, IntegrationInfo]:
    """``infos`` with those this machine cannot deliver marked with why (``error``)."""
    out: dict[str, IntegrationInfo] = {}
    for name, info in infos.items():
        if info.error is None:
            lacking = missing_credential(info)
            if lacking is not None:
                info = IntegrationInfo(name, info.config, info.settings,
                                       error=f"no credential on this machine: {lacking}")
        out[name] = info
    return out


def leave_note(name: str, why: str) -> str:
    """What a worker says about an integration whose actions it leaves to others."""
    if why == "not configured":
        why = f"[integrations.{name}] is not configured (or not enabled) where this worker runs"
    return f"leaving the actions of {name!r} to a worker that can deliver them: {why}"


def run_worker(
    project: Project,
    *,
    integration: str | None = None,
    poll_s: float | None = None,
    store: Store | None = None,
    integrations: Mapping[str, IntegrationInfo] | None = None,
    executors: Mapping[str, Any] | None = None,
    executor_kinds: Mapping[str, Any] | None = None,
    say: Callable[[str], None] | None = None,
    stop_grace_s: float = STOP_GRACE_S,
) -> DrainReport:
    """Run a worker for the project's store until SIGTERM or SIGINT; returns what it did."""
    from msp._dispatch.run import lock_for, plugins_for, with_team_config
    from msp._logging import get_log
    from msp._store import open_store

    tell = say or (lambda _text: None)
    log = get_log()
    own_store = store is None
    db = store if store is not None else open_store(project, synchronous="normal")
    lock = None
    try:
        # The team's integration sections beneath this folder's own, as every drain reads them:
        # a worker on any machine delivers with the team's settings.
        project = with_team_config(project, db)
        team = getattr(db, "backend", "sqlite") != "sqlite"
        if not team:
            # One drain per SQLite store: the worker is it, for as long as it runs.
            lock = lock_for(project)
            if not lock.try_acquire():
                tell(f"waiting for the drain lock (held by process {lock.holder() or '?'}): on SQLite one drain "
                     "delivers at a time")
                lock.acquire(None)
        kinds = executor_kinds
        if integrations is not None:
            infos = dict(integrations)
        else:
            infos, found = plugins_for(project)
            kinds = found if kinds is None else kinds
        infos = deliverable(infos)
        if integration is not None:
            infos = {k: v for k, v in infos.items() if k == integration}
        serves = sorted(n for n, i in infos.items() if i.error is None)
        started = now_ms()
        row = WorkerRow(id=f"{host_name()}:{os.getpid()}:{random.getrandbits(32):08x}", host=host_name(),
                        pid=os.getpid(), started_ms=started, last_beat_ms=started, integrations=serves)
        reported: set[str] = set()

        def on_unusable(name: str, why: str) -> None:
            if name in reported:
                return
            reported.add(name)
            text = leave_note(name, why)
            log.log("warning", "dispatch worker: " + text, integration=name, worker=row.id)
            tell(text)

        for name, info in sorted(infos.items()):
            if info.error is not None:
                on_unusable(name, info.error)
        dispatcher = Dispatcher(db, infos, project.config.dispatch, project.root, executors=executors,
                                executor_kinds=kinds, holds_lock=not team, worker=row, on_unusable=on_unusable)
        waker = db.waker()
        how = ("woken by NOTIFY msp_outbox" if waker.notified
               else f"polling the store file every {getattr(waker, 'POLL_S', 0.2):g}s for commits")
        tell(f"worker {row.id} delivering {', '.join(serves) or 'nothing (no integration it can deliver)'}; "
             f"{how}; stop with Ctrl-C or SIGTERM")
        log.log("info", "dispatch worker started", worker=row.id, integrations=serves, notified=waker.notified)
        opts = DrainOptions(wait=True, integration=integration, waker=waker,
                            poll_s=DEFAULT_POLL_S if poll_s is None else poll_s)
        grace = max(stop_grace_s, project.config.dispatch.timeout_s)  # a request under way may finish
        report = asyncio.run(_serve(dispatcher, opts, waker, grace, tell))
        log.log("info", "dispatch worker stopped", worker=row.id, delivered=report.done, released=report.released)
        return report
    finally:
        if lock is not None:
            lock.release()
        if own_store:
            db.close()


async def _serve(dispatcher: Dispatcher, opts: DrainOptions, waker: Any, grace_s: float,
                 tell: Callable[[str], None]) -> DrainReport:
    loop = asyncio.get_running_loop()
    signals = [s for s in (signal.SIGTERM, signal.SIGINT) if s is not None]
    asked = 0

    def stop(signum: int) -> None:
        nonlocal asked
        asked += 1
        if asked == 1:
            tell(f"stopping ({signal.Signals(signum).name}): finishing the actions in flight "
                 f"(up to {grace_s:g}s; signal again to hand them back now)")
            dispatcher.request_stop(grace_s)
        else:
            dispatcher.request_stop(0.0)

    installed = []
    for sig in signals:
        try:
            loop.add_signal_handler(sig, stop, int(sig))
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises instead
            pass
    try:
        await waker.start()  # listening before the first look at the outbox: nothing slips by
        return await dispatcher.run(opts)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await waker.aclose()
