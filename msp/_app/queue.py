"""The outbox at a glance, for ``msp status`` and the MCP ``status`` tool."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msp._app.context import Context


def counts_by_status(ctx: Context) -> dict[str, int]:
    """How many actions the outbox holds in each status (statuses with none are left out)."""
    with ctx.store.read() as tx:
        return tx.outbox.counts()
