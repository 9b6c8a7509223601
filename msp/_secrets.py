"""Secrets are named in config, never written there: resolved at send time, never stored.

A secret-valued setting ``token`` is configured as ``token_env = "LINEAR_API_KEY"`` (an
environment variable) or ``token_keyring = "service/username"`` (an OS keyring entry).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# Defined with the rest of the public tree; kept importable from here.
from msp.errors import MissingCredential

__all__ = ["MissingCredential", "is_configured", "resolve_secret", "secret_names"]

def is_configured(config: Mapping[str, Any], key: str) -> bool:
    return any(k in config for k in (key, f"{key}_env", f"{key}_keyring"))


def secret_names(config: Mapping[str, Any], key: str) -> str:
    """How the setting is named, for messages (never the value)."""
    if f"{key}_env" in config:
        return f"environment variable {config[f'{key}_env']}"
    if f"{key}_keyring" in config:
        return f"keyring entry {config[f'{key}_keyring']}"
    return f"config key {key}"


def resolve_secret(config: Mapping[str, Any], key: str, *, integration: str = "") -> str:
    """The value of a secret-valued setting, looked up now.

    Plain values under ``key`` itself are accepted for non-secret settings that may also be
    given as secrets (a webhook URL, say).
    """
    where = f"integrations.{integration}" if integration else "the integration's config"
    env_name = config.get(f"{key}_env")
    if env_name:
        value = os.environ.get(str(env_name))
        if value:
            return value
        raise MissingCredential(
            f"{where}: environment variable {env_name} (named by {key}_env) is not set",
            f"export {env_name}=... in the environment that runs msp dispatch",
        )
    entry = config.get(f"{key}_keyring")
    if entry:
        service, _, username = str(entry).partition("/")
        try:
            import keyring

            value = keyring.get_password(service, username or key)
        except Exception as exc:  # no keyring backend on this machine
            raise MissingCredential(
                f"{where}: keyring entry {entry} cannot be read: {type(exc).__name__}",
                f"store it with `keyring set {service} {username or key}` or use {key}_env instead",
            ) from None
        if value:
            return value
        raise MissingCredential(
            f"{where}: keyring entry {entry} (named by {key}_keyring) is empty",
            f"store it with `keyring set {service} {username or key}`",
        )
    value = config.get(key)
    if value:
        return str(value)
    raise MissingCredential(
        f"{where}: no {key} is configured",
        f"set {key}_env = \"VARIABLE\" (or {key}_keyring) in [integrations.{integration or 'NAME'}]",
    )
