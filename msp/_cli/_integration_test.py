"""``msp integrations test NAME``: the scripted session through one integration, call by call.

The same session the author kit scripts (``msp.testing.SCRIPT``: start, updates, a decision, an
entity, a blocker raised and resolved, close) runs in a throw-away store under a fixed clock, then
an export. For each moment it prints the actions the integration planned; a PowerShell
integration's calls show their function and bound arguments. Where PowerShell is reachable
(the local ``pwsh`` on PATH, or the WinRM host configured; ``--no-run`` skips it), each call also runs through
the bridge and its normalised result is printed: the follow-ups it would queue and what it
recorded. Nothing is queued and nothing is delivered.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from msp._session.script import SCRIPT


def reachable(config: Mapping[str, Any]) -> str | None:
    """Why PowerShell is not reachable for this section, or None when it is."""
    import shutil

    if str(config.get("transport", "local")) == "winrm":
        return None if config.get("host") else "no WinRM host configured"
    pwsh = str(config.get("pwsh", "pwsh"))
    return None if shutil.which(pwsh) else f"PowerShell executable {pwsh!r} is not on PATH"


def scripted_session(name: str, section: Mapping[str, Any], project_root: Path,
                     run: bool = False) -> tuple[dict[str, Any], str]:
    """Run the script through ``name``; (JSON data, text) for the CLI."""
    from msp._plugins.host import build_host
    from msp._session.manager import SessionManager
    from msp._store import open_store
    from msp.errors import ConfigError

    host = build_host({name: dict(section)}, project_root=project_root)
    broken = [b.error for b in host.broken if b.name == name]
    if broken or name not in host.integrations:
        raise ConfigError(f"integrations.{name} does not load: {'; '.join(broken) or 'unknown reason'}",
                          f"run `msp integrations doctor {name}` for the details")
    plugin = host.integrations[name].plugin
    own = host.integrations[name].config  # the section without host keys, as executors see it
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    ticks = iter(start + timedelta(minutes=7 * i) for i in range(10_000))
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="msp-integration-test-") as tmp:
        store = open_store(Path(tmp) / "msp.db", synchronous="normal")
        try:
            manager = SessionManager(store, host, default_project="demo-project", source="cli",
                                     clock=lambda: next(ticks))
            session_id = ""
            for step, data in SCRIPT:
                recorded = getattr(manager, step)(data)
                session_id = recorded.event.session_id
                steps.append({"moment": step, "actions": list(recorded.planned.objects),
                              "warnings": list(recorded.warnings)})
            export_calls = plugin.export_calls([manager.get(session_id)]) if hasattr(plugin, "export_calls") else []
            steps.append({"moment": "export", "actions": list(export_calls), "warnings": []})
        finally:
            store.close()
    why_not = reachable(section) if hasattr(plugin, "export_calls") else "not a PowerShell integration"
    results: dict[int, list[dict[str, Any]]] = {}
    if run and why_not is None:
        results = _run_calls(name, own, project_root, steps)
    return _report(name, steps, results, run, why_not)


def _run_calls(name: str, section: Mapping[str, Any], project_root: Path,
               steps: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    import asyncio

    from msp._powershell._convert import follow_ups, normalise
    from msp._powershell._doctor import query_kind_for
    from msp._powershell._runtime import Bridge

    async def go() -> dict[int, list[dict[str, Any]]]:
        bridge = Bridge()
        out: dict[int, list[dict[str, Any]]] = {}
        try:
            for index, step in enumerate(steps):
                for action in step["actions"]:
                    if getattr(action, "kind", None) != "powershell":
                        continue
                    result = await bridge.call(name, section, project_root, action.function, dict(action.arguments))
                    entry: dict[str, Any] = {"function": action.function, "status": result.status,
                                             "message": result.message, "warnings": result.warnings,
                                             "logs": [f"{level}: {text}" for level, text in result.logs]}
                    if result.status == "ok":
                        entry["output"] = [_safe(normalise, item) for item in result.output]
                        converted = follow_ups(result.output, section, function=action.function,
                                               project_root=project_root,
                                               query_kind=query_kind_for(name, section, project_root,
                                                                         action.function))
                        entry["follow_ups"] = [a.model_dump(mode="json") for a in converted.actions]
                        entry["recorded"] = converted.results + converted.warnings + converted.problems
                    out.setdefault(index, []).append(entry)
        finally:
            await bridge.aclose()
        return out

    return asyncio.run(go())


def _safe(fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except Exception as exc:
        return f"<{exc}>"


def _shown(action: Any) -> dict[str, Any]:
    data: dict[str, Any] = action.model_dump(mode="json", exclude={"integration", "idempotency_key"})
    return data


def _report(name: str, steps: list[dict[str, Any]], results: Mapping[int, list[dict[str, Any]]], run: bool,
            why_not: str | None) -> tuple[dict[str, Any], str]:
    lines = [f"Scripted session through {name}:"]
    data_steps = []
    for index, step in enumerate(steps):
        actions = [_shown(a) for a in step["actions"]]
        data_steps.append({"moment": step["moment"], "actions": actions, "warnings": step["warnings"],
                           "results": results.get(index, [])})
        lines.append(f"{step['moment']}:" + ("" if actions else " (not served)"))
        for action in actions:
            if action.get("kind") == "powershell":
                args = json.dumps(action.get("arguments", {}), ensure_ascii=False, sort_keys=True)
                lines.append(f"  {action['function']} {args}")
            else:
                lines.append(f"  {action.get('kind')}: {json.dumps(action, ensure_ascii=False, sort_keys=True)}")
        for warning in step["warnings"]:
            lines.append(f"  warning: {warning}")
        for entry in results.get(index, []):
            lines.append(f"    -> {entry['function']}: {entry['status']}"
                         + (f" ({entry['message']})" if entry["message"] else ""))
            for key in ("logs", "warnings", "recorded"):
                for text in entry.get(key) or []:
                    lines.append(f"       {key[:-1] if key.endswith('s') else key}: {text}")
            for follow in entry.get("follow_ups") or []:
                lines.append(f"       follow-up {json.dumps(follow, ensure_ascii=False, sort_keys=True)}")
    if not run:
        lines.append("(calls shown, not run: --no-run)")
    elif why_not is not None:
        lines.append(f"(calls not run: {why_not})")
    return {"ok": True, "integration": name, "ran": bool(results), "not_run_because": why_not if run else None,
            "steps": data_steps}, "\n".join(lines)
