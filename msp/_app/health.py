"""Whether an empty answer can be trusted.

A listing that finds nothing ("No sessions", "The queue is empty") is only true of a sound
store: a damaged page can make a table read as empty without any error. So when a view comes
back empty, its command asks the store's quick soundness check first, and a damaged store is
reported as such (pointing to ``msp store check``) instead of as "nothing". The check runs only
for empty answers, so a busy project pays nothing for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msp._app.context import Context

#: Where a damaged store sends its user (the store's own errors say the same).
CHECK_HINT = (
    "run `msp store check` to see what is damaged; `msp store check --export FILE` saves every event it can "
    "still read"
)


def confirm_sound(ctx: Context) -> None:
    """Raise a StoreError when the project's store fails its quick soundness check."""
    problems = ctx.store.check(quick=True, limit=5)
    if problems:
        from msp.errors import StoreError

        raise StoreError(
            f"the store {ctx.project.db_path} is damaged, so it cannot tell what it holds "
            f"(SQLite's check says: {problems[0]})",
            CHECK_HINT,
            details={"problems": problems},
        )
