"""How much msp's own work adds on top of the CLI framework's floor.

Runs ``msp update "…" 10`` 30 times, alternating with a hello-world typer app in the same
environment (same interpreter, same site-packages), and prints both medians and their ratio.
Target: ratio <= 1.2 (issue 11: `msp update` with no integrations at most 1.2x a bare typer app).

Then the same for ``msp start`` with its recall (issue 16: where the project's last session
stopped, its open blockers and latest decisions) on a project with a history: ``--history``
sessions (default 2,000), each with updates, a decision, an entity and a blocker, some left
open. Each timed start is followed by an untimed ``msp end``. Same target.

    .venv/bin/python benchmarks/cli_latency.py [--runs N] [--history SESSIONS]

Each project is a fresh ``msp init`` with its default config (no integrations), in a temporary
directory; one session is started before the timed updates.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGET = 1.2

HELLO = '''\
import typer

app = typer.Typer()


@app.command()
def main(name: str) -> None:
    print(f"hello {name}")


if __name__ == "__main__":
    app()
'''


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def _history(root: Path, sessions: int) -> int:
    """Record ``sessions`` past sessions in the project at ``root`` through the Python API (one
    process, fast), a day apart, ending a year ago-ish; returns how many events were stored."""
    from msp._session.manager import SessionManager
    from msp._store import open_store

    start = datetime.now(UTC) - timedelta(days=sessions + 1)
    tick = [start]

    def clock() -> datetime:
        tick[0] += timedelta(seconds=30)
        return tick[0]

    store = open_store(root / ".msp" / "msp.db", synchronous="normal")
    try:
        manager = SessionManager(store, None, default_project=root.name, clock=clock)
        for n in range(sessions):
            tick[0] = start + timedelta(days=n)
            manager.start({"goal": f"history {n}"})
            for u in range(5):
                manager.update({"text": f"session {n} step {u}", "progress": min(100, (n + u) % 101)})
            manager.decide({"text": f"decision {n}", "rationale": "because"})
            manager.entity({"name": f"Module{n % 50}", "type": "module"})
            manager.block({"text": f"blocker {n}"})
            if n % 10:  # most are resolved; the project keeps some open
                manager.resolve({"blocker": f"blocker {n}", "solution": "done"})
            manager.end({"summary": f"summary {n}"})
        with store.read() as tx:
            return tx.count_events()
    finally:
        store.close()


def _pairs(runs: int, hello: list[str], msp: list[str], root: Path, env: dict[str, str],
           after: list[str] | None = None) -> tuple[list[float], list[float]]:
    """``runs`` alternating timed runs of hello world and of ``msp`` (``after`` run untimed
    after each msp run)."""
    hello_s: list[float] = []
    msp_s: list[float] = []
    for _ in range(runs):
        hello_s.append(_timed(hello, root, env))
        msp_s.append(_timed(msp, root, env))
        if after is not None:
            _timed(after, root, env)
    return hello_s, msp_s


def _report(label: str, runs: int, hello_s: list[float], msp_s: list[float]) -> bool:
    hello_med = statistics.median(hello_s)
    msp_med = statistics.median(msp_s)
    ratio = msp_med / hello_med
    pairwise = statistics.median(m / h for m, h in zip(msp_s, hello_s, strict=True))
    print(f"runs:                    {runs} alternating pairs")
    print(f"typer hello world:       median {hello_med * 1000:7.1f} ms")
    print(f"{label:<24} median {msp_med * 1000:7.1f} ms")
    print(f"median ratio msp/hello:  {ratio:.2f} (median of per-pair ratios {pairwise:.2f}; target <= {TARGET})")
    print("PASS" if ratio <= TARGET else "OVER TARGET")
    return ratio <= TARGET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--history", type=int, default=2000, help="past sessions in the `msp start` project")
    args = parser.parse_args()

    python = sys.executable
    msp = str(Path(python).with_name("msp"))
    with tempfile.TemporaryDirectory(prefix="msp-bench-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
        env["MSP_USER_CONFIG"] = str(Path(tmp) / "user-config.toml")
        # Measure msp as installed: its modules compiled to .pyc once, as typer's already are in
        # site-packages. (Some shells export PYTHONDONTWRITEBYTECODE, which would make every msp
        # run recompile its sources and bill that to msp.)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for setup in (["init"], ["start", "--goal", "benchmark"]):
            _timed([msp, *setup], root, env)
        # One untimed run of each, so both start from warm file caches.
        _timed([python, str(hello), "world"], root, env)
        _timed([msp, "update", "warming up", "10"], root, env)

        hello_cmd = [python, str(hello), "world"]
        update_pairs = _pairs(args.runs, hello_cmd, [msp, "update", "benchmark update…", "10"], root, env)

        # msp start with recall, on a project with a history.
        history = Path(tmp) / "history"
        history.mkdir()
        _timed([msp, "init"], history, env)
        events = _history(history, args.history)
        _timed([msp, "start"], history, env)  # warm, like the runs above
        _timed([msp, "end"], history, env)
        start_pairs = _pairs(args.runs, hello_cmd, [msp, "start", "--goal", "benchmark"], history, env,
                             after=[msp, "end"])

    _report('msp update "…" 10:', args.runs, *update_pairs)
    print()
    print(f"history:                 {args.history:,} past sessions, {events:,} events")
    _report("msp start (recall):", args.runs, *start_pairs)


if __name__ == "__main__":
    main()
