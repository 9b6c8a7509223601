"""``msp config push`` / ``pull`` and ``msp config show --team``: the team's integration
sections kept in the store (docs/team.md), registered on ``msp config``. The work is
:mod:`msp._app.team_config`; this module words it."""

from __future__ import annotations

from typing import Any

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _as_toml, _run, config_app

_NAMES = typer.Argument(None, metavar="[NAME]...", help="Only these integrations' sections (default: all).")


@config_app.command("push")
def config_push(
    names: list[str] = _NAMES,
    remove: list[str] = typer.Option([], "--remove", metavar="NAME", help="Take this section out of the team config."),
    as_json: bool = JsonOpt,
) -> None:
    """Put this folder's [integrations.*] sections into the team's store, for every machine.

    Each pushed section replaces the team's section of that name, as a new revision noting who
    pushed it and when. A value that looks like a secret is refused: name where it lives
    (KEY_env, KEY_keyring), and each machine resolves it at send time.
    """

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._app.team_config import push

        result = push(ctx, list(names or []), list(remove))
        where = _where(ctx)
        data = {"pushed": result.pushed, "sections": result.outcome,
                "team": result.team.to_dict() if result.team else None}
        listed = ", ".join(f"{name} ({what})" for name, what in result.outcome.items())
        if not result.pushed:
            return data, f"Nothing pushed: the team config in {where} already has {listed}."
        assert result.team is not None
        return data, (f"Pushed revision {result.team.revision} of the team config to {where}: {listed}.\n"
                      "Other machines get it when they next open the store; `msp config pull` writes it into a "
                      "folder's config.toml.")

    _run(as_json, body)


@config_app.command("pull")
def config_pull(
    names: list[str] = _NAMES,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
    as_json: bool = JsonOpt,
) -> None:
    """Write the team's integration sections into this folder's config.toml, showing each change.

    A key the team sets takes the team's value; keys only this folder has are kept, and so are
    the file's comments.
    """

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._app.team_config import pull

        team, changes = pull(ctx, list(names or []), dry_run)
        data = {"revision": team.revision, "pushed_by": team.pushed_by, "written": bool(changes) and not dry_run,
                "changes": [c.to_dict() for c in changes]}
        source = f"revision {team.revision} (pushed by {team.pushed_by})"
        if not changes:
            return data, f"{ctx.project.config_path} already matches the team config, {source}."
        verb = "Would write" if dry_run else "Wrote"
        return data, "\n".join([f"{verb} {len(changes)} key(s) of the team config, {source}, into "
                                f"{ctx.project.config_path}:", *(c.line() for c in changes)])

    _run(as_json, body)


def show_team(ctx: Context) -> tuple[dict[str, Any], str]:
    """``msp config show --team``: the revision in force, who pushed it and when, its sections,
    and the keys this machine's own config sets over them."""
    from msp._app.team_config import latest
    from msp._config import load_config
    from msp._logging import redact
    from msp._model.models import format_time

    team = latest(ctx)
    where = _where(ctx)
    if team is None:
        return ({"ok": True, "team": None, "store": where},
                f"No team config in {where} yet: `msp config push` puts this folder's integration sections there.")
    own = load_config(ctx.project.msp_dir).integrations  # this machine's alone, without the team's
    overrides = sorted(f"integrations.{name}.{key}" for name, section in team.sections.items()
                       for key, value in own.get(name, {}).items() if section.get(key, value) != value
                       or key not in section)
    data = {"ok": True, "team": redact(team.to_dict()), "store": where, "overridden_here": overrides}
    header = (f"team config revision {team.revision} in {where}, pushed by {team.pushed_by} at "
              f"{format_time(team.pushed_at)} (changed: {', '.join(team.changed) or 'nothing'})")
    text = _as_toml({"integrations": redact(team.sections)}, header)
    if overrides:
        text += "\n# this machine's config sets over it: " + ", ".join(overrides)
    return data, text


def _where(ctx: Context) -> str:
    from msp._store import store_url

    url = store_url(ctx.project.config.store)
    if url is None:
        return f"this project's SQLite store ({ctx.project.db_path})"
    from msp._store.postgres import describe_target

    return f"the team store at {describe_target(url)}"
