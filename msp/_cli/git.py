"""``msp git``: a commit message from the active session, a commit made with it, and the
``post-commit`` hook that records each commit in the session. Registered on the main app at
import; light at import like every command group (git runs only inside the commands).

msp never commits unless asked (``msp git commit``), and every command but ``message`` refuses
to run outside a git repository, saying so.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _emit, _run, app

if TYPE_CHECKING:
    from msp._git.repo import CommitData

git_app = typer.Typer(help="Commit messages from the session, and commits recorded in it.", no_args_is_help=True)
hook_app = typer.Typer(help="The post-commit hook that records each commit in the active session.",
                       no_args_is_help=True)
app.add_typer(git_app, name="git")
git_app.add_typer(hook_app, name="hook")

#: At most this many changed files are kept on the update (a vendoring commit may touch tens of
#: thousands); the update's text still counts them all.
MAX_FILES = 1000
#: A subject longer than this is shortened in the update's text (kept whole on the commit).
TEXT_SUBJECT = 200


def _active_session(ctx: Context) -> Any:
    from msp.errors import SessionNotActive

    row = ctx.manager.active()
    if row is None:
        raise SessionNotActive("no session is active, so there is nothing to write a commit message from",
                               "start one with `msp start --goal ...`, or write the message yourself")
    return ctx.manager.get(row.id)


@git_app.command("message")
def git_message(as_json: bool = JsonOpt) -> None:
    """Print a commit message made from the active session (goal, progress, updates, decisions,
    issue key); use it with `git commit -F -` or `msp git commit`."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._git.message import compose

        session = _active_session(ctx)
        message = compose(session)
        return ({"ok": True, "session_id": session.id, "subject": message.subject, "body": message.body,
                 "message": message.text}, message.text.rstrip("\n"))

    _run(as_json, body)


def _record(ctx: Context, commit: CommitData) -> tuple[dict[str, Any], str]:
    """Record ``commit`` as an update of the active session, once: a commit already recorded
    there (the hook and `msp git commit` both try) is not recorded again."""
    from msp._app.recording import finish
    from msp.errors import SessionNotActive

    short = commit.hash[:10]
    row = ctx.manager.active()
    if row is None:
        raise SessionNotActive(f"no session is active; commit {short} is not recorded",
                               "start one with `msp start` before committing")
    with ctx.store.read() as tx:
        for event in tx.session_events(row.id, types=["progress_updated"]):
            if (event.data.get("commit") or {}).get("hash") == commit.hash:
                return ({"ok": True, "recorded": False, "session_id": row.id, "commit": commit.hash},
                        f"Commit {short} is already recorded in session {row.id}")
    subject = commit.subject if len(commit.subject) <= TEXT_SUBJECT else commit.subject[: TEXT_SUBJECT - 3] + "..."
    files = f"{len(commit.files)} file{'' if len(commit.files) == 1 else 's'}"
    text = f"Committed {short}" + (f": {subject}" if subject else "") + f" ({files})"
    data = commit.as_input()
    data["files"] = data["files"][:MAX_FILES]  # type: ignore[index]
    rec = ctx.manager.update({"text": text, "commit": data})
    answer, said = finish(ctx, rec, lambda r: f"Recorded commit {short} in session {r.event.session_id}")
    answer["recorded"] = True
    return answer, said


