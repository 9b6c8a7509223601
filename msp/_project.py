"""``msp.project()``: the project a plugin's own command runs in, read-only.

Commands that plugins add (``msp_register_commands``) need what msp's own commands have: the
project's root folder and their integration's config section. This is that, and no more: no
store, no plugin host, no way to change the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProjectView:
    """A project as a plugin command sees it."""

    root: Path
    """The folder holding ``.msp/`` (with ``MSP_DIR`` set: that folder's parent)."""
    msp_dir: Path
    """The project's state folder."""
    integrations: Mapping[str, Mapping[str, Any]]
    """Every ``[integrations.NAME]`` section as written (after user config and ``MSP_*``
    overrides), host keys such as ``enabled`` or ``hold`` included."""

    def integration_config(self, name: str) -> dict[str, Any]:
        """The integration's own keys of ``[integrations.NAME]`` (host keys left out); ``{}``
        when the section is absent. The integration's ``defaults`` are not merged in."""
        from msp._plugins.host import split_section

        own, _ = split_section(self.integrations.get(name, {}))
        return own


def project(start: Path | None = None) -> ProjectView:
    """The project found from ``start`` (default: the working directory) walking up to the
    nearest ``.msp/``, or the folder ``MSP_DIR`` names.

    :raises msp.errors.MspError: no project there (``ProjectNotFound``), or its config does not
        load; the error says what to do.
    """
    from msp._config import open_project

    found = open_project(start)
    assert found is not None  # open_project raises instead when required
    return ProjectView(root=found.root, msp_dir=found.msp_dir,
                       integrations={k: dict(v) for k, v in found.config.integrations.items()})
