"""``msp goal TEXT``: change the active session's goal mid-session."""

from __future__ import annotations

import typer

from msp._cli.main import DryRunOpt, JsonOpt, _recording, _text_or_stdin, app


@app.command()
def goal(
    text: str = typer.Argument(..., help="The session's goal from now on; - reads it from standard input."),
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Change the active session's goal; integrations hear it (msp_goal_changed)."""
    _recording(as_json, dry_run, lambda m: m.goal({"goal": _text_or_stdin(text)}, dry_run=dry_run))
