"""CLI commands for the mcp part of msp, registered on the main app at import.

Only typer and ``._cli`` are imported here; the ``mcp`` SDK is imported when the command runs.
"""

from __future__ import annotations

from typing import Any

import typer

from msp._cli.main import Context, _run, app


@app.command("mcp")
def mcp_command(
    read_only: bool = typer.Option(
        False, "--read-only", help="Expose only the tools that don't write (status, context, sessions, queue_status)."
    ),
) -> None:
    """Serve this project to an AI assistant over MCP (stdio) until the client disconnects.

    stdout carries the protocol, hence no --json; start-up errors go to stderr and exit non-zero.
    """

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._mcp.server import serve

        serve(read_only=read_only)
        return {"ok": True}, ""

    _run(False, body)
