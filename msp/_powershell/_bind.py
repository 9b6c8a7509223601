"""Which functions serve which hooks, and how each one's ``param()`` block is bound.

A function's parameters are bound **by name and declared type**, from three sources, first match
wins:

1. the integration's ``[integrations.NAME.arguments."Function-Name"]`` table (explicit);
2. what the hook offers (:func:`offered`): ``-Session`` (hashtable), ``-SessionId``,
   ``-ProjectName``, ``-Update`` (the update as a hashtable, or its text when declared
   ``[string]``), ``-Progress``, ``-Decision`` (hashtable or text), ``-Rationale``, ``-Title``
   (the decision's first line), ``-Alternatives``, ``-Entity``, ``-Blocker``, ``-Message``;
3. the integration's ``config`` table, by key (``vaultPath`` binds ``-VaultPath``); keys naming a
   secret (``apiKey_env``) are bound at dispatch, never stored in the action.

A parameter nothing binds is left to its default. A *mandatory* one nothing can bind is a config
error (:func:`problems`), found when the integration loads, before anything is queued.

Everything here is pure: plan-time data only (plain JSON values).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from msp._powershell._scan import FunctionInfo, ModuleScan, Param
from msp._powershell._settings import PowerShellSettings

#: Names a hook offers, and the kinds of value each can take (table, text, number, list).
_SESSION = {"Session": ("table", "text"), "SessionId": ("text",), "ProjectName": ("text",)}
OFFERS: dict[str, dict[str, tuple[str, ...]]] = {
    "initialize": {"Config": ("table",)},
    "session_start": {**_SESSION, "Message": ("text",)},
    "update": {**_SESSION, "Update": ("table", "text"), "Progress": ("number", "text"), "Message": ("text",)},
    "decision": {**_SESSION, "Decision": ("table", "text"), "Rationale": ("text",), "Title": ("text",),
                 "Alternatives": ("list",), "Message": ("text",)},
    "entity": {**_SESSION, "Entity": ("table", "text"), "Message": ("text",)},
    "blocker": {**_SESSION, "Blocker": ("table", "text"), "Message": ("text",)},
    "session_close": {**_SESSION, "Progress": ("number", "text"), "Message": ("text",)},
    "export": dict(_SESSION),
}

#: The parameters the seed's conventional functions take, for a function with no param() block
#: in prefix mode (what msp always passed them).
CONVENTIONAL: dict[str, tuple[str, ...]] = {
    "initialize": ("Config",), "session_start": ("Session",), "update": ("Update", "SessionId"),
    "decision": ("Decision", "SessionId"), "entity": ("Entity", "SessionId"), "blocker": ("Blocker", "SessionId"),
    "session_close": ("Session",), "export": ("Session",),
}

#: Marks an argument whose value is a secret named in ``config``: resolved by the bridge at
#: dispatch, so the action stores only the config key.
SECRET_REF = "$msp_config_secret"


@dataclass(frozen=True)
class Value:
    """One offered value in its forms; the declared type picks one."""

    table: Any = None
    text: str | None = None
    number: int | float | None = None
    items: list[Any] | None = None

    def pick(self, category: str) -> Any:
        if category == "text":
            return self.text if self.text is not None else (str(self.number) if self.number is not None else None)
        if category == "number":
            return self.number
        if category == "list":
            return self.items
        if category == "table":
            return self.table
        # untyped, [object], anything else: the richest form
        for value in (self.table, self.number, self.items, self.text):
            if value is not None:
                return value
        return None


def _fits(kinds: tuple[str, ...], category: str) -> bool:
    if category in ("any", "other"):
        return True
    if category == "bool":
        return False
    return category in kinds


def _lookup(table: Mapping[str, Any], name: str) -> tuple[str, Any] | None:
    lowered = name.lower()
    return next(((k, v) for k, v in table.items() if k.lower() == lowered), None)


def _config_source(settings: PowerShellSettings, name: str) -> tuple[str, Any] | None:
    """(config key, plain value or a secret reference) for parameter ``name``."""
    found = _lookup(settings.init_config, name)
    if found is not None:
        return found
    for suffix in ("_env", "_keyring"):
        found = _lookup(settings.init_config, name + suffix)
        if found is not None:
            return found[0], {SECRET_REF: found[0]}
    return None


@dataclass(frozen=True)
class Served:
    """One function serving one hook."""

    hook: str
    function: str  # as the module spells it
    info: FunctionInfo | None


def served(settings: PowerShellSettings, scan: ModuleScan) -> dict[str, list[Served]]:
    """hook -> the functions (present in the module) that serve it, in call order."""
    out: dict[str, list[Served]] = {}
    for hook in OFFERS:
        for name in settings.served(hook):
            info = scan.function(name)
            if info is not None:
                out.setdefault(hook, []).append(Served(hook, info.name, info))
    return out


def problems(settings: PowerShellSettings, scan: ModuleScan) -> list[str]:
    """Config errors: a mapped function the module lacks (or does not export), a mandatory
    parameter nothing can bind. Empty when the integration can be used."""
    where = f"integrations.{settings.name}"
    out = []
    for hook in OFFERS:
        for name in settings.served(hook):
            info = scan.function(name)
            if info is None:
                if settings.functions is not None:
                    out.append(f"{where}.functions.{hook}: {name} is not defined in {settings.module}")
                continue
            if not scan.exported(info.name):
                out.append(f"{where}: {info.name} ({hook}) is not exported by the module's Export-ModuleMember")
            for param in unbindable(settings, hook, info):
                out.append(f"{where}: {info.name} ({hook}) has mandatory parameter -{param.name}"
                           f"{f' [{param.type}]' if param.type else ''} that nothing binds")
    return out


def unbindable(settings: PowerShellSettings, hook: str, info: FunctionInfo) -> list[Param]:
    offers = OFFERS[hook]
    explicit = settings.arguments_of(info.name)
    out = []
    for param in info.params:
        if not param.mandatory or _lookup(explicit, param.name) is not None:
            continue
        offered_kinds = _lookup(offers, param.name)
        if offered_kinds is not None and _fits(offered_kinds[1], param.category):
            continue
        if _config_source(settings, param.name) is not None:
            continue
        out.append(param)
    return out


class Unbound(ValueError):
    """A mandatory parameter whose offered value is empty for this event (a decision without a
    rationale for a mandatory -Rationale...)."""


def bind(settings: PowerShellSettings, served_fn: Served, values: Mapping[str, Value]) -> dict[str, Any]:
    """The named arguments of one call. ``values`` is what the hook offers for this event."""
    info = served_fn.info
    if info is None or (not info.has_param_block and settings.functions is None):
        # A conventional function without a param() block: what the seed's format passes.
        names = CONVENTIONAL[served_fn.hook]
        return {n: values[n].pick("any") for n in names if n in values}
    explicit = settings.arguments_of(info.name)
    out: dict[str, Any] = {}
    for param in info.params:
        found = _lookup(explicit, param.name)
        if found is not None:
            out[param.name] = found[1]
            continue
        offered = _lookup(values, param.name)
        kinds = _lookup(OFFERS[served_fn.hook], param.name)
        if offered is not None and kinds is not None and _fits(kinds[1], param.category):
            value = offered[1].pick(param.category)
            if value is not None:
                out[param.name] = value
                continue
            if param.mandatory:
                raise Unbound(f"{info.name}: mandatory parameter -{param.name} has no value for this "
                              f"{served_fn.hook.replace('_', ' ')} (it is empty)")
        source = _config_source(settings, param.name)
        if source is not None:
            out[param.name] = source[1]
    return out


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    return text.strip().splitlines()[0].strip() or None


def offered(hook: str, session_tbl: Mapping[str, Any] | None, item_tbl: Mapping[str, Any] | None,
            config: Mapping[str, Any] | None = None) -> dict[str, Value]:
    """The values a hook offers for one event, by parameter name."""
    out: dict[str, Value] = {}
    if hook == "initialize":
        return {"Config": Value(table=dict(config or {}))}
    if session_tbl is not None:
        out["Session"] = Value(table=dict(session_tbl), text=session_tbl.get("id"))
        out["SessionId"] = Value(text=session_tbl.get("id"))
        out["ProjectName"] = Value(text=session_tbl.get("project"))
    item = dict(item_tbl or {})
    if hook == "session_start" and session_tbl is not None:
        out["Message"] = Value(text=session_tbl.get("goal"))
    elif hook == "session_close" and session_tbl is not None:
        out["Progress"] = Value(number=session_tbl.get("endProgress"))
        out["Message"] = Value(text=session_tbl.get("summary"))
    elif hook == "update":
        out["Update"] = Value(table=item, text=item.get("description"))
        out["Progress"] = Value(number=item.get("progress"))
        out["Message"] = Value(text=item.get("description"))
    elif hook == "decision":
        out["Decision"] = Value(table=item, text=item.get("content"))
        out["Rationale"] = Value(text=item.get("rationale"))
        out["Title"] = Value(text=_first_line(item.get("content")))
        out["Alternatives"] = Value(items=list(item.get("alternatives") or []))
        out["Message"] = Value(text=item.get("content"))
    elif hook == "entity":
        out["Entity"] = Value(table=item, text=item.get("name"))
        out["Message"] = Value(text=item.get("description"))
    elif hook == "blocker":
        out["Blocker"] = Value(table=item, text=item.get("description"))
        out["Message"] = Value(text=item.get("description"))
    return out


def sources(settings: PowerShellSettings, hook: str, info: FunctionInfo) -> list[str]:
    """Where each parameter of ``info`` gets its value from, for doctor and ``integrations test``:
    ``-Session <- hook``, ``-VaultPath <- default``, ``-IssueKey <- config issueKey``."""
    explicit = settings.arguments_of(info.name)
    out = []
    for param in info.params:
        kinds = _lookup(OFFERS[hook], param.name)
        config = _config_source(settings, param.name)
        if _lookup(explicit, param.name) is not None:
            where = "arguments"
        elif kinds is not None and _fits(kinds[1], param.category):
            where = "the hook"
        elif config is not None:
            where = f"config {config[0]}"
        elif param.mandatory:
            where = "NOTHING (mandatory)"
        else:
            where = "its default" if param.default is not None else "unset"
        out.append(f"-{param.name} <- {where}")
    return out
