"""A demo session end to end on the embedded defaults: ``python3 dev.py demo``.

Creates a fresh project under ``demo-output/``, records a whole session through the real
``msp`` command line, and prints where everything it wrote can be found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
PROJECT = OUT / "payments-service"
MSP = str(Path(sys.executable).with_name("msp"))


def msp(*args: str) -> str:
    print(f"$ msp {' '.join(_quote(a) for a in args)}", flush=True)
    done = subprocess.run([MSP, *args], cwd=PROJECT, text=True, capture_output=True,
                          env={**os.environ, "MSP_DIR": str(PROJECT / ".msp")})
    if done.stdout:
        print(done.stdout.rstrip())
    if done.stderr:
        print(done.stderr.rstrip(), file=sys.stderr)
    if done.returncode:
        sys.exit(f"demo step failed with exit code {done.returncode}")
    return done.stdout


def _quote(arg: str) -> str:
    return repr(arg) if (" " in arg or not arg) else arg


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    PROJECT.mkdir(parents=True)
    msp("init")
    msp("start", "--goal", "Retry failed card payments", "--issue", "PAY-42", "--progress", "10")
    msp("update", "Mapped the current charge flow", "20", "--tag", "research")
    msp("decide", "Use an outbox table for retries", "--rationale", "A crash must not lose a charge",
        "--alternative", "Retry in memory", "--alternative", "A message broker", "--impact", "high")
    msp("entity", "PaymentRetryWorker", "--type", "service", "--path", "src/retry/worker.py",
        "--description", "Claims due retries and charges again")
    msp("block", "Sandbox card API rejects test cards", "--category", "external", "--severity", "medium")
    msp("update", "Worker retries with backoff; tests green", "60")
    msp("resolve", "Sandbox", "--solution", "Support enabled test cards on our account")
    msp("end", "--summary", "Retry worker in place behind a flag")
    msp("sessions")
    context = msp("context", "--format", "markdown")
    (OUT / "context.md").write_text(context, encoding="utf-8")
    print()
    print("Demo finished. Where to look:")
    print(f"  project state (SQLite event store): {PROJECT / '.msp' / 'msp.db'}")
    print(f"  the recall view for an AI assistant: {OUT / 'context.md'}")


if __name__ == "__main__":
    main()
