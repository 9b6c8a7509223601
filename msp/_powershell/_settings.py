"""The ``[integrations.NAME]`` section of a PowerShell integration: schema and parsed form."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msp._powershell._scan import FUNCTION_NAME_PATTERN, HOOK_FUNCTIONS, PREFIX_PATTERN
from msp.errors import ConfigError

DEFAULT_PWSH_ARGS = ["-NoLogo", "-NoProfile", "-s"]

_SECRET_NAME = {"type": "string", "minLength": 1}
_FUNCTION_NAME = {"type": "string", "pattern": FUNCTION_NAME_PATTERN}


def _secret(key: str, description: str, plain: bool = True) -> dict[str, Any]:
    props: dict[str, Any] = {
        f"{key}_env": {**_SECRET_NAME, "description": f"{description}: environment variable holding it."},
        f"{key}_keyring": {**_SECRET_NAME, "description": f"{description}: keyring entry 'service/user'."},
    }
    if plain:
        props[key] = {"type": "string", "minLength": 1, "description": f"{description} (when not secret)."}
    return props


CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "PowerShell integration",
    "type": "object",
    "additionalProperties": False,
    "required": ["module"],
    "properties": {
        "module": {"type": "string", "minLength": 1,
                   "description": "Path to the integration's .ps1, relative to the project root."},
        "prefix": {"type": "string", "pattern": PREFIX_PATTERN,
                   "description": "The noun stem of conventionally named functions: YourTool for "
                                  "New-YourToolSession. Optional when [functions] maps the hooks."},
        "functions": {
            "type": "object", "additionalProperties": False,
            "description": "Hook -> the function (or list of functions, called in order) that serves it. "
                           "When given, only the hooks listed here are served.",
            "properties": {hook: {"anyOf": [_FUNCTION_NAME, {"type": "array", "minItems": 1, "items": _FUNCTION_NAME}]}
                           for hook in HOOK_FUNCTIONS},
        },
        "arguments": {
            "type": "object", "propertyNames": _FUNCTION_NAME,
            "additionalProperties": {"type": "object"},
            "description": "Function -> parameter values passed to it by name (beside what msp binds).",
        },
        "config_key": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
                       "description": "Another key under which Get-MSPConfig holds the config table "
                                      "(its integration name is always one)."},
        "returns": {
            "type": "object", "propertyNames": _FUNCTION_NAME,
            "additionalProperties": {"enum": ["cypher", "graphql", "text"]},
            "description": "Function -> the kind of query text it returns (a string output).",
        },
        "deliver_returned_queries": {
            "type": "boolean", "default": False,
            "description": "Deliver query text the script built itself (a returned query string, or a hashtable "
                           "with query) as an action. Off by default: such scripts splice values into the text.",
        },
        "uri": {"type": "string", "minLength": 1, "description": "cypher: the graph URI for returned Cypher."},
        "database": {"type": "string", "minLength": 1, "description": "cypher: Neo4j database."},
        "graph": {"type": "string", "minLength": 1, "description": "cypher: FalkorDB graph."},
        "transport": {"enum": ["local", "winrm"], "default": "local",
                      "description": "local: a PowerShell 7 child process (pwsh -s); winrm: a remote host."},
        "pwsh": {"type": "string", "minLength": 1, "default": "pwsh",
                 "description": "local transport: the PowerShell 7 executable."},
        "pwsh_args": {"type": "array", "items": {"type": "string"},
                      "description": "local transport: its arguments (default -NoLogo -NoProfile -s)."},
        "host": {"type": "string", "minLength": 1, "description": "winrm: the remote host name."},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535,
                 "description": "winrm: port (default 5986 with ssl, 5985 without)."},
        "ssl": {"type": "boolean", "default": True, "description": "winrm: HTTPS (default true)."},
        "cert_validation": {"type": "boolean", "default": True,
                            "description": "winrm: verify the server's TLS certificate (default true)."},
        "ca_trust_path": {"type": "string", "minLength": 1,
                          "description": "winrm: CA bundle to verify the server certificate against."},
        "auth": {"enum": ["negotiate", "ntlm", "kerberos", "credssp", "basic"], "default": "negotiate",
                 "description": "winrm: authentication."},
        "encryption": {"enum": ["auto", "always", "never"], "default": "auto",
                       "description": "winrm: message encryption; 'never' only for basic auth over HTTP in labs."},
        "wsman_path": {"type": "string", "minLength": 1, "default": "wsman"},
        "configuration_name": {"type": "string", "minLength": 1, "default": "Microsoft.PowerShell",
                               "description": "winrm: session configuration (JEA endpoint) to use."},
        "username": {"type": "string", "minLength": 1, "description": "winrm: user name."},
        **_secret("password", "winrm: the user's password", plain=False),
        "remote_module": {"type": "string", "minLength": 1,
                          "description": "winrm: import this path on the remote host instead of sending the "
                                         "local module's text."},
        "config": {"type": "object", "description": "Passed to Initialize-<P>Integration -Config as a hashtable. "
                   "Keys ending in _env/_keyring are resolved at dispatch and passed without the suffix."},
        "user": {"type": "string", "description": "The session's user field (default: the OS user)."},
        "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 60,
                      "description": "Longest a runspace start or one function call may take."},
        # follow-up targets
        **_secret("api_url", "Base URL for endpoint/payload follow-ups"),
        "headers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "Non-secret headers for API follow-ups."},
        **_secret("token", "API token for endpoint/payload follow-ups", plain=False),
        "auth_scheme": {"enum": ["none", "bearer", "basic", "header"], "default": "none",
                        "description": "How follow-up http requests carry token (see the http executor)."},
        "auth_header": {"type": "string", "minLength": 1,
                        "description": "Header carrying token when auth_scheme = header."},
        "secret_headers": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Follow-up headers whose values are read from environment variables."},
        **_secret("webhook_url", "Webhook URL for webhook/payload follow-ups (it is a secret: use _env)"),
        **_secret("signing_secret", "Secret to sign webhook follow-ups with", plain=False),
        **_secret("endpoint", "GraphQL endpoint for query/variables follow-ups"),
        "root": {"type": "string", "minLength": 1,
                 "description": "Folder for path/content follow-ups, relative to the project root."},
    },
}


@dataclass(frozen=True)
class PowerShellSettings:
    name: str
    module: str
    prefix: str | None
    transport: str = "local"
    pwsh: str = "pwsh"
    pwsh_args: list[str] = field(default_factory=lambda: list(DEFAULT_PWSH_ARGS))
    host: str | None = None
    port: int | None = None
    ssl: bool = True
    cert_validation: bool = True
    ca_trust_path: str | None = None
    auth: str = "negotiate"
    encryption: str = "auto"
    wsman_path: str = "wsman"
    configuration_name: str = "Microsoft.PowerShell"
    username: str | None = None
    remote_module: str | None = None
    init_config: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 60.0
    functions: dict[str, list[str]] | None = None  # hook -> functions, when mapped explicitly
    arguments: dict[str, dict[str, Any]] = field(default_factory=dict)
    config_key: str | None = None
    returns: dict[str, str] = field(default_factory=dict)
    deliver_returned_queries: bool = False

    def served(self, hook: str) -> list[str]:
        """The functions that serve ``hook``, in call order (the mapping, or the prefix's name)."""
        from msp._powershell._scan import function_name

        if self.functions is not None:
            return list(self.functions.get(hook, []))
        return [function_name(hook, self.prefix)] if self.prefix else []

    def returns_of(self, function: str) -> str | None:
        lowered = function.lower()
        return next((v for k, v in self.returns.items() if k.lower() == lowered), None)

    def arguments_of(self, function: str) -> dict[str, Any]:
        lowered = function.lower()
        return next((dict(v) for k, v in self.arguments.items() if k.lower() == lowered), {})

    def module_path(self, project_root: Path) -> Path:
        path = Path(os.path.expanduser(self.module))
        return path if path.is_absolute() else (project_root / path)


def parse_settings(name: str, config: Mapping[str, Any]) -> PowerShellSettings:
    """Read the section; checks what the bridge itself relies on (the schema checks the rest)."""
    import re

    module = config.get("module")
    prefix = config.get("prefix")
    if not isinstance(module, str) or not module:
        raise ConfigError(f"integrations.{name}: module is required (the path to the .ps1)",
                          f'add module = "scripts/{name}.ps1" to [integrations.{name}]')
    functions = _functions(name, config.get("functions"))
    if prefix is None and functions is None:
        raise ConfigError(f"integrations.{name}: no hook is served: set prefix (the functions' noun stem, "
                          "YourTool for New-YourToolSession) or map hooks to functions",
                          f'add prefix = "YourTool", or [integrations.{name}.functions] with '
                          'session_close = "Send-SlackSessionSummary"')
    if prefix is not None and (not isinstance(prefix, str) or not re.match(PREFIX_PATTERN, prefix)):
        raise ConfigError(f"integrations.{name}: prefix must be the functions' noun stem, letters and digits "
                          "(YourTool for New-YourToolSession)",
                          f'add prefix = "YourTool" to [integrations.{name}]')
    transport = str(config.get("transport", "local"))
    if transport not in ("local", "winrm"):
        raise ConfigError(f"integrations.{name}.transport: must be local or winrm, not {transport!r}")
    if transport == "winrm" and not config.get("host"):
        raise ConfigError(f"integrations.{name}: transport winrm needs host",
                          f'add host = "server.example.com" to [integrations.{name}]')
    init_config = config.get("config") or {}
    if not isinstance(init_config, Mapping):
        raise ConfigError(f"integrations.{name}.config: must be a table")
    return PowerShellSettings(
        name=name,
        module=module,
        prefix=prefix,
        transport=transport,
        pwsh=str(config.get("pwsh", "pwsh")),
        pwsh_args=list(config.get("pwsh_args", DEFAULT_PWSH_ARGS)),
        host=config.get("host"),
        port=config.get("port"),
        ssl=bool(config.get("ssl", True)),
        cert_validation=bool(config.get("cert_validation", True)),
        ca_trust_path=config.get("ca_trust_path"),
        auth=str(config.get("auth", "negotiate")),
        encryption=str(config.get("encryption", "auto")),
        wsman_path=str(config.get("wsman_path", "wsman")),
        configuration_name=str(config.get("configuration_name", "Microsoft.PowerShell")),
        username=config.get("username"),
        remote_module=config.get("remote_module"),
        init_config=dict(init_config),
        timeout_s=float(config.get("timeout_s", 60)),
        functions=functions,
        arguments={str(k): dict(v) for k, v in (config.get("arguments") or {}).items() if isinstance(v, Mapping)},
        config_key=config.get("config_key"),
        returns={str(k): str(v) for k, v in (config.get("returns") or {}).items()},
        deliver_returned_queries=bool(config.get("deliver_returned_queries", False)),
    )


def _functions(name: str, raw: Any) -> dict[str, list[str]] | None:
    import re

    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"integrations.{name}.functions: must be a table of hook = function name(s)")
    out: dict[str, list[str]] = {}
    for hook, value in raw.items():
        if hook not in HOOK_FUNCTIONS:
            raise ConfigError(f"integrations.{name}.functions.{hook}: not a hook; use one of "
                              + ", ".join(HOOK_FUNCTIONS))
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(
                isinstance(n, str) and re.match(FUNCTION_NAME_PATTERN, n) for n in names):
            raise ConfigError(f"integrations.{name}.functions.{hook}: must be a function name (Verb-Noun) "
                              "or a list of them")
        out[str(hook)] = list(names)
    return out


def resolve_init_config(settings: PowerShellSettings, integration: str) -> dict[str, Any]:
    """The -Config hashtable: ``apiKey_env = "VAR"`` becomes ``apiKey = <value of VAR>``, read now.

    Raises MissingCredential when a named secret is not available (the action then waits).
    """
    from msp._secrets import resolve_secret

    out: dict[str, Any] = {}
    for key, value in settings.init_config.items():
        for suffix in ("_env", "_keyring"):
            if key.endswith(suffix) and isinstance(value, str):
                base = key[: -len(suffix)]
                out[base] = resolve_secret({key: value}, base, integration=integration)
                break
        else:
            out[key] = value
    return out
