"""After a recording command commits new actions: start delivery as the config's mode says.

Imported on the CLI's hot path, so it imports nothing heavy unless the mode is ``inline``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msp._config import Project
    from msp._store.interface import Store


def after_commit(project: Project, store: Store | None = None) -> str | None:
    """Kick delivery. Returns a note for the user, or None."""
    mode = project.config.dispatch.mode
    if mode == "manual":
        return None
    if mode == "inline":
        return _inline(project, store)
    start_background(project)
    return None


def start_background(project: Project) -> bool:
    """Start a detached drain unless one runs already. Returns whether one was started."""
    from msp._dispatch.lock import DrainLock

    probe = DrainLock(project.msp_dir / "dispatch.lock")
    if not probe.try_acquire():
        return False  # the running drain will see the new actions before it exits
    probe.release()
    project.logs_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MSP_DIR": str(project.msp_dir)}
    with open(project.logs_dir / "dispatch-background.log", "ab") as err:
        kwargs: dict[str, object] = {}
        if os.name == "nt":
            kwargs["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS | NEW_PROCESS_GROUP
        else:
            kwargs["start_new_session"] = True
        subprocess.Popen(  # our own interpreter and module, fixed arguments
            [sys.executable, "-m", "msp", "dispatch", "--background"],
            cwd=str(project.root), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            close_fds=True, **kwargs,  # type: ignore[call-overload]
        )
    return True


def _inline(project: Project, store: Store | None) -> str | None:
    from msp._dispatch.run import DispatchBusy, drain_project

    timeout = project.config.dispatch.inline_timeout_s
    try:
        report = drain_project(project, wait=True, timeout_s=timeout, lock_wait_s=timeout)
    except DispatchBusy:
        return "another drain is delivering the queue; it will deliver these actions too"
    left = sum(report.remaining.get(k, 0) for k in ("pending", "in_flight"))
    notes = []
    if report.dead:
        notes.append(f"{report.dead} action(s) failed for good; see `msp queue --dead`")
    if left:
        notes.append(f"{left} action(s) not delivered within {timeout:g}s; they stay queued (`msp queue`)")
    return "; ".join(notes) or None
