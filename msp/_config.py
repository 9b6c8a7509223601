"""Finding the project, and reading, validating and changing its TOML config.

Layers, later ones winning: built-in defaults, the user config (``MSP_USER_CONFIG`` or the
platform config dir), the project's ``.msp/config.toml``, then ``MSP_<SECTION>_<KEY>``
environment variables for the core keys (for example ``MSP_DISPATCH_MODE=manual``).
Each file is validated on its own, so an error names the file and the key.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from msp.errors import ConfigError, ProjectNotFound

MSP_DIR_NAME = ".msp"
ENV_DIR = "MSP_DIR"


# allow_inf_nan=False: TOML can spell inf and nan, and neither is a timeout or a count. Every
# number also has an upper bound (le=...): past it, the timers and SQLite integers it feeds overflow.
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, allow_inf_nan=False)


class ProjectConfig(_Section):
    name: str | None = Field(None, description="Project name; default: the directory's name.")


class SessionConfig(_Section):
    timeout_hours: float = Field(
        12.0, gt=0, le=87_600, description="Active sessions older than this are offered to `msp recover`."
    )


class StoreConfig(_Section):
    synchronous: Literal["normal", "full"] = Field(
        "full", description="Durability: full survives power loss, normal survives a process crash."
    )
    # The team store (docs/team.md). Its URL may carry a password, so it is only ever named
    # here, like every secret: never written to config, the cache, logs or messages.
    url_env: str | None = Field(
        None, description="Environment variable holding the PostgreSQL URL of a team store (default: SQLite)."
    )
    url_keyring: str | None = Field(
        None, description="Keyring entry (service/username) holding the PostgreSQL URL of a team store."
    )


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "warning"


class PluginsConfig(_Section):
    hook_timeout_ms: int = Field(1000, gt=0, le=600_000, description="Budget for one hook call.")


class DispatchConfig(_Section):
    """How the outbox is delivered (see docs/dispatch.md)."""

    mode: Literal["background", "inline", "manual"] = Field(
        "background",
        description="background: a detached drain after each recording command; inline: drain before "
        "returning (up to inline_timeout_s); manual: only on `msp dispatch`.",
    )
    inline_timeout_s: float = Field(
        5.0, gt=0, le=3600, description="Inline mode: the longest a command waits for delivery."
    )
    max_attempts: int = Field(
        8, ge=1, le=1000, description="Attempts before an action is dead (per integration: max_attempts)."
    )
    max_age_hours: float = Field(72.0, gt=0, le=87_600, description="An action still failing after this long is dead.")
    backoff_base_s: float = Field(
        1.0, gt=0, le=86_400, description="First retry delay bound; doubles per attempt (full jitter)."
    )
    backoff_cap_s: float = Field(300.0, gt=0, le=604_800, description="The longest backoff delay.")
    lease_s: float = Field(
        60.0, gt=0, le=86_400, description="How long a claimed action stays leased without a heartbeat."
    )
    concurrency: int = Field(8, ge=1, le=1000, description="Default in-flight actions per integration.")
    timeout_s: float = Field(10.0, gt=0, le=3600, description="Per-request timeout for http and graphql.")
    linger_s: float = Field(
        60.0, ge=0, le=86_400,
        description="A background drain sleeps up to this long for the next retry to come due, then exits.",
    )
    batch_size: int = Field(
        20, ge=1, le=1000,
        description="Most consecutive actions of one (integration, session) handed to a worker at once.",
    )


def _phrases(value: list[str]) -> list[str]:
    for phrase in value:
        if not phrase.strip():
            raise ValueError("a phrase must not be empty or only whitespace")
        if "\n" in phrase or "\x00" in phrase:
            raise ValueError(f"a phrase is one line of text (got {phrase!r})")
    return value


Phrases = Annotated[list[Annotated[str, Field(max_length=60)]], Field(max_length=100), AfterValidator(_phrases)]


class DetectConfig(_Section):
    """What `msp update` notices in its text and records as its own items (msp/_model/detect.py)."""

    enabled: bool = Field(True, description="Look for decisions, blockers and entities in update text.")
    decisions: Phrases = Field(
        default_factory=lambda: list(_default_phrases("decisions")),
        description="Phrases that mark a decision, matched as whole words (an empty list: none).",
    )
    blockers: Phrases = Field(
        default_factory=lambda: list(_default_phrases("blockers")),
        description="Phrases that mark a blocker, matched as whole words (an empty list: none).",
    )
    entities: bool = Field(True, description="Record file paths and `code` spans naming modules, classes, services.")


def _default_phrases(kind: str) -> tuple[str, ...]:
    from msp._model import detect

    return detect.DEFAULT_DECISIONS if kind == "decisions" else detect.DEFAULT_BLOCKERS


class MspConfig(_Section):
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    integrations: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Project:
    """Where a project's state lives."""

    root: Path
    msp_dir: Path
    config: MspConfig

    @property
    def db_path(self) -> Path:
        return self.msp_dir / "msp.db"

    @property
    def config_path(self) -> Path:
        return self.msp_dir / "config.toml"

    @property
    def logs_dir(self) -> Path:
        return self.msp_dir / "logs"

    @property
    def cache_dir(self) -> Path:
        return self.msp_dir / "cache"

    @property
    def name(self) -> str:
        return self.config.project.name or self.root.name or "default"


