"""The ``msp`` command: the CLI front-end, plus ``msp mcp``, which runs the MCP front-end.

The CLI (``msp._cli``) and the MCP server (``msp._mcp``) both stand on the application layer
(``msp._app``) and never import each other; this module sits above both and is the only one
that knows the two. It adds the ``mcp`` command to the CLI's app and then runs the CLI, so
``msp mcp`` gets the CLI's error policy (a missing project or a bad config is an ordinary
error on stderr, exit non-zero) while the ``mcp`` SDK is imported only when that command runs:
``msp update`` loads none of it.

The console script ``msp`` and ``python -m msp`` both start :func:`main`.
"""

from __future__ import annotations

from typing import Any

import typer

from msp._app.context import Context
from msp._cli.main import _run, app
from msp._cli.main import main as _cli_main

__all__ = ["app", "main"]


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


def main() -> None:
    """Run ``msp`` with the process's command line."""
    _cli_main()
