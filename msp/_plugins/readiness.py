"""Whether an enabled integration can deliver at all, judged locally and cheaply.

An integration may declare, as data, what its delivery depends on::

    readiness = {
        "secrets": ["token"],              # needed: token_env (a variable that must be set) or token_keyring
        "optional_secrets": ["password"],  # checked only when named
        "folders": ["vault"],              # a folder that must exist (or lie inside the project,
                                           # where msp creates it) and be writable
    }

The host evaluates it with the integration's config: a look at ``os.environ`` and a ``stat``
per folder. No keyring is read (a keyring can prompt, or take a second to answer), nothing
touches the network and no module is imported, so recording commands can afford it on every
run: their one warning line per integration comes from here, and so do the doctor's findings
about credentials and folders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Severity = Literal["ok", "info", "problem"]


@dataclass(frozen=True)
class Check:
    severity: Severity
    message: str
    fix: str | None = None


class BadDeclaration(ValueError):
    """The plugin's ``readiness`` is not the data this module reads."""


def _names(declared: Mapping[str, Any], key: str) -> list[str]:
    value = declared.get(key, ())
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise BadDeclaration(f"readiness[{key!r}] is {type(value).__name__}, expected a list of config keys")
    return list(value)


def evaluate(name: str, declared: object, config: Mapping[str, Any], project_root: Path) -> list[Check]:
    """One check per declared secret and folder. Raises :class:`BadDeclaration` for a
    ``readiness`` that is not a mapping of lists of config keys."""
    if not isinstance(declared, Mapping):
        raise BadDeclaration(f"readiness is {type(declared).__name__}, expected a dict")
    unknown = set(declared) - {"secrets", "optional_secrets", "folders"}
    if unknown:
        raise BadDeclaration(f"readiness has unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    checks = [_secret(name, key, config, needed=True) for key in _names(declared, "secrets")]
    checks += [_secret(name, key, config, needed=False) for key in _names(declared, "optional_secrets")]
    checks += [_folder(name, key, config, project_root) for key in _names(declared, "folders")]
    return [c for c in checks if c is not None]


def _secret(name: str, key: str, config: Mapping[str, Any], *, needed: bool) -> Check | None:
    env_key, keyring_key = f"{key}_env", f"{key}_keyring"
    variable = config.get(env_key)
    if variable:
        # The executor reads a named variable first and does not fall back to the keyring.
        if os.environ.get(str(variable)):
            return Check("ok", f"environment variable {variable} ({env_key}) is set")
        return Check("problem", f"environment variable {variable} ({env_key}) is not set",
                     f"export {variable}=... in the environment that runs msp")
    if config.get(keyring_key):
        return Check("info", f"keyring entry {config[keyring_key]} ({keyring_key}) is not read offline",
                     "`msp integrations doctor --online` uses it")
    if config.get(key):
        return Check("ok", f"{key} is set in the config")
    if not needed:
        return None
    return Check("problem", f"no {key} is named",
                 f"set {env_key} = \"VARIABLE\" (or {keyring_key} = \"service/user\") in [integrations.{name}]")


def _folder(name: str, key: str, config: Mapping[str, Any], project_root: Path) -> Check | None:
    raw = config.get(key)
    if not isinstance(raw, str) or not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path(project_root) / path
    if not path.exists():
        if _inside(path, Path(project_root)):
            return Check("ok", f"{key} folder {path} will be created on the first write")
        return Check("problem", f"{key} folder {path} does not exist",
                     f"create it, or point {key} in [integrations.{name}] at an existing folder")
    if not path.is_dir():
        return Check("problem", f"{key} {path} is not a folder", f"point {key} in [integrations.{name}] at a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        return Check("problem", f"{key} folder {path} is not writable by this user",
                     f"give this user write access to {path}")
    return Check("ok", f"{key} folder {path} exists and is writable")


def _inside(path: Path, project_root: Path) -> bool:
    """As the file executor decides: a missing folder strictly inside the project is created."""
    try:
        real_project = project_root.resolve(strict=True)
    except OSError:
        return False
    real = Path(os.path.normpath(path)).resolve()
    return real != real_project and real.is_relative_to(real_project)