def find_msp_dir(start: Path | None = None) -> Path | None:
    """``$MSP_DIR`` if set, else the nearest ``.msp/`` walking up from ``start``."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / MSP_DIR_NAME
        if candidate.is_dir():
            return candidate
    return None


def user_config_path() -> Path:
    env = os.environ.get("MSP_USER_CONFIG")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg) / "msp" / "config.toml"
    if sys.platform.startswith("linux"):
        # The XDG Base Directory default, which is platformdirs' answer on Linux too; asked on
        # every command, so without importing it (about 2 ms of `msp update`).
        return Path.home() / ".config" / "msp" / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir("msp")) / "config.toml"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
            "TOML files are UTF-8: save it again as UTF-8 (without changing anything else)",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", "check the file's permissions") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}",
            "fix that line (TOML strings need quotes; tables look like [section])",
        ) from exc


def describe_validation(exc: ValidationError, prefix: str = "") -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        where = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "value"
        if err["type"] == "extra_forbidden":
            out.append(f"{where}: unknown key")
        else:
            out.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    return out


def _check_layer(data: dict[str, Any], origin: str) -> None:
    try:
        MspConfig.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation(exc)
        raise ConfigError(
            f"{origin}: " + "; ".join(problems),
            "see `msp config show` for the valid keys, or fix it with `msp config set KEY VALUE`",
        ) from exc


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_layer() -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for section_name, field in MspConfig.model_fields.items():
        model = field.annotation
        if not isinstance(model, type) or not issubclass(model, BaseModel):
            continue
        for key in model.model_fields:
            value = os.environ.get(f"MSP_{section_name}_{key}".upper())
            if value is not None:
                layer.setdefault(section_name, {})[key] = value
    return layer


def _stamp(path: Path) -> str | None:
    """The file's content hash: tiny files, and unlike a modification time it cannot miss an
    edit made within the file system's time resolution."""
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _cached(msp_dir: Path | None, key: str) -> MspConfig | None:
    """A config that passed validation with exactly these inputs, rebuilt without validating
    again: building pydantic's validators is a large share of a short command's start-up."""
    if msp_dir is None:
        return None
    try:
        import json

        stored = json.loads((msp_dir / "cache" / "config.json").read_text(encoding="utf-8"))
        if stored.get("key") != key:
            return None
        data = stored["config"]
        return MspConfig.model_construct(
            project=ProjectConfig.model_construct(**data["project"]),
            session=SessionConfig.model_construct(**data["session"]),
            store=StoreConfig.model_construct(**data["store"]),
            logging=LoggingConfig.model_construct(**data["logging"]),
            plugins=PluginsConfig.model_construct(**data["plugins"]),
            dispatch=DispatchConfig.model_construct(**data["dispatch"]),
            detect=DetectConfig.model_construct(**data["detect"]),
            integrations=data["integrations"],
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _remember(msp_dir: Path | None, key: str, config: MspConfig) -> None:
    if msp_dir is None:
        return
    import json

    folder = msp_dir / "cache"
    try:
        folder.mkdir(exist_ok=True)
        tmp = folder / f"config.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"key": key, "config": config.model_dump(mode="json")}), encoding="utf-8")
        os.replace(tmp, folder / "config.json")
    except OSError:
        pass  # only a cache


def load_config(msp_dir: Path | None) -> MspConfig:
    user_path = user_config_path()
    env = _env_layer()
    import json

    # Everything the result depends on: both files as they are on disk, the MSP_* variables.
    code = Path(__file__).stat()  # a new msp may read the same files differently
    key = json.dumps([_stamp(user_path), _stamp(msp_dir / "config.toml") if msp_dir else None, env,
                      code.st_mtime_ns, code.st_size], sort_keys=True)
    cached = _cached(msp_dir, key)
    if cached is not None:
        return cached
    config = _load_config(msp_dir, user_path, env)
    _remember(msp_dir, key, config)
    return config


def _load_config(msp_dir: Path | None, user_path: Path, env: dict[str, Any]) -> MspConfig:
    user = read_toml(user_path)
    _check_layer(user, str(user_path))
    merged = user
    if msp_dir is not None:
        project_path = msp_dir / "config.toml"
        project = read_toml(project_path)
        _check_layer(project, str(project_path))
        merged = _deep_merge(merged, project)
    if env:
        merged = _deep_merge(merged, env)
    try:
        return MspConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(
            "environment: " + "; ".join(describe_validation(exc)),
            "fix or unset the MSP_* environment variable named above",
        ) from exc


def open_project(start: Path | None = None, *, required: bool = True) -> Project | None:
    msp_dir = find_msp_dir(start)
    if msp_dir is None or not msp_dir.is_dir():
        if required:
            raise ProjectNotFound(
                "no .msp/ folder here or in any parent folder",
                "run `msp init` in your project's root folder (or set MSP_DIR)",
            )
        return None
    _not_msp_model_state(msp_dir)
    keep_private(msp_dir)
    config = load_config(msp_dir)
    root = msp_dir.parent
    return Project(root=root, msp_dir=msp_dir, config=config)


def _not_msp_model_state(msp_dir: Path) -> None:
    """``$MSP_DIR`` pointed at msp-model's state folder (MSP Lite's ``.msp-lite``) would become
    an msp store (chmod, a database, a config written into it): refuse, and say how to import it."""
    if (msp_dir / "msp.db").exists():
        return
    if (msp_dir / "current-session.json").is_file() or (msp_dir / "session-history.json").is_file():
        raise ProjectNotFound(
            f"{msp_dir} holds msp-model's state (MSP Lite), not an msp store",
            "point MSP_DIR at your project's .msp/ folder (or unset it), and bring that history in with "
            "`msp import msp-model PATH`",
        )


def keep_private(msp_dir: Path) -> None:
    """``.msp/`` holds the store, logs and caches: its owner's alone (mode 0700).

    The folder's mode is what guards everything in it (no one else can reach a file inside),
    so files keep the modes their libraries give them. A folder made before this rule, or by
    a lax umask, is tightened the next time msp opens it; one owned by someone else is left
    alone (chmod would fail, and it is not ours to change).
    """
    try:
        st = msp_dir.stat()
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            msp_dir.chmod(0o700)
    except (OSError, AttributeError):  # AttributeError: no geteuid on Windows, where ACLs apply
        pass


CONFIG_TEMPLATE = """\
# msp project configuration. Every key is optional; the defaults are shown commented out.
# `msp config show` prints the effective config; `msp config validate` checks it.

[project]
# name = "{name}"            # default: this folder's name

[session]
# timeout_hours = 12          # active sessions older than this show in `msp recover --list`

[store]
# synchronous = "full"        # "full" survives power loss; "normal" survives a process crash
# A team store on PostgreSQL (docs/team.md): url_env = "VARIABLE" naming where its URL is

[logging]
# level = "warning"           # JSON lines in .msp/logs/ at this level; secrets are redacted

[dispatch]
# mode = "background"         # "background", "inline" (wait up to inline_timeout_s) or "manual"
# max_attempts = 8
# backoff_base_s = 1.0
# backoff_cap_s = 300.0

[detect]
# enabled = true              # `msp update` records the decisions, blockers and entities it notices
# decisions, blockers: lists of phrases, matched as whole words outside code, quotes and URLs
# (defaults: "decided", "chose", "going with", "will use", ...; "blocked by", "waiting on",
# "stuck on", ...: see `msp config show`); an empty list turns that kind off.
# entities = true             # file paths and `code` spans naming modules, classes, services

# Integrations: one table each. Secrets are named, never written here:
# [integrations.webhook]
# url = "https://example.com/hooks/msp"
# signing_secret_env = "MSP_WEBHOOK_SECRET"
#
# [integrations.obsidian]
# vault = "~/Notes"
#
# [integrations.linear]
# token_env = "LINEAR_API_KEY"
# hold = true                 # park actions until `msp queue approve`
"""


#: Everything msp writes in ``.msp/`` is this machine's own (the store and its WAL files, logs,
#: caches, the drain lock, an embedded graph's files), except the config, which a team may share.
#: Ignoring all but two names keeps that true for files a later version adds.
GITIGNORE = """\
# Written by msp. The store (msp.db, msp.db-wal, msp.db-shm), logs/, cache/, dispatch.lock and
# anything else msp keeps here belong to this machine; only config.toml is meant to be shared.
*
!.gitignore
!config.toml
"""


def init_project(root: Path) -> tuple[Path, bool]:
    """Create ``.msp/`` in ``root`` (or at ``$MSP_DIR`` when set, the folder every other
    command would then use) with a commented config. Returns (dir, created)."""
    env = os.environ.get(ENV_DIR)
    msp_dir = Path(env).expanduser().resolve() if env else root / MSP_DIR_NAME
    root = msp_dir.parent
    _not_msp_model_state(msp_dir)
    created = not msp_dir.exists()
    msp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    keep_private(msp_dir)
    config_path = msp_dir / "config.toml"
    if not config_path.exists():
        config_path.write_text(CONFIG_TEMPLATE.format(name=root.name), encoding="utf-8")
    gitignore = msp_dir / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(GITIGNORE, encoding="utf-8")
    return msp_dir, created


def parse_value(raw: str) -> Any:
    """A command-line value as TOML would read it (``true``, ``12``, ``"x"``), else a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def set_value(project: Project, key: str, raw: str) -> Any:
    """Set ``section.key`` (or ``integrations.NAME.key``) in the project's config.toml,
    keeping its comments, after checking the result is valid."""
    return set_values(project, [(key, parse_value(raw))])[key]


def set_values(project: Project, assignments: list[tuple[str, Any]], *, secrets_checked: bool = False
               ) -> dict[str, Any]:
    """Set several keys in one write, checking only the result.

    One check of the whole result is what lets a section with several required keys (Jira
    needs three) be written at all: checked key by key, each would be refused until the
    others exist. A section with ``enabled = false`` is kept but not checked against its
    integration's schema, so it can be filled in over several commands and checked when it
    is enabled. Nothing is written unless the result is valid. ``secrets_checked``: the values
    passed :func:`secrets_in` already (``msp config pull``), which tells a secret from a key
    merely named like one (``issue_key``), so the stricter check by key name is skipped.
    """
    import tomlkit

    from msp._logging import SECRET_KEY

    for key, _ in assignments:
        parts = key.split(".")
        if len(parts) < 2 or not all(parts):
            raise ConfigError(f"{key!r} is not a config key", "keys look like section.key, e.g. dispatch.mode")
        if not secrets_checked and SECRET_KEY.search(parts[-1]) and not parts[-1].endswith(("_env", "_keyring")):
            # Refused before anything is written or echoed: secrets are named, never stored.
            raise ConfigError(
                f"{key!r} looks like a secret, and msp never writes secrets into config",
                f"name where it lives instead: `{shlex.join(['msp', 'config', 'set', key + '_env', 'VARIABLE'])}` "
                f"(an environment variable) or "
                f"`{shlex.join(['msp', 'config', 'set', key + '_keyring', 'service/user'])}` (an OS keyring entry)",
            )
    path = project.config_path
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    except Exception as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix the file first") from exc
    touched: list[str] = []
    for key, value in assignments:
        parts = key.split(".")
        table: Any = doc
        for part in parts[:-1]:
            if part not in table:
                table[part] = tomlkit.table()
            table = table[part]
            if not isinstance(table, dict):
                raise ConfigError(f"{key!r}: {part!r} is not a table", "choose a key inside a [section]")
        table[parts[-1]] = value
        if parts[0] == "integrations" and len(parts) > 2 and parts[1] not in touched:
            touched.append(parts[1])
    candidate = tomllib.loads(tomlkit.dumps(doc))
    what = ", ".join(k for k, _ in assignments)
    _check_layer(candidate, f"{path} (after setting {what})")
    if touched:
        sections = candidate.get("integrations", {})
        _check_integration_sections(sections)
        for name in touched:
            if sections[name].get("enabled", True) is not False:
                _check_integration(name, sections[name], project)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
    return dict(assignments)


def _check_integration(name: str, section: dict[str, Any], project: Project) -> None:
    """The changed section must load and pass its integration's schema, as at start-up."""
    from msp._plugins.host import build_host

    host = build_host({name: section}, only=[name], project_root=project.root)
    problems = [b.error for b in host.broken if b.name == name]
    if problems:
        raise ConfigError(
            f"{project.config_path} (after setting integrations.{name}): " + "; ".join(problems),
            "nothing was written; see `msp integrations list` for installed integrations and "
            "their README for the keys they take",
        )


def _check_integration_sections(sections: dict[str, Any]) -> None:
    for name, section in sections.items():
        if not isinstance(section, dict):
            raise ConfigError(f"integrations.{name} must be a table", f"write it as [integrations.{name}]")


# --- the team's integration sections (docs/team.md) -------------------------------------------

#: A key whose value would be the secret itself (``token``, ``api_key``, ``signing_secret``...),
#: as a whole word at the end of the key: ``issue_key`` and ``project_keys`` are not secrets.
_SECRET_NAME_PATTERN = (
    r"(?i)(^|[_.-])(token|passw(or)?d|pwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"secret[_-]?key|client[_-]?secret|authori[sz]ation|credentials?|cookie)$"
)
#: Values that are credentials whatever their key: tokens of common services, key material, JWTs.
_SECRET_SHAPE_PATTERN = (
    r"(xox[abposr]-|gh[pousr]_[A-Za-z0-9]{20}|github_pat_|glpat-|lin_api_|sk-[A-Za-z0-9]{20}|AKIA[0-9A-Z]{16}|"
    r"-----BEGIN [A-Z ]*PRIVATE KEY|eyJ[A-Za-z0-9_-]{8,}\.eyJ)"
)


