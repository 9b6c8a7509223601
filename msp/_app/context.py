"""What a command or an MCP tool call needs, opened on first use."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from msp._config import Project
    from msp._model.identity import Engineer
    from msp._model.models import Source
    from msp._session.manager import SessionManager
    from msp._store.interface import Store


@dataclass
class Options:
    """Process-wide switches set by the front-end before any work starts."""

    #: Tracebacks on errors and debug logging (``msp --debug ...``).
    debug: bool = False


OPTIONS = Options()


class Context:
    """The project, its store, the session manager and the plugin host, each opened when first
    used, so a command that needs only the project never opens the store."""

    def __init__(self, source: Source = "cli") -> None:
        from msp._app.screen import for_terminal
        from msp._logging import show_through

        show_through(for_terminal)  # warnings on stderr show stored text, never obey it
        self._project: Project | None = None
        self._store: Store | None = None
        self._manager: SessionManager | None = None
        self._engineer: Engineer | None = None
        self.source = source

    @property
    def project(self) -> Project:
        if self._project is None:
            from msp._config import open_project
            from msp._logging import configure

            project = open_project()
            assert project is not None
            self._project = project
            configure(project.logs_dir, project.config.logging.level)
        return self._project

    @property
    def store(self) -> Store:
        """The project's store. Opening it also layers the team's integration sections the
        store holds (``msp config push``) beneath the project's own config."""
        if self._store is None:
            from msp._config import with_team_sections
            from msp._store import open_store

            self._store = open_store(self.project)
            team = self._store.team_config()
            if team is not None:
                self._project = with_team_sections(self.project, team.sections)
        return self._store

    @property
    def manager(self) -> SessionManager:
        if self._manager is None:
            from msp._session.manager import SessionManager

            project = self.project
            self._manager = SessionManager(
                self.store,
                self.plugins(),
                default_project=project.name,
                source=self.source,
                timeout_hours=project.config.session.timeout_hours,
                engineer=self._engineer,
                detect=detect_rules(project.config),
            )
        return self._manager

    @property
    def engineer(self) -> Engineer:
        """Who is calling (``MSP_USER`` / ``MSP_HOST``, else the OS's names); the manager
        records as the same engineer."""
        if self._engineer is None:
            if self._manager is not None:
                self._engineer = self._manager.engineer
            else:
                from msp._model.identity import current_engineer

                self._engineer = current_engineer()
        return self._engineer

    @property
    def team_store(self) -> bool:
        """Whether the project records into a team store (``[store] url_env`` / ``url_keyring``)."""
        config = self.project.config.store
        return bool(config.url_env or config.url_keyring)

    def shows_engineers(self, owners: Iterable[tuple[str | None, str | None]]) -> bool:
        """Whether a listing of sessions owned by ``owners`` (user, host) names each one's
        engineer: in a team store, or when one is not the caller's (another user, or the
        caller on another machine). A session with no user says nothing either way."""
        if self.team_store:
            return True
        me = (self.engineer.user, self.engineer.host)
        return any(user is not None and (user, host) != me for user, host in owners)

    def plugins(self, only: list[str] | None = None) -> Any:
        _ = self.store  # opened first: it brings the team's integration sections
        config = self.project.config
        if not config.integrations and only is None:
            return None
        from msp._logging import get_log
        from msp._plugins.host import build_host

        host = build_host(
            config.integrations,
            hook_timeout_ms=config.plugins.hook_timeout_ms,
            only=only,
            cache_dir=self.project.cache_dir,
            project_root=self.project.root,
        )
        for broken in host.broken:
            replay = shlex.join(["msp", "replay", "--integration", broken.name, "--since", "1d"])
            get_log().warning(
                f"integration {broken.name!r} is not loaded: {broken.error} (this command still records; "
                f"once fixed, back-fill it with `{replay}`)"
            )
        return host

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def detect_rules(config: Any) -> Any:
    """The project's ``[detect]`` section as the detector's rules; None when it is off."""
    section = config.detect
    if not section.enabled:
        return None
    from msp._model.detect_rules import Rules

    return Rules(decisions=tuple(section.decisions), blockers=tuple(section.blockers), entities=section.entities)
