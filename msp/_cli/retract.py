"""``msp retract ITEM``: take back a decision, entity or blocker, registered on the main app at import.

A wrong detection or a mistyped item is never deleted (events are the truth): a compensating
``item_retracted`` event marks it, in the session it belongs to, and integrations hear of it
through ``msp_item_retracted``. Light at import, like every command group.
"""

from __future__ import annotations

from typing import Optional

import typer

from msp._cli.main import DryRunOpt, JsonOpt, _recording, app


@app.command()
def retract(
    item: str = typer.Argument(..., help="The item's id, or a unique part of it (any session of the project)."),
    reason: Optional[str] = typer.Option(None, "--reason", "-r", help="Why it is taken back."),  # noqa: UP045
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Take back a decision, entity or blocker (a wrong detection, a mistyped item)."""
    _recording(as_json, dry_run, lambda m: m.retract({"item": item, "reason": reason}, dry_run=dry_run))