def secrets_in(sections: dict[str, Any], prefix: str = "integrations") -> list[str]:
    """The keys of ``sections`` (dotted, from ``prefix``) whose values look like secrets rather
    than the names of secrets: a value under a secret's own name (``token = "..."``; keys ending
    ``_env`` or ``_keyring`` name where one lives and pass), a URL with a password, a bearer
    token or ``password=...`` in text, or a token of a well-known shape. Tables whose name starts
    with ``secret`` (``secret_headers``) map to the names of secrets by their schemas, so only
    the shape of their values is checked."""
    from msp._logging import redact

    found: list[str] = []

    def walk(value: Any, path: str, key: str, names_only: bool) -> None:
        if isinstance(value, dict):
            holds_names = names_only or key.lower().startswith("secret")
            for k, v in value.items():
                walk(v, f"{path}.{k}", str(k), holds_names)
            return
        if isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]", key, names_only)
            return
        named = key.endswith(("_env", "_keyring"))
        # re.search compiles the patterns on first use (and caches them): only a push pays for them.
        secret_key = not names_only and not named and re.search(_SECRET_NAME_PATTERN, key) is not None
        if (secret_key and value not in (None, "", False)) or (
                isinstance(value, str) and (redact(value) != value or re.search(_SECRET_SHAPE_PATTERN, value))):
            found.append(path)

    for name, section in sections.items():
        walk(section, f"{prefix}.{name}", str(name), False)
    return found


def folder_sections(project: Project) -> dict[str, dict[str, Any]]:
    """The integration sections of the project's own ``config.toml`` (not the user config's)."""
    sections = read_toml(project.config_path).get("integrations", {})
    if not isinstance(sections, dict):
        raise ConfigError(f"{project.config_path}: integrations must be a table", "write each as [integrations.NAME]")
    _check_integration_sections(sections)
    return sections


def with_team_sections(project: Project, team: dict[str, dict[str, Any]] | None) -> Project:
    """``project`` with the team's integration sections beneath its own config: for each
    integration, the team's keys, then this machine's (user config, ``config.toml``, ``MSP_*``)
    over them key by key. A local ``enabled = false`` turns a team integration off here."""
    if not team:
        return project
    import dataclasses

    own = project.config.integrations
    merged = {name: _deep_merge(team[name], own[name]) if name in team else own[name] for name in own}
    merged.update((name, section) for name, section in team.items() if name not in own)
    if merged == own:
        return project
    return dataclasses.replace(project, config=project.config.model_copy(update={"integrations": merged}))
