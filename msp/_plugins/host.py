"""The plugin host: loads integrations one by one and calls each hook implementation alone.

Why not ``pm.hook.msp_update(...)``: pluggy stops a hook call at the first implementation that
raises, and results come back without the name of the plugin that produced them. Walking the
implementations one at a time lets every result and every error carry its integration's name,
and gives each integration its own config.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from msp._model.actions import (
    ACTION_TYPES,
    BUILTIN_ACTIONS,
    Action,
    UnknownActionKind,
    action_from_dict,
    idempotency_key,
    stamp,
)
from msp._store.interface import HookFailure, PlannedAction, PlanResult
from msp.errors import ConfigError, PluginError
from msp.hooks import PROJECT, specs

if TYPE_CHECKING:
    from msp._executors import ExecutorKind
    from msp._model.actions import KindTable
    from msp._model.findings import Finding
    from msp._plugins.readiness import Check

ENTRY_POINT_GROUP = "msp.integrations"
#: Keys of an ``[integrations.NAME]`` section that belong to the host, not the integration.
HOST_KEYS = frozenset(
    {"enabled", "hold", "use", "concurrency", "rate_per_second", "max_attempts", "hook_timeout_ms"}
)
DEFAULT_HOOK_TIMEOUT_MS = 1000


class HookTimeout(BaseException):
    """Raised inside a hook that overran its budget. A BaseException, so a hook's own
    ``except Exception`` cannot swallow it and keep running."""


@dataclass
class Integration:
    """An enabled, loaded integration."""

    name: str
    plugin: object
    config: dict[str, Any]
    settings: dict[str, Any]
    source: str = "entry point"

    @property
    def hold(self) -> bool:
        return bool(self.settings.get("hold", False))


@dataclass(frozen=True)
class BrokenIntegration:
    name: str
    error: str


def _declared(plugin: object) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The plugin's declared ``defaults`` and ``config_schema``, checked for their type."""
    found = []
    for attr, what in (("defaults", "a dict of default config values"), ("config_schema", "a dict (a JSON Schema)")):
        value = getattr(plugin, attr, None)
        if value is not None and not isinstance(value, Mapping):
            raise PluginError(f"{attr} is {type(value).__name__}, expected {what}")
        found.append(value)
    return found[0], found[1]


def split_section(section: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate the host's keys from the integration's own config."""
    own = {k: v for k, v in section.items() if k not in HOST_KEYS}
    host = {k: v for k, v in section.items() if k in HOST_KEYS}
    return own, host


def config_errors(schema: Mapping[str, Any], config: Mapping[str, Any], prefix: str) -> list[str]:
    """Every JSON Schema violation, each naming its key path and the reason."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = []
    for err in sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in [prefix, *err.absolute_path])
        if "propertyNames" in err.relative_schema_path and err.absolute_path and err.absolute_path[-1] == "headers":
            continue  # a credential header: credential_header_problems says so, naming secret_headers
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            errors.append(f"{path}: unknown key(s) {', '.join(extra)}")
        elif err.validator == "required":
            errors.append(f"{path}: {err.message}")
        elif _looks_secret(path) or _looks_secret(str(err.instance)):
            # jsonschema's message repeats the value; never print what may be a secret.
            errors.append(f"{path}: the value is not valid here ({err.validator} {err.validator_value!r})")
        else:
            errors.append(f"{path}: {err.message}")
    return errors


def _looks_secret(text: str) -> bool:
    from msp._logging import SECRET_KEY

    # A key named like a secret, or a URL carrying credentials (user:password@host).
    key = text.rsplit(".", 1)[-1]
    named = bool(SECRET_KEY.search(key)) and not key.endswith(("_env", "_keyring"))
    return named or ("://" in text and "@" in text)


def _allowlist() -> set[str] | None:
    raw = os.environ.get("MSP_LOAD_PLUGINS")
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


