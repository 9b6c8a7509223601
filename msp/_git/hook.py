"""The ``post-commit`` hook that records each commit in the active session.

The hook is a small ``sh`` script (git for Windows runs hooks with its own ``sh`` too). It
hands msp the new commit's hash and nothing else; msp reads the subject and files from git.
It never fails a commit: git ignores a ``post-commit`` hook's status anyway, and the script
still ends with ``exit 0`` and swallows msp's failure (msp logs it and says one line).

A ``post-commit`` hook that is already there is kept, not overwritten: it moves to
``post-commit.msp-chained`` and the new hook runs it first, with the same arguments and input.
Installing again rewrites msp's hook in place (the interpreter may have moved); uninstalling
puts the chained hook back. Both are idempotent.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from msp._git.repo import GitFailed, hooks_dir

HOOK = "post-commit"
CHAINED = "post-commit.msp-chained"
#: The line that tells msp's hook from anyone else's.
MARKER = "# msp post-commit hook"


@dataclass(frozen=True)
class HookState:
    path: Path
    installed: bool
    chained: Path | None


def _script(python: str) -> str:
    interpreter = shlex.quote(python)
    return f"""#!/bin/sh
{MARKER}: installed by `msp git hook install`, removed by `msp git hook uninstall`.
# Records each commit as an update of the active msp session; never fails the commit.
chained="$(dirname "$0")/{CHAINED}"
if [ -x "$chained" ]; then
    "$chained" "$@"
fi
if [ ! -x {interpreter} ]; then
    echo "msp: the post-commit hook's Python ({interpreter}) is gone; run \\`msp git hook install\\` again" >&2
    exit 0
fi
commit=$(git rev-parse --verify --quiet HEAD) || exit 0
{interpreter} -m msp git record --hook "$commit" </dev/null || true
exit 0
"""


def _ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def state(folder: Path) -> HookState:
    where = hooks_dir(folder)
    hook, chained = where / HOOK, where / CHAINED
    return HookState(hook, hook.is_file() and _ours(hook), chained if chained.exists() else None)


def install(folder: Path, python: str | None = None) -> tuple[HookState, str]:
    """Install (or refresh) msp's hook; returns the state and what was done, in words."""
    where = hooks_dir(folder)
    where.mkdir(parents=True, exist_ok=True)
    hook, chained = where / HOOK, where / CHAINED
    done = "installed"
    if hook.is_file() and _ours(hook):
        done = "already installed; refreshed"
    elif hook.exists() or hook.is_symlink():
        if chained.exists() or chained.is_symlink():
            raise GitFailed(
                f"both {hook} and {chained} exist and neither is msp's",
                f"merge them into one {HOOK} hook, then run `msp git hook install` again",
            )
        os.replace(hook, chained)
        done = f"installed; your own {HOOK} hook now runs first, from {CHAINED}"
    text = _script(python or sys.executable)
    temporary = hook.with_name(f".{HOOK}.msp-tmp")
    temporary.write_text(text, encoding="utf-8", newline="\n")
    temporary.chmod(0o755)
    os.replace(temporary, hook)
    return state(folder), done


def uninstall(folder: Path) -> tuple[HookState, str]:
    """Remove msp's hook and put a chained one back; nothing to do is not an error."""
    where = hooks_dir(folder)
    hook, chained = where / HOOK, where / CHAINED
    if not (hook.is_file() and _ours(hook)):
        return state(folder), "not installed; nothing to remove"
    if chained.exists() or chained.is_symlink():
        os.replace(chained, hook)
        done = f"removed; your own {HOOK} hook is back in place"
    else:
        hook.unlink()
        done = "removed"
    return state(folder), done
