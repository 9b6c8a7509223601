"""The team's integration sections kept in the store: ``msp config push``, ``pull`` and
``show --team`` (docs/team.md, "Team configuration").

Only ``[integrations.NAME]`` sections travel, and never a secret: a value that looks like one
is refused before anything is written, and the sections keep naming where each secret lives
(``token_env``, ``..._keyring``), resolved on each machine at send time. Every push is a new
revision saying who pushed it and when; the latest is in force. When a command opens the store,
the team's sections apply beneath the machine's own config (:func:`msp._config.with_team_sections`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msp._app.context import Context
    from msp._store.interface import TeamConfig

#: What a push did to each section it named.
ADDED, REPLACED, REMOVED, UNCHANGED, ABSENT = "added", "replaced", "removed", "unchanged", "not in the team config"


def engineer() -> str:
    """Who is pushing, as sessions name their engineer (``MSP_USER`` / ``MSP_HOST``, else the
    login and machine names; msp._model.identity checks them)."""
    from msp._model.identity import current_engineer

    return current_engineer().label


@dataclass
class PushResult:
    team: TeamConfig | None
    outcome: dict[str, str] = field(default_factory=dict)
    pushed: bool = False


def push(ctx: Context, names: list[str], remove: list[str]) -> PushResult:
    """Put this folder's integration sections (those named; else all, unless only removing) into
    the team config, each replacing the team's section of that name, and take out the
    ``remove``d ones. A new
    revision is written only when something changes."""
    from datetime import UTC, datetime

    from msp._config import _check_integration, folder_sections, secrets_in
    from msp.errors import ConfigError, InvalidInput

    project = ctx.project
    own = folder_sections(project)
    unknown = [n for n in names if n not in own]
    if unknown:
        raise InvalidInput(f"{project.config_path} has no section for {', '.join(unknown)}",
                           f"sections there: {', '.join(sorted(own)) or 'none'}")
    overlap = sorted(set(names) & set(remove))
    if overlap:
        raise InvalidInput(f"{', '.join(overlap)} is both pushed and removed", "name each section once")
    # With --remove alone, only that: pushing every other section too would surprise.
    chosen = {n: own[n] for n in (names or ([] if remove else sorted(own)))}
    if not chosen and not remove:
        raise InvalidInput(f"{project.config_path} has no [integrations.NAME] section to push",
                           "configure an integration first (`msp config set integrations.NAME.KEY VALUE`)")
    found = secrets_in(chosen)
    if found:
        raise ConfigError(
            f"not pushed: {', '.join(found)} look(s) like a secret, and secrets never leave this machine",
            "name where it lives instead (KEY_env = \"VARIABLE\" or KEY_keyring = \"service/user\"), resolved on "
            "each machine at send time; nothing was pushed",
        )
    for name, section in chosen.items():
        if section.get("enabled", True) is not False:
            try:  # a section that does not load would stop that integration on every machine
                _check_integration(name, section, project)
            except ConfigError as exc:
                raise ConfigError(f"not pushed: integrations.{name} does not load here: "
                                  f"{exc.message.partition('): ')[2] or exc.message}",
                                  f"fix it in {project.config_path} (`msp config validate` checks it); "
                                  "nothing was pushed") from None
    with ctx.store.write() as tx:
        current = tx.team_config()
        sections = dict(current.sections) if current is not None else {}
        outcome: dict[str, str] = {}
        for name, section in chosen.items():
            outcome[name] = ADDED if name not in sections else REPLACED if sections[name] != section else UNCHANGED
            sections[name] = section
        for name in remove:
            outcome[name] = REMOVED if sections.pop(name, None) is not None else ABSENT
        changed = [n for n, o in outcome.items() if o in (ADDED, REPLACED, REMOVED)]
        if not changed:
            return PushResult(current, outcome)
        tx.add_team_config(sections, changed, engineer(), datetime.now(UTC))
        team = tx.team_config()
    return PushResult(team, outcome, pushed=True)


@dataclass
class Change:
    """One key ``msp config pull`` writes: its value here before (``None`` with ``new``) and the team's."""

    key: str
    before: Any
    after: Any
    new: bool

    def line(self) -> str:
        from msp._logging import redact

        after = json.dumps(redact(self.after), ensure_ascii=False)
        if self.new:
            return f"  + {self.key} = {after}"
        return f"  ~ {self.key} = {after} (was {json.dumps(redact(self.before), ensure_ascii=False)})"

    def to_dict(self) -> dict[str, Any]:
        from msp._logging import redact

        return {"key": self.key, "before": None if self.new else redact(self.before), "after": redact(self.after),
                "new": self.new}


def latest(ctx: Context) -> TeamConfig | None:
    with ctx.store.read() as tx:
        return tx.team_config()


def pull(ctx: Context, names: list[str], dry_run: bool) -> tuple[TeamConfig, list[Change]]:
    """Write the team's sections (those named, else all) into this folder's ``config.toml``, key
    by key: a key the team has is set to the team's value, a key only this folder has is kept.
    Returns what changed (or would, with ``dry_run``)."""
    from msp._config import folder_sections, secrets_in, set_values
    from msp.errors import InvalidInput, StoreError

    team = latest(ctx)
    if team is None:
        raise InvalidInput("the store holds no team config yet",
                           "push this folder's integration sections with `msp config push`")
    unknown = [n for n in names if n not in team.sections]
    if unknown:
        raise InvalidInput(f"the team config has no section for {', '.join(unknown)}",
                           f"sections there: {', '.join(sorted(team.sections)) or 'none'}")
    chosen = {n: team.sections[n] for n in (names or sorted(team.sections))}
    found = secrets_in(chosen)
    if found:  # only a store written around msp can hold one; never copy it into a file
        raise StoreError(f"the team config (revision {team.revision}) holds what looks like a secret at "
                         f"{', '.join(found)}; nothing was written",
                         f"ask {team.pushed_by} to push it again naming the secret (KEY_env) instead")
    own = folder_sections(ctx.project)
    changes = []
    for name, section in chosen.items():
        here = own.get(name, {})
        for key, value in section.items():
            if key not in here or here[key] != value:
                changes.append(Change(f"integrations.{name}.{key}", here.get(key), value, key not in here))
    if changes and not dry_run:
        set_values(ctx.project, [(c.key, c.after) for c in changes], secrets_checked=True)
    return team, changes

