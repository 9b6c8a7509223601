"""``python -m msp_neo4j``: look into the project's graph (FalkorDB targets).

    python -m msp_neo4j status                 where the graph is and what it holds
    python -m msp_neo4j query "MATCH (n) RETURN count(n)" [--param name=value ...]
    python -m msp_neo4j stop                   stop the embedded graph server
    python -m msp_neo4j setup                  create indexes/constraints on the configured server

Run it from inside the project (or set MSP_DIR). Queries are read-only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _section(project: Any) -> dict[str, Any]:
    from msp._plugins.host import split_section

    own, _ = split_section(project.config.integrations.get("neo4j", {}))
    return own


def main(argv: list[str] | None = None) -> int:
    from msp.errors import MspError

    parser = argparse.ArgumentParser(prog="python -m msp_neo4j", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=None, help="a folder inside the project (default: here)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status")
    sub.add_parser("stop")
    sub.add_parser("setup")
    q = sub.add_parser("query")
    q.add_argument("statement")
    q.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter; VALUE is read as JSON when it parses, else as a string")
    q.add_argument("--json", action="store_true", help="print rows as JSON lines")
    args = parser.parse_args(argv)

    from msp._config import open_project

    from . import _config, _tools, run_setup

    try:
        project = open_project(args.project)
        assert project is not None
        config = _config(_section(project))
        if args.command == "status":
            print(json.dumps(_tools.counts(project.root, config), indent=2))
        elif args.command == "stop":
            from msp import _graph_server

            stopped = _graph_server.stop(_graph_server.graph_dir(project.root))
            print("stopped" if stopped else "the embedded graph server was not running")
        elif args.command == "setup":
            outcomes = run_setup(config, project.root)
            for outcome in outcomes:
                print(f"{outcome.status}: {outcome.summary}")
            return 0 if all(o.status == "done" for o in outcomes) else 1
        else:
            params: dict[str, Any] = {}
            for item in args.param:
                key, sep, raw = item.partition("=")
                if not sep or not key:
                    parser.error(f"--param {item!r}: expected NAME=VALUE")
                try:
                    params[key] = json.loads(raw)
                except ValueError:
                    params[key] = raw
            header, rows = _tools.query(project.root, config, args.statement, params)
            if args.json:
                for row in rows:
                    print(json.dumps(dict(zip(header, [_tools.plain(v) for v in row], strict=False)),
                                     ensure_ascii=False))
            else:
                print(_tools.format_rows(header, rows))
    except MspError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    except Exception as exc:  # a query error from the server, a connection problem
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
