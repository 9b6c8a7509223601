"""``msp graph start|stop|status|query``: the project's graph from the command line.

Added to ``msp`` through the ``msp_register_commands`` hook. Only typer is imported when the
group is registered; each command imports the graph code it runs. Every command takes
``--json`` and then prints exactly one JSON document, as msp's own commands do.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

ProjectOpt = typer.Option(None, "--project", help="A folder inside the project (default: here, or MSP_DIR).")
IntegrationOpt = typer.Option("neo4j", "--integration", "-i",
                              help="The config section to use ([integrations.NAME] with use = \"neo4j\").")
JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")


def _open(start: Path | None, integration: str) -> tuple[Path, dict[str, Any]]:
    """The project's root and the section's config, the integration's defaults under it."""
    import msp

    from . import _config

    project = msp.project(start)
    return project.root, _config(project.integration_config(integration))


def _run(as_json: bool, body: Callable[[], tuple[dict[str, Any], str]]) -> None:
    """Print what ``body`` returns; errors say what was wrong and exit non-zero."""
    from msp.errors import MspError

    try:
        data, text = body()
    except MspError as exc:
        _fail(as_json, exc.to_dict(), exc.exit_code)
    except Exception as exc:  # the server refused the query, or could not be reached
        _fail(as_json, {"code": "GRAPH", "message": f"{type(exc).__name__}: {' '.join(str(exc).split())}",
                        "hint": None}, 1)
    if as_json:
        sys.stdout.write(json.dumps({"ok": True, **data}, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(text + "\n")


def _fail(as_json: bool, error: dict[str, Any], code: int) -> NoReturn:
    if as_json:
        sys.stdout.write(json.dumps({"ok": False, "error": error}, ensure_ascii=False, indent=2) + "\n")
    print(f"error: {error['message']}", file=sys.stderr)
    if error.get("hint"):
        print(f"  hint: {error['hint']}", file=sys.stderr)
    raise typer.Exit(code)


def _describe(info: dict[str, Any]) -> str:
    if info["backend"] == "neo4j":
        return (f"Neo4j at {info['uri']} (database {info['database'] or 'default'}): a server you run; "
                "msp does not probe it here")
    kind = "embedded FalkorDB" if info["embedded"] else "FalkorDB"
    head = f"{kind}, graph {info['graph']!r}: "
    lines = []
    if info["running"]:
        pid = f" (pid {info['pid']})" if info.get("pid") else ""
        lines.append(f"{head}running on {info['host']}:{info['port']}{pid}")
        lines.append(f"  graphs: {', '.join(info['graphs']) or 'none yet'}")
    elif info["embedded"]:
        why = " (stopped: it was idle longer than idle_stop_minutes)" if info.get("stopped_idle") else ""
        lines.append(f"{head}not running{why} (`msp graph start` starts it; so does the next delivery)")
    else:
        lines.append(f"{head}not reachable at {info['host']}:{info['port']}: {info.get('error', '')}")
    if info.get("data_dir"):
        lines.append(f"  data: {info['data_dir']}")
    return "\n".join(lines)


def _parameters(items: list[str]) -> dict[str, Any]:
    from msp.errors import InvalidInput

    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param {item!r}: expected NAME=VALUE", "e.g. --param name=Outbox")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def register(cli: Any) -> None:
    """Add the ``graph`` group to the ``msp`` typer application ``cli``."""
    graph = typer.Typer(help="The project's knowledge graph (msp-neo4j): start, stop, status, query.",
                        no_args_is_help=True)

    @graph.command()
    def status(project: Optional[Path] = ProjectOpt, integration: str = IntegrationOpt,  # noqa: UP045
               as_json: bool = JsonOpt) -> None:
        """Whether the graph server is running, where, and which graphs it holds. Starts nothing
        (it stops the user's embedded server when it has been idle longer than idle_stop_minutes)."""

        def body() -> tuple[dict[str, Any], str]:
            from . import _tools

            root, config = _open(project, integration)
            info = _tools.status(root, config)
            return info, _describe(info)

        _run(as_json, body)

    @graph.command()
    def start(project: Optional[Path] = ProjectOpt, integration: str = IntegrationOpt,  # noqa: UP045
              as_json: bool = JsonOpt) -> None:
        """Start the user's embedded graph server (one for every project; it keeps running after
        msp exits, until `msp graph stop` or idle_stop_minutes without use)."""

        def body() -> tuple[dict[str, Any], str]:
            from . import _tools

            root, config = _open(project, integration)
            info = _tools.start(root, config)
            return info, (f"embedded FalkorDB running on {info['host']}:{info['port']} (pid {info['pid']})\n"
                          f"  data: {info['data_dir']}")

        _run(as_json, body)

    @graph.command()
    def stop(project: Optional[Path] = ProjectOpt, as_json: bool = JsonOpt) -> None:  # noqa: UP045
        """Stop the user's embedded graph server, which serves every project (the next delivery
        starts it again)."""

        def body() -> tuple[dict[str, Any], str]:
            from . import _tools

            stopped = _tools.stop()
            return {"stopped": stopped}, ("stopped" if stopped else "the embedded graph server was not running")

        _run(as_json, body)

    @graph.command()
    def query(
        statement: str = typer.Argument(..., help="A read-only Cypher query; refer to values as $name."),
        param: list[str] = typer.Option(
            [], "--param", "-p", metavar="NAME=VALUE",
            help="A query parameter (repeatable); VALUE is read as JSON when it parses, else as text."),
        project: Optional[Path] = ProjectOpt,  # noqa: UP045
        integration: str = IntegrationOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Run a read-only query against the project's graph (FalkorDB) and print the rows.

        Values travel as query parameters, never inside the query text. The embedded server is
        started if it is down.
        """

        def body() -> tuple[dict[str, Any], str]:
            from . import _tools

            params = _parameters(param)
            root, config = _open(project, integration)
            header, rows = _tools.query(root, config, statement, params)
            data = {"columns": header,
                    "rows": [dict(zip(header, [_tools.plain(v) for v in row], strict=False)) for row in rows]}
            return data, _tools.format_rows(header, rows)

        _run(as_json, body)

    cli.add_typer(graph, name="graph")
