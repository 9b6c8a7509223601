"""Planning cost of integrations (issue 3).

1. In process: one `update` through 5 enabled integrations vs through none, same store, same
   session size; prints the added milliseconds per update (target: at most 1 ms).
2. CLI: `msp update` with those 5 integrations enabled (installed as real entry points) vs a
   hello-world typer app, alternating 30 times; prints the median ratio (target: at most 1.3).

Run: .venv/bin/python benchmarks/plugins.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

PLUGIN = '''
from msp import HttpRequest, hookimpl
name = "{name}"
config_schema = {{"type": "object", "properties": {{"base_url": {{"type": "string"}}}}, "additionalProperties": False}}

@hookimpl
def msp_update(session, update, config):
    body = {{"session": session.id, "text": update.text, "progress": update.progress}}
    return HttpRequest(path="/updates", json=body)
'''
NAMES = [f"bench{i}" for i in range(5)]
HELLO = '''
import typer
app = typer.Typer()

@app.command()
def update(text: str, progress: str = typer.Argument(None)) -> None:
    print("ok")

if __name__ == "__main__":
    app()
'''


def _install_plugins(site: Path) -> None:
    for name in NAMES:
        (site / f"msp_{name}.py").write_text(textwrap.dedent(PLUGIN.format(name=name)))
        info = site / f"msp_{name}-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: msp-{name}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[msp.integrations]\n{name} = msp_{name}\n")


def in_process(site: Path, rounds: int = 400, warm_session: int = 20) -> float:
    sys.path.insert(0, str(site))
    from msp._plugins.host import build_host
    from msp._session.manager import SessionManager
    from msp._store.sqlite import SqliteStore

    sections = {n: {"base_url": "http://127.0.0.1:9"} for n in NAMES}
    host = build_host(sections)
    assert len(host.integrations) == 5, host.broken
    results: dict[str, list[float]] = {"none": [], "five": []}
    with tempfile.TemporaryDirectory() as tmp:
        managers: dict[str, Any] = {}
        for label, plugins in (("none", None), ("five", host)):
            store = SqliteStore(Path(tmp) / f"{label}.db", synchronous="normal")
            managers[label] = SessionManager(store, plugins, default_project="bench")
            managers[label].start({"goal": "bench"})
            for i in range(warm_session):
                managers[label].update({"text": f"warm {i}", "progress": i % 100})
        for i in range(rounds):
            for label in ("none", "five") if i % 2 else ("five", "none"):
                t = time.perf_counter()
                managers[label].update({"text": f"update {i}", "progress": i % 100})
                results[label].append(time.perf_counter() - t)
                # Keep the session the same size on both sides.
        none_ms = statistics.median(results["none"]) * 1000
        five_ms = statistics.median(results["five"]) * 1000
    print(f"in process: update with no integrations {none_ms:.3f} ms, with 5 {five_ms:.3f} ms (median of {rounds})")
    print(f"planning through 5 integrations adds {five_ms - none_ms:.3f} ms per update (target <= 1 ms)")
    return five_ms - none_ms


def cli(site: Path, runs: int = 30) -> float:
    msp = str(Path(sys.executable).with_name("msp"))
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        project.mkdir()
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        env = {**os.environ, "PYTHONPATH": str(site), "MSP_USER_CONFIG": str(Path(tmp) / "none.toml")}
        # Some environments set this; then every run would recompile msp and the plugins from
        # source while typer's modules come precompiled, which is not what users see.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([msp, "init"], cwd=project, env=env, check=True, capture_output=True)
        sections = "".join(f'[integrations.{n}]\nbase_url = "http://127.0.0.1:9"\n' for n in NAMES)
        (project / ".msp" / "config.toml").write_text('[dispatch]\nmode = "manual"\n' + sections)
        subprocess.run([msp, "start"], cwd=project, env=env, check=True, capture_output=True)

        def timed(cmd: list[str]) -> float:
            t = time.perf_counter()
            done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - t
            if done.returncode:
                raise SystemExit(f"{cmd} failed: {done.stderr}")
            return elapsed

        timed([msp, "update", "warm-up", "1"])
        ours, floor = [], []
        for i in range(runs):
            ours.append(timed([msp, "update", f"benchmark update {i}", "10"]))
            floor.append(timed([sys.executable, str(hello), f"benchmark update {i}", "10"]))
        queued = subprocess.run([msp, "status", "--json"], cwd=project, env=env, capture_output=True, text=True)
        assert '"pending"' in queued.stdout, "the 5 integrations planned nothing: the benchmark is not measuring them"
    ratio = statistics.median(ours) / statistics.median(floor)
    print(f"cli: msp update with 5 integrations {statistics.median(ours) * 1000:.0f} ms, "
          f"typer hello world {statistics.median(floor) * 1000:.0f} ms (medians of {runs})")
    print(f"cli latency ratio with 5 integrations: {ratio:.2f} (target <= 1.3)")
    return ratio


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        _install_plugins(site)
        in_process(site)
        cli(site)


if __name__ == "__main__":
    main()