class _EntryPoint:
    """The part of an entry point the host uses, rebuilt from the cache without reading
    any distribution's metadata."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def load(self) -> Any:
        import importlib

        module, _, attr = self.value.partition(":")
        obj: Any = importlib.import_module(module.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)
        return obj


def _path_fingerprint() -> str:
    """Changes whenever a distribution is installed or removed on sys.path (the folders'
    modification times change), so a cached entry-point table is never stale."""
    import sys

    parts = []
    for entry in sys.path:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _entry_points(cache_dir: Path | None = None) -> dict[str, Any]:
    cache = cache_dir / "entry-points.json" if cache_dir else None
    fingerprint = _path_fingerprint() if cache else ""
    if cache is not None:
        try:
            stored = json.loads(cache.read_text())
            if stored.get("fingerprint") == fingerprint:
                return {n: _EntryPoint(n, v) for n, v in stored["entry_points"].items()}
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    from importlib.metadata import entry_points

    found = {ep.name: _EntryPoint(ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"fingerprint": fingerprint,
                                       "entry_points": {n: e.value for n, e in found.items()}}))
            os.replace(tmp, cache)
        except OSError:
            pass  # only a cache
    return found


class PluginHost:
    """Loaded integrations and the calls into them."""

    def __init__(self, hook_timeout_ms: int = DEFAULT_HOOK_TIMEOUT_MS) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(specs)
        self.integrations: dict[str, Integration] = {}
        self.broken: list[BrokenIntegration] = []
        self.hook_timeout_ms = hook_timeout_ms
        #: MSP_TRACE_HOOKS=1 prints every hook call, its integration and what it returned.
        self.trace = bool(os.environ.get("MSP_TRACE_HOOKS"))
        self._by_plugin: dict[int, str] = {}
        #: Contributions (``msp_register_executors``) that failed, by plugin; the plugin's
        #: recording hooks still run.
        self.executor_errors: list[BrokenIntegration] = []
        self._kinds: dict[str, ExecutorKind] | None = None
        # The core's executors are a plugin like any other (registered first, so a plugin
        # cannot take over a built-in kind). The module is light: factories import lazily.
        from msp._executors import builtin

        self.pm.register(builtin, name=builtin.NAME)

    # --- loading -------------------------------------------------------------------------

    def add(self, name: str, plugin: object, section: Mapping[str, Any], *, source: str = "entry point",
            validate: bool = True, project_root: Path | None = None) -> Integration | None:
        """Register one integration. Errors are recorded as broken, never raised."""
        own, host = split_section(section)
        try:
            factory = getattr(plugin, "create_integration", None)
            if factory is not None:
                if not callable(factory):
                    raise PluginError(f"create_integration is {type(factory).__name__}, expected a function "
                                      "(name, config, project_root) returning the plugin object")
                import inspect

                wants_root = "project_root" in inspect.signature(factory).parameters
                plugin = factory(name, own, project_root=project_root) if wants_root else factory(name, own)
            defaults, schema = _declared(plugin)
            # Documented defaults of the integration sit under what the user wrote.
            if defaults is not None:
                own = {**defaults, **own}
            if validate:
                from msp._secrets import credential_header_problems

                problems = config_errors(schema, own, f"integrations.{name}") if schema is not None else []
                # Any integration's plain headers: a credential there would be stored in every action.
                problems += credential_header_problems(own, f"integrations.{name}")
                if problems:
                    raise ConfigError("; ".join(problems))
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:  # a broken plugin must never stop the host
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self.broken.append(BrokenIntegration(name, _describe(exc)))
            return None
        integration = Integration(name, plugin, own, host, source)
        if not self._initialize(integration):
            self.pm.unregister(plugin)
            return None
        self.integrations[name] = integration
        self._by_plugin[id(plugin)] = name
        return integration

    def _initialize(self, integration: Integration) -> bool:
        impl = self._impl_for("msp_initialize", integration.name)
        if impl is None:
            return True
        try:
            result = self._call(impl, {"config": integration.config})
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self.broken.append(BrokenIntegration(integration.name, f"msp_initialize: {_describe(exc)}"))
            return False
        if result is False:
            self.broken.append(BrokenIntegration(integration.name, "msp_initialize returned False (disabled)"))
            return False
        return True

    def _impl_for(self, hook: str, name: str) -> pluggy.HookImpl | None:
        plugin = self.pm.get_plugin(name)
        impls: list[pluggy.HookImpl] = getattr(self.pm.hook, hook).get_hookimpls()
        return next((impl for impl in impls if impl.plugin is plugin), None)

    # --- calling -------------------------------------------------------------------------

    def has_impls(self, hook: str) -> bool:
        return bool(getattr(self.pm.hook, hook).get_hookimpls())

    def _call(self, impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> Any:
        args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
        missing = [n for n in impl.argnames if n not in kwargs]
        if missing:
            raise TypeError(f"asks for unknown argument(s) {', '.join(missing)}")
        timeout_ms = self.hook_timeout_ms
        name = self._by_plugin.get(id(impl.plugin))
        if name and name in self.integrations:
            timeout_ms = int(self.integrations[name].settings.get("hook_timeout_ms", timeout_ms))
        return _call_with_timeout(impl.function, args, timeout_ms / 1000)

    def plan(
        self,
        hook: str,
        event_id: str,
        session_id: str | None,
        kwargs: Mapping[str, Any],
        only: Iterable[str] | None = None,
    ) -> PlanResult:
        """Call every implementation of ``hook`` alone and collect attributed actions."""
        result = PlanResult()
        wanted = set(only) if only is not None else None
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            name = self._by_plugin.get(id(impl.plugin))
            if name is None or (wanted is not None and name not in wanted):
                continue
            integration = self.integrations[name]
            try:
                raw = self._call(impl, {**kwargs, "config": integration.config})
                actions = normalise(raw, self.action_kinds)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit and overruns too: contained, attributed
                result.failures.append(HookFailure(event_id, name, hook, _describe(exc)))
                if self.trace:
                    _trace(f"{hook} -> {name}: {_describe(exc)}")
                continue
            if self.trace:
                _trace(f"{hook}({', '.join(sorted(kwargs))}) -> {name}: "
                       f"{len(actions)} action(s) {[a.kind for a in actions]}")
            for position, action in enumerate(actions):
                key = idempotency_key(event_id, name, position)
                stamped = stamp(action, name, key)
                result.objects.append(stamped)
                result.actions.append(
                    PlannedAction(
                        idempotency_key=key,
                        event_id=event_id,
                        integration=name,
                        position=position,
                        kind=stamped.kind,
                        session_id=session_id,
                        payload=stamped.model_dump(mode="json", by_alias=True),
                        held=integration.hold,
                    )
                )
        return result

    def export(self, name: str, sessions: list[Any]) -> str | None:
        impl = self._impl_for("msp_export", name)
        if impl is None:
            return None
        try:
            out = self._call(impl, {"sessions": sessions, "config": self.integrations[name].config})
        except HookTimeout as exc:
            raise PluginError(f"integration {name!r}: msp_export {exc}",
                              f"raise [integrations.{name}] hook_timeout_ms for long exports") from None
        if out is not None and not isinstance(out, str):
            raise PluginError(f"integration {name!r}: msp_export returned {type(out).__name__}, expected str")
        return out

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.pm.get_plugin(name)
        return sorted(c.name for c in self.pm.get_hookcallers(plugin) or []) if plugin else []

    # --- contributions: executors, set-up, checks ------------------------------------------

    def executor_kinds(self) -> dict[str, ExecutorKind]:
        """Every action kind the loaded plugins (the core first) register, with its executor.

        Asked once per host, and only by what needs the table (a drain, ``msp schema
        actions``, a hook returning a kind that is not built in). A plugin whose contribution
        raises, is not an ``ExecutorKind``, or claims a kind another plugin registered with a
        different model is recorded in ``executor_errors``; the rest still count.
        """
        if self._kinds is not None:
            return self._kinds
        from msp._executors import ExecutorKind

        kinds: dict[str, ExecutorKind] = {}
        owners: dict[str, str] = {}
        for impl in self.pm.hook.msp_register_executors.get_hookimpls():  # registration order
            who = self.pm.get_name(impl.plugin) or repr(impl.plugin)
            try:
                raw = self._call(impl, {})
                items = [] if raw is None else list(raw) if isinstance(raw, list | tuple) else [raw]
                for item in items:
                    if not isinstance(item, ExecutorKind):
                        raise TypeError(f"returned {type(item).__name__}, expected msp.executors.ExecutorKind, "
                                        "a list of them, or None")
                    held = kinds.get(item.kind)
                    if held is not None and held.action is not item.action:
                        raise ValueError(f"action kind {item.kind!r} is already registered by {owners[item.kind]} "
                                         f"with model {held.action.__qualname__}")
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self.executor_errors.append(BrokenIntegration(who, f"msp_register_executors: {_describe(exc)}"))
                continue
            for item in items:
                kinds.setdefault(item.kind, item)
                owners.setdefault(item.kind, who)
        self._kinds = kinds
        return kinds

    def action_kinds(self) -> dict[str, type[Action]]:
        """Action models by kind: the built-ins and every model a loaded plugin registers.

        A built-in kind stays known without its executor (``cypher`` is served by msp-neo4j):
        such actions validate and queue, and wait until the plugin that delivers them is loaded.
        """
        return {**BUILTIN_ACTIONS, **{kind: entry.action for kind, entry in self.executor_kinds().items()}}

    def call_one(self, hook: str, name: str, **kwargs: Any) -> Any:
        """Call one integration's implementation of ``hook`` alone (``config`` is added);
        ``None`` when it has none. Whatever the implementation raises propagates."""
        impl = self._impl_for(hook, name)
        if impl is None:
            return None
        return self._call(impl, {**kwargs, "config": self.integrations[name].config})

    def setup_actions(self, name: str) -> list[Action]:
        """The actions of ``msp_setup`` for one integration; PluginError when the hook fails."""
        try:
            return normalise(self.call_one("msp_setup", name), self.action_kinds)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise PluginError(f"integration {name!r}: msp_setup failed: {_describe(exc)}",
                              "fix the integration or its config, then run the set-up again") from None

    def readiness(self, name: str, project_root: Path) -> list[Check]:
        """The integration's declared ``readiness`` (credentials named and set, folders there),
        checked locally: no keyring, no network, no import. Empty when it declares none."""
        integration = self.integrations[name]
        declared = getattr(integration.plugin, "readiness", None)
        if declared is None:
            return []
        from msp._plugins.readiness import BadDeclaration, Check, evaluate

        try:
            return evaluate(name, declared, integration.config, project_root)
        except BadDeclaration as exc:
            return [Check("problem", str(exc), "report it to the integration's authors")]

    def readiness_warnings(self, project_root: Path) -> list[str]:
        """One line per enabled integration that surely cannot deliver, naming it and the fix."""
        lines = []
        for name in self.integrations:
            problems = [c for c in self.readiness(name, project_root) if c.severity == "problem"]
            if not problems:
                continue
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            lines.append(f"integration {name!r} cannot deliver: {first.message}{more}; fix: {first.fix}; "
                         f"actions wait until then (`msp integrations doctor {name}`)")
        return lines

    def doctor(self, name: str, online: bool, project_root: Path) -> tuple[list[Finding], list[Action]]:
        """The integration's declared readiness and its ``msp_doctor``: findings, and the probe
        actions it asked for.

        A hook that fails, or returns something that is neither a finding nor an action, is
        itself a ``problem`` finding.
        """
        from msp._model.findings import Finding

        ready = [Finding(severity=c.severity, message=c.message, fix=c.fix) for c in self.readiness(name, project_root)]
        try:
            raw = self.call_one("msp_doctor", name, online=online, project_root=project_root)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            return [*ready, Finding(severity="problem", message=f"msp_doctor failed: {_describe(exc)}",
                                    fix="report it to the integration's authors")], []
        findings: list[Finding] = ready
        probes: list[Action] = []
        items = [] if raw is None else list(raw) if isinstance(raw, list | tuple) else [raw]
        for item in items:
            try:
                if isinstance(item, Finding):
                    findings.append(item)
                elif isinstance(item, dict) and "severity" in item:
                    findings.append(Finding.model_validate(item))
                else:
                    probes += normalise(item, self.action_kinds)
            except Exception as exc:
                findings.append(Finding(severity="problem",
                                        message=f"msp_doctor returned an item msp cannot use: {_describe(exc)}",
                                        fix="return msp.Finding items and probe actions"))
        return findings, probes


_BUILTIN_TYPES = frozenset(ACTION_TYPES)


def normalise(raw: Any, kinds: KindTable | Callable[[], KindTable] | None = None) -> list[Any]:
    """Accept an action, a list of them, or None; anything else is the integration's error.

    ``kinds`` is the table of action kinds the caller knows (or a function returning it, asked
    only when an item is not a built-in action: the recording hot path never builds it);
    default: the built-in kinds. An action of a kind not in it is an error naming the kind.
    """
    if raw is None:
        return []
    items = raw if isinstance(raw, list | tuple) else [raw]
    table: KindTable | None = None

    def known() -> KindTable:
        nonlocal table
        if table is None:
            table = BUILTIN_ACTIONS if kinds is None else kinds() if callable(kinds) else kinds
        return table

    out = []
    for i, item in enumerate(items):
        where = f"item {i} of the returned list" if items is raw else "the return value"
        if type(item) in _BUILTIN_TYPES:
            out.append(item)
        elif isinstance(item, Action):
            kind = getattr(item, "kind", None)
            model = known().get(kind) if isinstance(kind, str) else None
            if model is None:
                raise UnknownActionKind(kind)
            if not isinstance(item, model):
                raise TypeError(f"{where} is a {type(item).__name__} of kind {kind!r}, but that kind is "
                                f"registered with the model {model.__qualname__}")
            out.append(item)
        elif isinstance(item, dict) and "kind" in item:
            out.append(action_from_dict(item, known()))
        else:
            raise TypeError(
                f"{where} is {type(item).__name__}, expected an action "
                f"({', '.join(t.__name__ for t in ACTION_TYPES)}, or a registered msp.Action kind), "
                "a list of actions, or None"
            )
    return out


def _trace(line: str) -> None:
    import sys

    print(f"trace: {line}", file=sys.stderr)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call_with_timeout(fn: Callable[..., Any], args: Mapping[str, Any], timeout_s: float) -> Any:
    """Run a hook, interrupting it when it overruns its budget.

    In the main thread a SIGALRM timer raises inside the hook (it costs one syscall, so the
    common fast path stays fast); elsewhere the overrun is detected after the fact and the
    hook's result discarded.
    """
    use_alarm = (
        timeout_s > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    start = time.perf_counter()
    if not use_alarm:
        result = fn(**args)
        if timeout_s > 0 and time.perf_counter() - start > timeout_s:
            raise HookTimeout(f"took {time.perf_counter() - start:.3f}s, over its {timeout_s:.3f}s budget")
        return result

    def _alarm(signum: int, frame: Any) -> None:
        raise HookTimeout(f"did not return within its {timeout_s:.3f}s budget")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return fn(**args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def add_commands(cli: Any) -> list[BrokenIntegration]:
    """Let every installed integration add its subcommands to ``cli`` (``msp_register_commands``).

    Installed means an entry point in ``msp.integrations``, enabled in config or not (a command
    may be what sets the integration up); ``MSP_LOAD_PLUGINS`` narrows it. Each plugin is
    imported and called alone: one that fails to import, or raises, is returned with its name
    and the others still add theirs.
    """
    from importlib.metadata import entry_points

    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(specs)
    allow = _allowlist()
    failed: list[BrokenIntegration] = []
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name, ep in sorted(found.items()):
        if allow is not None and name not in allow:
            continue
        try:
            plugin = ep.load()
            if not pm.is_registered(plugin):
                pm.register(plugin, name=name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # an import that raises SystemExit must not stop msp either
            failed.append(BrokenIntegration(name, f"import failed: {_describe(exc)}"))
    for impl in pm.hook.msp_register_commands.get_hookimpls():
        try:
            impl.function(**{arg: cli for arg in impl.argnames if arg == "cli"})
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            who = pm.get_name(impl.plugin) or "?"
            failed.append(BrokenIntegration(who, f"msp_register_commands: {_describe(exc)}"))
    return failed


def build_host(
    integrations_config: Mapping[str, Mapping[str, Any]],
    *,
    hook_timeout_ms: int = DEFAULT_HOOK_TIMEOUT_MS,
    only: Iterable[str] | None = None,
    extra: Mapping[str, object] | None = None,
    cache_dir: Path | None = None,
    project_root: Path | None = None,
) -> PluginHost:
    """Build a host with every enabled integration from config.

    ``only`` restricts loading to those names (replay, doctor); ``extra`` maps names to plugin
    objects registered directly (tests, the pytest plugin). Only integrations enabled in config
    are imported; ``MSP_LOAD_PLUGINS`` (comma-separated names) narrows that further.
    """
    host = PluginHost(hook_timeout_ms)
    allow = _allowlist()
    wanted = set(only) if only is not None else None
    enabled = {
        name: section
        for name, section in integrations_config.items()
        if section.get("enabled", True)
        and (allow is None or name in allow)
        and (wanted is None or name in wanted)
    }
    if not enabled:
        return host
    eps: dict[str, Any] | None = None
    seen = _ValidationCache(cache_dir)
    for name, section in enabled.items():
        if extra and name in extra:
            host.add(name, extra[name], section, source="direct", project_root=project_root)
            continue
        use = str(section.get("use") or ("powershell" if "module" in section else name))
        if eps is None:
            eps = _entry_points(cache_dir)
        ep = eps.get(use)
        if ep is None:
            from msp._plugins.packages import install_hint

            host.broken.append(
                BrokenIntegration(
                    name,
                    f"no installed integration provides {use!r}: {install_hint(use)}; "
                    f"or fix the section name (entry point group {ENTRY_POINT_GROUP})",
                )
            )
            continue
        try:
            plugin = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # an import that raises SystemExit must not stop msp either
            host.broken.append(BrokenIntegration(name, f"import failed: {_describe(exc)}"))
            continue
        digest = seen.digest(name, section, getattr(plugin, "config_schema", None), ep.value)
        added = host.add(name, plugin, section, source=f"{ep.value}", validate=not seen.ok(digest),
                         project_root=project_root)
        if added is not None:
            seen.mark(digest)
    seen.save()
    return host


class _ValidationCache:
    """Remembers config sections that already passed their schema, so the CLI's hot path
    imports jsonschema only when a section or its plugin changed."""

    def __init__(self, cache_dir: Path | None) -> None:
        self._path = cache_dir / "validated-config.json" if cache_dir else None
        self._known: set[str] = set()
        self._dirty = False
        if self._path and self._path.exists():
            try:
                self._known = set(json.loads(self._path.read_text()))
            except (OSError, ValueError):
                self._known = set()

    @staticmethod
    def digest(name: str, section: Mapping[str, Any], schema: Any, origin: str) -> str:
        blob = json.dumps([name, section, schema, origin], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def ok(self, digest: str) -> bool:
        return digest in self._known

    def mark(self, digest: str) -> None:
        if digest not in self._known:
            self._known.add(digest)
            self._dirty = True

    def save(self) -> None:
        if not (self._path and self._dirty):
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(sorted(self._known)[-200:]))
            os.replace(tmp, self._path)
        except OSError:
            pass  # a cache; losing it only costs a validation next time
