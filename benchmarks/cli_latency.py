"""How much msp's own work adds on top of the CLI framework's floor.

Runs ``msp update "…" 10`` 30 times, alternating with a hello-world typer app in the same
environment (same interpreter, same site-packages), and prints both medians and their ratio.
Target: ratio <= 1.2 (issue 11: `msp update` with no integrations at most 1.2x a bare typer app).

    .venv/bin/python benchmarks/cli_latency.py [--runs N]

The project is a fresh ``msp init`` with its default config (no integrations), in a temporary
directory; one session is started before the timed runs.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
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

        hello_s: list[float] = []
        msp_s: list[float] = []
        for i in range(args.runs):
            hello_s.append(_timed([python, str(hello), "world"], root, env))
            msp_s.append(_timed([msp, "update", f"benchmark update {i}…", "10"], root, env))

    hello_med = statistics.median(hello_s)
    msp_med = statistics.median(msp_s)
    ratio = msp_med / hello_med
    pairwise = statistics.median(m / h for m, h in zip(msp_s, hello_s, strict=True))
    print(f"runs:                    {args.runs} alternating pairs")
    print(f"typer hello world:       median {hello_med * 1000:7.1f} ms")
    print(f"msp update \"…\" 10:       median {msp_med * 1000:7.1f} ms")
    print(f"median ratio msp/hello:  {ratio:.2f} (median of per-pair ratios {pairwise:.2f}; target <= {TARGET})")
    print("PASS" if ratio <= TARGET else "OVER TARGET")


if __name__ == "__main__":
    main()
