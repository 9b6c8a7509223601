"""Running a drain for a project: the lock, the integrations from config, the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from msp._dispatch.drain import Dispatcher, DrainOptions, DrainReport, IntegrationInfo
from msp._dispatch.lock import DrainLock
from msp._store.interface import Outbox
from msp._store.outbox_rules import now_ms
from msp.errors import DispatchBusy as DispatchBusy  # defined with the public tree; importable here too

if TYPE_CHECKING:
    from msp._config import Project
    from msp._plugins.host import PluginHost
    from msp._store.interface import Store


def lock_for(project: Project) -> DrainLock:
    return DrainLock(project.msp_dir / "dispatch.lock")


def integrations_for(project: Project) -> dict[str, IntegrationInfo]:
    """Every configured integration with its merged config (plugin defaults under what the
    user wrote) and host settings; those that failed to load carry their error."""
    return plugins_for(project)[0]


def plugins_for(project: Project) -> tuple[dict[str, IntegrationInfo], dict[str, Any]]:
    """:func:`integrations_for`, and the action kinds (with executors) the loaded plugins register."""
    from msp._logging import get_log
    from msp._plugins.host import build_host

    config = project.config
    host = build_host(config.integrations, hook_timeout_ms=config.plugins.hook_timeout_ms,
                      cache_dir=project.cache_dir, project_root=project.root)
    for broken in host.broken:
        get_log().log("warning", "integration not loaded", integration=broken.name, error=broken.error)
    kinds: dict[str, Any] = dict(host.executor_kinds())
    for failed in host.executor_errors:
        get_log().log("warning", "executors not registered", integration=failed.name, error=failed.error)
    return integrations_from_host(host), kinds


def integrations_from_host(host: PluginHost) -> dict[str, IntegrationInfo]:
    """What the drain needs of each loaded (or broken) integration of a plugin host."""
    infos = {name: IntegrationInfo(name, dict(i.config), dict(i.settings)) for name, i in host.integrations.items()}
    for broken in host.broken:
        infos[broken.name] = IntegrationInfo(broken.name, error=broken.error)
    return infos


def drain_project(
    project: Project,
    *,
    wait: bool = False,
    integration: str | None = None,
    limit: int | None = None,
    timeout_s: float | None = None,
    background: bool = False,
    lock_wait_s: float | None = None,
    store: Store | None = None,
    integrations: Mapping[str, IntegrationInfo] | None = None,
    executors: Mapping[str, Any] | None = None,
    executor_kinds: Mapping[str, Any] | None = None,
    progress: Callable[[DrainReport], None] | None = None,
    settle: bool = False,
) -> DrainReport:
    """Deliver the project's outbox. One drain at a time: a background drain quits when
    another holds the lock; any other waits for it (up to ``lock_wait_s``, else raises
    :class:`DispatchBusy`).

    ``wait`` keeps going until nothing pending can come due (``msp dispatch --until-empty``);
    with ``settle`` as well (``msp dispatch --wait``) it stops once all that is left waits for
    a retry further off than ``linger_s``, a credential, or a service that could not be reached.
    """
    from msp._store import open_store

    started = time.monotonic()
    deadline = None if timeout_s is None else started + timeout_s
    lock = lock_for(project)
    if background:
        if not lock.try_acquire():
            return DrainReport(stopped="another drain is running")
    else:
        wait_for = lock_wait_s if lock_wait_s is not None else timeout_s
        if not lock.acquire(wait_for):
            raise DispatchBusy(
                f"another drain (process {lock.holder() or '?'}) is still delivering this project's outbox",
                "it delivers the new actions too; check on it with `msp queue`, or run `msp dispatch` again later",
            )
    own_store = store is None
    # Outcomes are written with synchronous=NORMAL: a process crash loses nothing, and a power
    # cut can at worst forget the last outcomes, which only means those actions go out again
    # (delivery is at least once anyway). Events keep the configured durability.
    db = store if store is not None else open_store(project, synchronous="normal")
    total = DrainReport()
    try:
        project = with_team_config(project, db)
        kinds = executor_kinds
        if integrations is not None:
            infos = dict(integrations)
        else:
            infos, found = plugins_for(project)
            kinds = found if kinds is None else kinds
        while True:
            run_started = now_ms()
            # The lock is this folder's: on a team store, drains and workers elsewhere hold
            # leases too, so only expired ones may be reclaimed.
            dispatcher = Dispatcher(db, infos, project.config.dispatch, project.root, executors=executors,
                                    executor_kinds=kinds, holds_lock=getattr(db, "backend", "sqlite") == "sqlite",
                                    progress=progress)
            opts = DrainOptions(
                wait=wait or background,
                integration=integration,
                limit=limit,
                deadline=deadline,
                linger_s=project.config.dispatch.linger_s if background or settle else None,
                skip_offline=settle,
                before_sleep=lock.release if background else None,
                after_sleep=lock.try_acquire if background else None,
            )
            report = asyncio.run(dispatcher.run(opts))
            _merge(total, report)
            if not background or report.stopped == "handed over":
                break
            # Actions committed while this drain was finishing may have missed it: look again
            # after letting go of the lock, and carry on if nobody else picked them up.
            lock.release()
            if not _new_due(db, run_started, integration) or not lock.try_acquire():
                break
    finally:
        lock.release()
        if own_store:
            db.close()
    return total


def with_team_config(project: Project, store: Store) -> Project:
    """The team's integration sections (``msp config push``) beneath the project's own: a
    drain on any machine delivers with the team's settings (docs/team.md)."""
    from msp._config import with_team_sections

    team = store.team_config()
    return project if team is None else with_team_sections(project, team.sections)


def _new_due(store: Store, since_ms: int, integration: str | None) -> bool:
    with Outbox(store).read() as tx:
        return tx.pending_due(now_ms(), integration, created_since=since_ms) > 0


def _merge(total: DrainReport, part: DrainReport) -> None:
    for name in ("done", "retried", "dead", "waiting", "released", "reclaimed", "follow_ups", "attempted"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.stopped = part.stopped
    total.remaining = part.remaining
    total.waits = part.waits
    total.notes += [n for n in part.notes if n not in total.notes]
