"""CLI commands for the dispatch part of msp, registered on the main app at import.

``msp dispatch`` drains the outbox; ``msp queue`` lists, shows, retries, drops and approves
actions. Light at import: the dispatcher and executors load inside the commands.
"""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Optional

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _run, app

if TYPE_CHECKING:
    from msp._dispatch.drain import DrainReport
    from msp._store.interface import ActionRow, Outbox, QueueOp

QUEUE_OPS = ("list", "show", "retry", "drop", "approve")
#: ``msp dispatch --wait`` / ``--until-empty`` exit with this when actions are still pending
#: (waiting for a retry time, a credential, or a service that could not be reached): sysexits'
#: EX_TEMPFAIL, "try again later". 0 means nothing is left pending.
EXIT_PENDING = 75
OPEN_STATUSES = ("pending", "held", "in_flight", "dead")


def _when(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _row_dict(row: ActionRow, full: bool = False) -> dict[str, Any]:
    from msp._dispatch.drain import scrub
    from msp._logging import redact

    data: dict[str, Any] = {
        "id": row.id,
        "idempotency_key": row.idempotency_key,
        "integration": row.integration,
        "kind": row.kind,
        "status": row.status,
        "attempts": row.attempts,
        "session_id": row.session_id,
        "event_id": row.event_id,
        "created_at": _when(row.created_ms),
        "next_attempt_at": _when(row.next_attempt_ms) if row.status == "pending" else None,
        "last_status": row.last_status,
        "last_error": scrub(row.last_error) if row.last_error else None,
        "result": scrub(row.result) if row.result else None,
    }
    if full:
        payload = redact(row.payload)
        if isinstance(payload, dict):  # identity fields are not secrets, whatever their names say
            payload.update({k: row.payload[k] for k in ("integration", "idempotency_key", "kind") if k in row.payload})
        data.update({
            "payload": payload,
            "parent_id": row.parent_id,
            "lease_owner": row.lease_owner,
            "lease_until": _when(row.lease_until_ms),
            "updated_at": _when(row.updated_ms),
        })
    return data


def _line(row: ActionRow) -> str:
    from msp._dispatch.drain import scrub

    error = scrub(row.last_error)[:90] if row.last_error else ""
    head = f"#{row.id:<5} {row.status:<9} {row.integration:<12} {row.kind:<10} attempts {row.attempts}"
    if row.status == "pending" and row.next_attempt_ms > datetime.now(UTC).timestamp() * 1000:
        head += f"  next {_when(row.next_attempt_ms)}"
    return head + (f"\n        {error}" if error else "")


def _summary(report: DrainReport) -> str:
    parts = [f"delivered {report.done}"]
    if report.retried:
        parts.append(f"retrying {report.retried}")
    if report.dead:
        parts.append(f"dead {report.dead}")
    if report.waiting:
        parts.append(f"waiting {report.waiting}")
    if report.follow_ups:
        parts.append(f"follow-ups {report.follow_ups}")
    text = ", ".join(parts).capitalize()
    left = ", ".join(f"{k} {v}" for k, v in sorted(report.remaining.items()) if v)
    text += f". Queue: {left}." if left else ". Queue empty."
    for note in report.notes:
        text += f"\nnote: {note}"
    for group in report.waits:
        when = group.get("next_attempt_ms")
        at = f", next try {_when(when)}" if when else ""
        text += f"\nwaiting: {group['integration']}: {group['count']} action(s){at}: {group['why']}"
    if report.waiting:
        text += "\nSome actions wait for a credential: see `msp queue` for what to set."
    if report.dead:
        text += "\nSee dead actions with `msp queue --dead`; `msp queue retry ID` tries one again."
    return text


@app.command()
def dispatch(
    wait: bool = typer.Option(
        False, "--wait",
        help="Keep delivering until nothing is left but actions waiting for a later retry time, a credential "
        "or a service that cannot be reached; print what waits and why. Exit 75 if anything is still pending.",
    ),
    until_empty: bool = typer.Option(
        False, "--until-empty",
        help="Keep going, sleeping for every retry (an unreachable service too), until nothing pending can "
        "come due or --timeout. Exit 75 if anything is still pending.",
    ),
    integration: Optional[str] = typer.Option(None, "--integration", "-i", help="Only this integration."),  # noqa: UP045
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Attempt at most N actions."),  # noqa: UP045
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.1, help="Stop after this many seconds."),  # noqa: UP045
    background: bool = typer.Option(False, "--background", hidden=True),
    worker: bool = typer.Option(
        False, "--worker",
        help="Run as a delivery worker until SIGTERM/Ctrl-C: deliver as actions are queued (woken by NOTIFY on "
        "a team store; SQLite: the store file is polled), heartbeat in `msp store status`. Several workers on "
        "any machines may serve one team store.",
    ),
    poll: Optional[float] = typer.Option(  # noqa: UP045
        None, "--poll", min=0.05, metavar="SECONDS",
        help="--worker: look at the outbox at least this often even without a wake-up (default 30).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Deliver queued actions now (or, with --worker, keep delivering)."""
    pending_left = False

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        nonlocal pending_left
        from msp._dispatch.run import drain_project
        from msp.errors import InvalidInput

        project = ctx.project
        if integration is not None and integration not in project.config.integrations:
            _ = ctx.store  # opening it layers the team's integration sections, which may name it
            project = ctx.project
        if integration is not None and integration not in project.config.integrations:
            known = ", ".join(sorted(project.config.integrations)) or "none configured"
            raise InvalidInput(f"integration {integration!r} is not configured", f"configured: {known}")
        if worker:
            clash = [flag for flag, on in (("--wait", wait), ("--until-empty", until_empty), ("--limit", limit),
                                           ("--timeout", timeout), ("--background", background)) if on]
            if clash:
                raise InvalidInput(f"--worker runs until stopped; it takes no {', '.join(clash)}",
                                   "drop those options, or run `msp dispatch` without --worker")
            return _worker(ctx, integration, poll)
        if poll is not None:
            raise InvalidInput("--poll is for --worker", "add --worker, or drop --poll")
        show_bar = not as_json and not background and sys.stdout.isatty()
        bar = _Bar(ctx, integration) if show_bar else None
        try:
            report = drain_project(
                project, wait=wait or until_empty, integration=integration, limit=limit, timeout_s=timeout,
                background=background, lock_wait_s=timeout if timeout is not None else 60.0,
                progress=bar.update if bar else None, settle=wait and not until_empty,
            )
        finally:
            if bar:
                bar.close()
        if background:
            return {"ok": True, **report.to_dict()}, ""
        pending_left = (wait or until_empty) and bool(report.remaining.get("pending") or
                                                      report.remaining.get("in_flight"))
        return {"ok": True, "pending": bool(report.remaining.get("pending")), **report.to_dict()}, _summary(report)

    _run(as_json, body)
    if pending_left:
        raise typer.Exit(EXIT_PENDING)


def _worker(ctx: Context, integration: str | None, poll: float | None) -> tuple[dict[str, Any], str]:
    from msp._dispatch.worker import run_worker

    def say(text: str) -> None:
        from msp._logging import redact

        typer.echo(f"msp worker: {redact(text)}", err=True)

    report = run_worker(ctx.project, integration=integration, poll_s=poll, say=say)
    return {"ok": True, **report.to_dict()}, "Worker stopped. " + _summary(report)


class _Bar:
    """A rich progress bar over the actions due when the drain started."""

    def __init__(self, ctx: Context, integration: str | None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from msp._store.outbox_rules import now_ms

        with ctx.store.read() as tx:
            total = tx.outbox.pending_due(now_ms(), integration)
        self.progress = Progress(TextColumn("dispatch"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), transient=True)
        self.task = self.progress.add_task("dispatch", total=max(total, 1), info="")
        self.progress.start()

    def update(self, report: DrainReport) -> None:
        finished = report.done + report.dead + report.waiting
        total = self.progress.tasks[0].total or 1
        self.progress.update(self.task, completed=min(finished, total),
                             total=max(total, finished),
                             info=f"retrying {report.retried}" if report.retried else "")

    def close(self) -> None:
        self.progress.stop()


@app.command()
def queue(
    op: str = typer.Argument("list", metavar="[list|show|retry|drop|approve]", help="What to do."),
    ref: Optional[str] = typer.Argument(None, metavar="[ID]", help="Action id (or a key prefix)."),  # noqa: UP045
    dead: bool = typer.Option(False, "--dead", help="list: only dead actions; retry/drop: every dead action."),
    all_: bool = typer.Option(False, "--all", help="list: include done and dropped; approve: every held action."),
    integration: Optional[str] = typer.Option(None, "--integration", "-i", help="Only this integration."),  # noqa: UP045
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="list: at most this many."),
    as_json: bool = JsonOpt,
) -> None:
    """The outbox: list, show, retry, drop or approve actions."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._store.interface import STATUSES, Outbox
        from msp.errors import InvalidInput

        if op not in QUEUE_OPS:
            raise InvalidInput(f"unknown queue operation {op!r}", f"use one of: {', '.join(QUEUE_OPS)}")
        outbox = Outbox(ctx.store)
        if op == "list":
            if ref is not None:
                raise InvalidInput("`msp queue list` takes no ID", f"use `{shlex.join(['msp', 'queue', 'show', ref])}`")
            statuses = ("dead",) if dead else STATUSES if all_ else OPEN_STATUSES
            with outbox.read() as tx:
                found = tx.select(statuses, integration, limit)
                counts = tx.counts()
            if not found:
                from msp._app.health import confirm_sound

                confirm_sound(ctx)  # an empty queue must not be a damaged store's silence
            text = "\n".join(_line(r) for r in found) or "The queue is empty."
            if counts:
                text += "\n" + "Counts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            return {"ok": True, "actions": [_row_dict(r) for r in found], "counts": counts}, text
        if op == "show":
            if ref is None:
                raise InvalidInput("`msp queue show` needs an action ID", "see ids with `msp queue list --all`")
            with outbox.read() as tx:
                row = tx.get(ref)
            data = _row_dict(row, full=True)
            import json

            text = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v}"
                             for k, v in data.items() if v is not None)
            return {"ok": True, "action": data}, text
        changed, verb = _change(ctx, outbox, op, ref, dead, all_, integration)
        if changed and op in ("retry", "approve"):
            from msp._dispatch.kick import start_background

            if ctx.project.config.dispatch.mode == "background":
                start_background(ctx.project)
        with outbox.read() as tx:
            counts = tx.counts()
        return ({"ok": True, "operation": op, "changed": changed, "counts": counts},
                f"{verb} {len(changed)} action(s)" + (f": {', '.join('#' + str(i) for i in changed[:20])}"
                                                        if changed else ""))

    _run(as_json, body)


def _change(ctx: Context, outbox: Outbox, op: str, ref: str | None, dead: bool, all_: bool,
            integration: str | None) -> tuple[list[int], str]:
    from msp._store.outbox_rules import QUEUE_OPS, now_ms
    from msp.errors import InvalidInput

    bulk = (op in ("retry", "drop") and dead) or (op == "approve" and all_)
    if ref is None and not bulk:
        flag = "--all" if op == "approve" else "--dead"
        raise InvalidInput(f"`msp queue {op}` needs an action ID (or {flag})", "see ids with `msp queue list`")
    if ref is not None and bulk:
        raise InvalidInput("give an ID or a bulk flag, not both", f"e.g. `{shlex.join(['msp', 'queue', op, ref])}`")
    queue_op: QueueOp = "retry" if op == "retry" else "drop" if op == "drop" else "approve"
    now = now_ms()
    with outbox.write() as tx:
        if ref is None:  # a bulk flag (checked above)
            ids = tx.ids_with_status("held" if op == "approve" else "dead", integration)
        else:
            row = tx.get(ref)
            if row.status not in QUEUE_OPS[queue_op].sources:
                raise InvalidInput(f"action #{row.id} is {row.status}; cannot {op} it", _why(op, row.status))
            ids = [row.id]
        changed = tx.set_status(ids, queue_op, now)
    return changed, {"retry": "Queued again", "drop": "Dropped", "approve": "Approved"}[queue_op]


def _why(op: str, status: str) -> str:
    if status == "in_flight":
        return "a drain is delivering it right now; look again in a moment"
    if status == "done":
        return "it was delivered already"
    if status == "held":
        return "approve it with `msp queue approve ID`"
    if op == "approve":
        return "only held actions need approval"
    return "see `msp queue show ID`"
