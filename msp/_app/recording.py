"""What follows a recorded moment, whichever front-end recorded it.

The commit is the point of no return: once the event is stored, the command has succeeded, and
a caller that saw a failure would record it again (a duplicate). So nothing here may turn that
success into a failure: writing the log line, kicking the dispatcher and rendering the answer
each degrade to a warning on stderr that the answer also carries (``warnings`` in the JSON
document), and the command still exits 0 (the MCP tool call still succeeds).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msp._app.context import Context
    from msp._session.manager import Recorded


def after_record(ctx: Context, rec: Recorded) -> list[str]:
    """Log the integrations' warnings (theirs, and one line for each enabled integration that
    surely cannot deliver) and the recorded event, then start delivery of what was queued, as
    the project's dispatch mode says. Never raises: returns what went wrong (already
    said on stderr), to be carried in the answer."""
    from msp._logging import get_log

    log = get_log()
    problems: list[str] = []
    try:
        host = ctx.manager.plugins
        if host is not None:  # cheap: os.environ and a stat per declared folder
            rec.notices += host.readiness_warnings(ctx.project.root)
        for warning in rec.warnings:
            log.warning(warning)
        log.log("info", "recorded", event_id=rec.event.id, type=rec.event.type, session=rec.event.session_id,
                actions=len(rec.planned.actions))
    except Exception as exc:  # the log is a convenience; the event is stored
        problems.append(_say(log, f"the event is recorded, but logging it failed: {type(exc).__name__}: {exc}"))
    problems.extend(log.failures)
    if any(not a.held for a in rec.planned.actions):
        try:
            # Delivery as the config's dispatch mode says; imports nothing heavy unless inline.
            from msp._dispatch.kick import after_commit

            note = after_commit(ctx.project, ctx.store)
        except Exception as exc:  # the actions wait in the outbox; a later drain delivers them
            problems.append(_say(log, f"the event is recorded, but delivery could not be started "
                                      f"({type(exc).__name__}: {exc}); run `msp dispatch` to deliver it"))
        else:
            if note:
                problems.append(_say(log, note))
    return problems


def finish(ctx: Context, rec: Recorded, describe: Callable[[Recorded], str] | None = None,
           extra: Callable[[Recorded, dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], str]:
    """The answer to a recording command: its JSON document and its text, after
    :func:`after_record`. ``describe`` words the text (default: the event kind's own line);
    ``extra`` adds fields to the document. Past the commit, a failure in any of these becomes a
    warning and a plainer answer, never an error."""
    problems = [] if rec.dry_run else after_record(ctx, rec)
    try:
        data = rec.to_dict()
        if extra is not None:
            extra(rec, data)
        text = record_text(rec, describe(rec) if describe is not None else rec.said)
    except Exception as exc:
        from msp._logging import get_log

        if rec.dry_run:
            raise  # nothing was stored: an ordinary error
        problems.append(_say(get_log(), f"the event is recorded, but showing it failed: {type(exc).__name__}: {exc}"))
        event = rec.event
        data = {"ok": True, "dry_run": False,
                "event": {"id": event.id, "type": event.type, "session_id": event.session_id}}
        text = f"Recorded {event.type} {event.id}"
    data["warnings"] = [*data.get("warnings", []), *problems]
    return data, text


def _say(log: Any, message: str) -> str:
    with contextlib.suppress(Exception):  # stderr itself is gone; the answer still carries the warning
        log.warning(message)
    return message


def record_text(rec: Recorded, what: str) -> str:
    """The human-readable report of a recorded moment; for a dry run, the actions it would plan."""
    from msp._app.screen import counted

    if rec.dry_run:
        lines = [f"dry run: would record {what}; nothing stored."]
        if not rec.planned.objects:
            lines.append("No integration would plan an action.")
        for action in rec.planned.objects:
            lines.append(f"--- {action.integration}: {action.kind}")
            shown = action.model_dump(mode="json", by_alias=True, exclude={"integration", "idempotency_key", "kind"})
            lines.append(json.dumps(shown, ensure_ascii=False, indent=2))
        return "\n".join(lines)
    suffix = f" ({counted(len(rec.planned.actions), 'action')} queued)" if rec.planned.actions else ""
    first, _, rest = what.partition("\n")  # the count goes with the first line, before detected items
    return f"{first}{suffix}" + (f"\n{rest}" if rest else "")
