"""``msp store copy``: this project's event log into another store (registered on ``msp store``).

Local history into the team store (``--to-env MSP_TEAM_STORE_URL``), or the team store into a
SQLite file for a backup (``--to backup.db``). The copying itself is :mod:`msp._store.copy`; this
module finds the target, refuses the project's own store, and shows progress. A target URL is
never printed: messages name its user, host, port and database only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _run
from msp._cli.store import store_app

if TYPE_CHECKING:
    from msp._store.copy import CopyReport

_TO_HELP = (
    "Where to copy: a PostgreSQL URL (postgresql://USER@HOST/DB), sqlite:///PATH, or a path (a file, or a "
    "folder: its .msp/msp.db, else msp.db in it). A URL typed here stays in your shell history: put one "
    "with a password in an environment variable and use --to-env instead."
)


@store_app.command("copy")
def store_copy(
    to: Optional[str] = typer.Option(None, "--to", metavar="TARGET", help=_TO_HELP),  # noqa: UP045
    to_env: Optional[str] = typer.Option(  # noqa: UP045
        None, "--to-env", metavar="VARIABLE",
        help="The environment variable holding the target (a URL with its password stays out of shell history).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Copy this project's events into another store, keeping their ids and times.

    Running it again copies only what the target lacks (nothing, the second time). The outbox is
    not copied: enable integrations on the target and back-fill them with `msp replay`, so nothing
    is delivered twice. Copy a team store into a SQLite file for a backup the same way.
    """

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._store import open_store
        from msp._store.copy import copy_events
        from msp.errors import StoreError

        spec, where = _target(to, to_env)
        project = ctx.project
        source_where = _describe_source(ctx)
        if where == source_where:
            from msp.errors import InvalidInput

            raise InvalidInput(f"the copy target is this project's own store ({where})",
                               "name another store with --to or --to-env")
        source = ctx.store
        if isinstance(spec, Path):
            _private_file(spec)
        try:
            target = open_store(spec, synchronous=project.config.store.synchronous)
        except StoreError as exc:
            if "msp store migrate" not in (exc.hint or ""):
                raise
            variable = to_env or "VARIABLE"  # a URL given with --to: put it in a variable for this
            raise StoreError(exc.message, f"create its schema first: `msp store migrate --url-env {variable}` "
                                          "(with a role allowed to create tables), then copy again") from None
        bar = _Bar() if sys.stderr.isatty() else None
        try:
            report = copy_events(source, target, progress=bar)
        finally:
            target.close()
            if bar is not None:
                bar.done()
        data = {"source": source_where, "target": where, **report.to_dict()}
        text = (f"Copied {report.copied} event(s) from {source_where} to {where}"
                f"{f'; {report.present} were there already' if report.present else ''}.")
        if report.copied:
            text += ("\nThe outbox was not copied: integrations enabled on that store back-fill with "
                     "`msp replay --integration NAME`.")
        return data, text

    _run(as_json, body)


def _target(to: str | None, to_env: str | None) -> tuple[str | Path, str]:
    """The store to open and how to name it in messages (never with a password)."""
    import os

    from msp._store import is_store_url
    from msp.errors import InvalidInput

    if (to is None) == (to_env is None):
        raise InvalidInput("name the store to copy to, once: --to TARGET or --to-env VARIABLE",
                           "for a team store: `msp store copy --to-env MSP_TEAM_STORE_URL`")
    if to_env is not None:
        found = os.environ.get(to_env)
        if not found:
            raise InvalidInput(f"the environment variable {to_env} is not set",
                               "set it to the target store's URL or path, or use --to")
        to = found
    assert to is not None
    if is_store_url(to):
        from msp._store.postgres import describe_target

        return to, f"the team store at {describe_target(to)}"
    if to.lower().startswith("sqlite://"):
        to = to[len("sqlite://"):]
    elif "://" in to:
        # Not echoed: whatever it is, it may carry a password.
        raise InvalidInput("the copy target is a URL msp does not know (not postgresql:// or sqlite://)",
                           "give a postgresql:// URL, sqlite:///PATH or a file path")
    if not to:
        raise InvalidInput("the copy target is empty", "give a postgresql:// URL or a file path")
    path = Path(to).expanduser()
    if path.is_dir():
        path = path / ".msp" / "msp.db" if (path / ".msp").is_dir() else path / "msp.db"
    if not path.parent.is_dir():
        raise InvalidInput(f"the folder {path.parent} does not exist", "create it, or name a file in another folder")
    return path, f"the SQLite store {path.resolve()}"


def _describe_source(ctx: Context) -> str:
    from msp._store import store_url

    url = store_url(ctx.project.config.store)
    if url is None:
        return f"the SQLite store {ctx.project.db_path.resolve()}"
    from msp._store.postgres import describe_target

    return f"the team store at {describe_target(url)}"


def _private_file(path: Path) -> None:
    """A new SQLite target is created readable by its owner only: it holds every session."""
    import os

    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        from msp.errors import StoreError

        raise StoreError(f"cannot create {path}: {exc.strerror or exc}", "name a file in a writable folder") from exc


class _Bar:
    """A progress bar on stderr (only when it is a terminal): events seen out of the total."""

    WIDTH = 30

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, report: CopyReport) -> None:
        total = max(report.total, report.seen, 1)
        filled = self.WIDTH * report.seen // total
        sys.stderr.write(f"\rcopying events [{'#' * filled}{'.' * (self.WIDTH - filled)}] {report.seen}/{total}")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
