"""What follows a recorded moment, whichever front-end recorded it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msp._app.context import Context
    from msp._session.manager import Recorded


def after_record(ctx: Context, rec: Recorded) -> None:
    """Log the integrations' warnings (theirs, and one line for each enabled integration that
    surely cannot deliver) and the recorded event, then start delivery of what was queued, as
    the project's dispatch mode says."""
    from msp._logging import get_log

    log = get_log()
    host = ctx.manager.plugins
    if host is not None:  # cheap: os.environ and a stat per declared folder
        rec.notices += host.readiness_warnings(ctx.project.root)
    for warning in rec.warnings:
        log.warning(warning)
    log.log("info", "recorded", event_id=rec.event.id, type=rec.event.type, session=rec.event.session_id,
            actions=len(rec.planned.actions))
    if any(not a.held for a in rec.planned.actions):
        # Delivery as the config's dispatch mode says; imports nothing heavy unless inline.
        from msp._dispatch.kick import after_commit

        note = after_commit(ctx.project, ctx.store)
        if note:
            log.warning(note)


def record_text(rec: Recorded, what: str) -> str:
    """The human-readable report of a recorded moment; for a dry run, the actions it would plan."""
    if rec.dry_run:
        lines = [f"dry run: would record {what}; nothing stored."]
        if not rec.planned.objects:
            lines.append("No integration would plan an action.")
        for action in rec.planned.objects:
            lines.append(f"--- {action.integration}: {action.kind}")
            shown = action.model_dump(mode="json", by_alias=True, exclude={"integration", "idempotency_key", "kind"})
            lines.append(json.dumps(shown, ensure_ascii=False, indent=2))
        return "\n".join(lines)
    suffix = f" ({len(rec.planned.actions)} action(s) queued)" if rec.planned.actions else ""
    return f"{what}{suffix}"