@git_app.command("record", hidden=True)
def git_record(
    commit: str = typer.Argument(..., help="The commit's hash."),
    hook: bool = typer.Option(False, "--hook", help="Called by the post-commit hook: never fail, log instead."),
    as_json: bool = JsonOpt,
) -> None:
    """Record a commit (hash only: msp reads the rest from git) in the active session."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._git.repo import commit_data

        return _record(ctx, commit_data(Path.cwd(), commit))

    if not hook:
        _run(as_json, body)
        return
    # From the hook: the commit is made whatever happens here. Say one line, log it, exit 0.
    ctx = Context()
    try:
        data, text = body(ctx)
        _emit(as_json, data, "msp: " + text)
    except Exception as exc:
        from msp.errors import MspError

        reason = exc.message if isinstance(exc, MspError) else f"{type(exc).__name__}: {exc}"
        print(f"msp: commit {commit[:10]} not recorded: {reason}", file=sys.stderr)
        try:
            from msp._logging import get_log

            get_log().warning(f"post-commit hook: commit {commit[:10]} not recorded: {reason}")
        except Exception:  # no project to log in: the line above said it
            pass
    finally:
        ctx.close()


@git_app.command("commit")
def git_commit(
    all_: bool = typer.Option(False, "--all", "-a", help="Stage every modified and deleted tracked file first."),
    push: bool = typer.Option(False, "--push", help="Push after committing (`git push`)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the message; commit nothing."),
    as_json: bool = JsonOpt,
) -> None:
    """Commit the staged changes with the message `msp git message` prints, record the commit
    in the session, and with --push push it."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._git.message import compose
        from msp._git.repo import GitFailed, commit_data, head, run_git, toplevel

        folder = Path.cwd()
        toplevel(folder)
        session = _active_session(ctx)
        message = compose(session)
        if dry_run:
            return ({"ok": True, "dry_run": True, "message": message.text, "committed": None},
                    message.text.rstrip("\n"))
        args = ["commit", "--file=-", "--cleanup=strip", *(["--all"] if all_ else [])]
        done = run_git(folder, *args, input=message.text, check=False)
        if done.returncode != 0:
            said = (done.stdout.strip() + "\n" + done.stderr.strip()).strip()
            nothing = "nothing to commit" in said or "no changes added" in said
            raise GitFailed(f"git commit failed: {said or f'exit status {done.returncode}'}",
                            "stage changes with `git add` (or pass --all)" if nothing else None)
        commit = commit_data(folder, head(folder))
        answer, said = _record(ctx, commit)
        if not answer.get("recorded"):
            said = f"Recorded in session {session.id} by the post-commit hook"
        lines = [f"Committed {commit.hash[:10]}: {commit.subject}", said]
        data: dict[str, Any] = {"ok": True, "dry_run": False, "committed": commit.hash, "message": message.text,
                                "recorded": answer, "pushed": False}
        if push:
            pushed = run_git(folder, "push", check=False)
            if pushed.returncode != 0:
                reason = (pushed.stderr.strip() or pushed.stdout.strip()).splitlines()
                raise GitFailed(f"committed {commit.hash[:10]}, but git push failed: {' / '.join(reason[:6])}",
                                "the commit is made and recorded; push it with `git push` when you can")
            data["pushed"] = True
            lines.append("Pushed.")
        return data, "\n".join(lines)

    _run(as_json, body)


@hook_app.command("install")
def hook_install(as_json: bool = JsonOpt) -> None:
    """Add msp's post-commit hook to this repository (an existing post-commit hook is kept and
    still runs); installing again is harmless."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._git.hook import install

        found, done = install(Path.cwd())
        data = {"ok": True, "hook": str(found.path), "installed": found.installed,
                "chained": str(found.chained) if found.chained else None, "done": done}
        return data, f"post-commit hook {done} ({found.path}): each commit becomes an update of the active session"

    _run(as_json, body)


@hook_app.command("uninstall")
def hook_uninstall(as_json: bool = JsonOpt) -> None:
    """Remove msp's post-commit hook (a hook it chained is put back)."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._git.hook import uninstall

        found, done = uninstall(Path.cwd())
        return {"ok": True, "hook": str(found.path), "installed": found.installed, "done": done}, \
            f"post-commit hook {done} ({found.path})"

    _run(as_json, body)


@hook_app.command("status")
def hook_status(as_json: bool = JsonOpt) -> None:
    """Whether msp's post-commit hook is installed here."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._git.hook import state

        found = state(Path.cwd())
        text = f"post-commit hook {'installed' if found.installed else 'not installed'} ({found.path})"
        if found.chained:
            text += f"; chained: {found.chained}"
        return {"ok": True, "hook": str(found.path), "installed": found.installed,
                "chained": str(found.chained) if found.chained else None}, text

    _run(as_json, body)
