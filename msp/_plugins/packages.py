"""Which package provides an integration, and the command that installs it.

The host names the package when a config section asks for an integration nobody installed;
``msp install`` resolves the same short names. The core still imports no integration: this is
a table of names, nothing more.
"""

from __future__ import annotations

import shlex

#: The integrations that ship with msp, by the name their config section uses. Each is its own
#: distribution, ``msp-<name>``.
BUILT_IN = ("jira", "linear", "neo4j", "obsidian", "slack", "webhook")


def built_in_name(target: str) -> str | None:
    """The built-in integration ``target`` names (``neo4j``, ``msp-neo4j``, ``msp_neo4j``), or None."""
    name = target.strip().lower().removeprefix("msp-").removeprefix("msp_").replace("_", "-")
    return name if name in BUILT_IN else None


def package_of(name: str) -> str | None:
    """The distribution that provides the built-in integration ``name``; None for any other."""
    built_in = built_in_name(name)
    return f"msp-{built_in}" if built_in else None


def install_hint(name: str) -> str:
    """How to install what provides ``name``: the exact command for a built-in, else the form."""
    package = package_of(name)
    if package is None:
        return "install the package that provides it with `msp install PACKAGE` (a name, a folder or a wheel)"
    return f"install it with `{shlex.join(['msp', 'install', name])}` (the package {package})"
