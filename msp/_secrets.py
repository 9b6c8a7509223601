"""Secrets are named in config, never written there: resolved at send time, never stored.

A secret-valued setting ``token`` is configured as ``token_env = "LINEAR_API_KEY"`` (an
environment variable) or ``token_keyring = "service/username"`` (an OS keyring entry).

Headers that carry a credential (``Authorization``, ``Proxy-Authorization``, ``Cookie``,
``X-Api-Key``, or any name that looks like a secret's) are refused in a config's plain
``headers``: those are copied into every stored action. They go in ``secret_headers``, whose
values name where the secret is: ``{ "X-Api-Key" = "ENV_VAR" }``, ``{ "X-Api-Key" = { env =
"ENV_VAR" } }`` or ``{ "X-Api-Key" = { keyring = "service/user" } }``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

# Defined with the rest of the public tree; kept importable from here.
from msp.errors import MissingCredential

__all__ = [
    "MissingCredential", "credential_header_problems", "is_configured", "resolve_header", "resolve_secret",
    "secret_names",
]

#: Header names that carry credentials whatever they are called.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"})
#: Any other name that looks like a secret's (``X-Service-Token``, ``X-Client-Secret``), but not
#: the outbox's ``Idempotency-Key``, an identifier.
_SECRET_HEADER = re.compile(r"(token|key\b|apikey|passw(or)?d|secret|authori[sz]ation|credential|cookie)", re.I)


def is_credential_header(name: str) -> bool:
    lowered = name.strip().lower()
    if lowered == "idempotency-key":
        return False
    return lowered in CREDENTIAL_HEADERS or bool(_SECRET_HEADER.search(lowered))


def credential_header_problems(config: Mapping[str, Any], where: str) -> list[str]:
    """Config errors for plain ``headers`` that would carry a credential (names only, never the
    values)."""
    headers = config.get("headers")
    if not isinstance(headers, Mapping):
        return []
    bad = sorted(str(k) for k in headers if is_credential_header(str(k)))
    if not bad:
        return []
    first = bad[0]
    return [
        f"{where}.headers: {', '.join(bad)} carr{'ies' if len(bad) == 1 else 'y'} a credential, and plain headers "
        f"are stored with every action; name where the secret is in secret_headers instead: "
        f'secret_headers = {{ "{first}" = {{ env = "VARIABLE" }} }} or {{ "{first}" = {{ keyring = "service/user" }} }}'
    ]

def is_configured(config: Mapping[str, Any], key: str) -> bool:
    return any(k in config for k in (key, f"{key}_env", f"{key}_keyring"))


def secret_names(config: Mapping[str, Any], key: str) -> str:
    """How the setting is named, for messages (never the value)."""
    if f"{key}_env" in config:
        return f"environment variable {config[f'{key}_env']}"
    if f"{key}_keyring" in config:
        return f"keyring entry {config[f'{key}_keyring']}"
    return f"config key {key}"


def resolve_header(spec: Any, header: str, *, integration: str = "") -> str:
    """The value of one ``secret_headers`` entry, looked up now: ``"ENV_VAR"``, ``{env =
    "ENV_VAR"}`` or ``{keyring = "service/user"}``."""
    where = f"integrations.{integration or 'NAME'}"
    if isinstance(spec, str) and spec:
        spec = {"env": spec}
    if not (isinstance(spec, Mapping) and len(spec) == 1 and (spec.get("env") or spec.get("keyring"))):
        raise MissingCredential(
            f"{where}: secret_headers.{header} must name an environment variable (\"VAR\" or {{ env = \"VAR\" }}) "
            "or a keyring entry ({ keyring = \"service/user\" })",
            f"fix [{where}] in .msp/config.toml; the action waits until then",
        )
    if spec.get("env"):
        name = str(spec["env"])
        value = os.environ.get(name)
        if value:
            return value
        raise MissingCredential(
            f"{where}: environment variable {name} (for header {header}) is not set",
            f"export {name}=... in the environment that runs msp dispatch",
        )
    entry = str(spec["keyring"])
    service, _, username = entry.partition("/")
    try:
        import keyring

        value = keyring.get_password(service, username or header)
    except Exception as exc:  # no keyring backend on this machine
        raise MissingCredential(
            f"{where}: keyring entry {entry} (for header {header}) cannot be read: {type(exc).__name__}",
            f"store it with `keyring set {service} {username or header}` or name an environment variable instead",
        ) from None
    if value:
        return value
    raise MissingCredential(
        f"{where}: keyring entry {entry} (for header {header}) is empty",
        f"store it with `keyring set {service} {username or header}`",
    )


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
