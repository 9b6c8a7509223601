"""`msp dispatch`, `msp queue` and the dispatch modes, through the real `msp` binary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from msp._dispatch.lock import DrainLock
from msp.testing import Reply, ScriptedServer

SECRET_SIGN = "sign-cli-4d5e6f7a8b"
SECRET_HDR = "hdr-cli-9c8b7a6d5e"
SECRET_URL_PATH = "/T0KEN-in-the-url-3f2e1d"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Reply(200, json={"ok": True})) as srv:
        yield srv


def configure(project_dir: Path, webhook: dict[str, Any], **dispatch: Any) -> None:
    doc = {
        "store": {"synchronous": "normal"},
        "logging": {"level": "debug"},
        "dispatch": {"mode": "manual", "backoff_base_s": 0.01, "backoff_cap_s": 0.05, "timeout_s": 2.0,
                     "linger_s": 1.0, **dispatch},
        "integrations": {"webhook": webhook},
    }
    (project_dir / ".msp" / "config.toml").write_text(tomlkit.dumps(doc))


def ok(result: Any) -> Any:
    assert result.code == 0, (result.out, result.err)
    return result.json()


def test_hold_approve_dispatch_and_status(msp_cli: Any, project_dir: Path, server: ScriptedServer) -> None:
    configure(project_dir, {"url": server.url + "/hook", "hold": True})
    ok(msp_cli("start", "--goal", "ship it", "--json"))
    ok(msp_cli("update", "first step", "20", "--json"))
    listed = ok(msp_cli("queue", "--json"))
    assert [a["status"] for a in listed["actions"]] == ["held", "held"]
    assert ok(msp_cli("status", "--json"))["queue"] == {"held": 2}
    report = ok(msp_cli("dispatch", "--json"))
    assert report["done"] == 0 and not server.requests, "held actions are not delivered"
    first = listed["actions"][0]["id"]
    assert ok(msp_cli("queue", "approve", str(first), "--json"))["changed"] == [first]
    assert ok(msp_cli("dispatch", "--json"))["done"] == 1
    assert ok(msp_cli("queue", "approve", "--all", "--json"))["changed"] == [listed["actions"][1]["id"]]
    assert ok(msp_cli("dispatch", "--wait", "--json"))["done"] == 1
    assert [r.json()["type"] for r in server.requests] == ["session_started", "progress_updated"]
    everything = ok(msp_cli("queue", "list", "--all", "--json"))
    assert [a["status"] for a in everything["actions"]] == ["done", "done"]
    assert ok(msp_cli("status", "--json"))["queue"] == {"done": 2}
    text = msp_cli("dispatch")
    assert text.code == 0 and "Delivered 0" in text.out and "Queue empty" in text.out


def test_dead_retry_and_drop(msp_cli: Any, project_dir: Path, server: ScriptedServer) -> None:
    configure(project_dir, {"url": server.url + "/hook"})
    server.default = Reply(400, body="missing field: summary")
    ok(msp_cli("start", "--json"))
    ok(msp_cli("decide", "use sqlite", "--json"))
    report = ok(msp_cli("dispatch", "--wait", "--json"))
    assert report["dead"] == 2
    dead = ok(msp_cli("queue", "--dead", "--json"))["actions"]
    assert [a["status"] for a in dead] == ["dead", "dead"]
    assert dead[0]["last_status"] == 400 and "missing field: summary" in dead[0]["last_error"]
    shown = ok(msp_cli("queue", "show", str(dead[0]["id"]), "--json"))["action"]
    assert shown["payload"]["json"]["type"] == "session_started" and shown["attempts"] == 1

    server.default = Reply(200, json={})
    assert ok(msp_cli("queue", "retry", str(dead[0]["id"]), "--json"))["changed"] == [dead[0]["id"]]
    again = ok(msp_cli("queue", "show", str(dead[0]["id"]), "--json"))["action"]
    assert (again["status"], again["attempts"]) == ("pending", 0)
    assert ok(msp_cli("dispatch", "--wait", "--json"))["done"] == 1
    assert ok(msp_cli("queue", "drop", "--dead", "--json"))["changed"] == [dead[1]["id"]]
    assert ok(msp_cli("queue", "--json"))["actions"] == []
    statuses = {a["id"]: a["status"] for a in ok(msp_cli("queue", "--all", "--json"))["actions"]}
    assert statuses == {dead[0]["id"]: "done", dead[1]["id"]: "dropped"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("queue", "show", "999"), "no action with id '999'"),
        (("queue", "frobnicate"), "unknown queue operation 'frobnicate'"),
        (("queue", "retry"), "needs an action ID"),
        (("queue", "approve", "1"), "cannot approve it"),
        (("queue", "drop", "1"), "cannot drop it"),
        (("dispatch", "--integration", "nope"), "integration 'nope' is not configured"),
    ],
)
def test_bad_queue_input_says_what_to_do(msp_cli: Any, project_dir: Path, server: ScriptedServer,
                                         args: tuple[str, ...], says: str) -> None:
    configure(project_dir, {"url": server.url + "/hook"})
    ok(msp_cli("start", "--json"))
    ok(msp_cli("dispatch", "--json"))  # action 1 is done now
    before = ok(msp_cli("queue", "--all", "--json"))
    result = msp_cli(*args, "--json")
    assert result.code != 0
    error = result.json()["error"]
    assert says in error["message"] and error["hint"]
    assert ok(msp_cli("queue", "--all", "--json")) == before, "bad input changes nothing"


def test_secrets_never_in_the_store_logs_or_queue_output(msp_cli: Any, project_dir: Path,
                                                         server: ScriptedServer) -> None:
    configure(project_dir, {"url_env": "CLI_HOOK_URL", "signing_secret_env": "CLI_SIGN",
                            "secret_headers": {"X-Api-Key": "CLI_HDR"}})
    env = {"CLI_HOOK_URL": server.url + SECRET_URL_PATH, "CLI_SIGN": SECRET_SIGN, "CLI_HDR": SECRET_HDR}
    server.script(Reply(500, body=f"echo: {SECRET_HDR} {SECRET_URL_PATH}"))
    ok(msp_cli("start", "--json", env=env))
    ok(msp_cli("update", "with secrets around", "--json", env=env))
    report = ok(msp_cli("dispatch", "--wait", "--json", env=env))
    assert report["done"] == 2 and report["retried"] == 1
    assert server.requests[-1].header("X-Api-Key") == SECRET_HDR
    outputs = [msp_cli("queue", "--all", "--json", env=env).out, msp_cli("queue", "--all", env=env).out]
    for action in json.loads(outputs[0])["actions"]:
        outputs.append(msp_cli("queue", "show", str(action["id"]), "--json", env=env).out)
        outputs.append(msp_cli("queue", "show", str(action["id"]), env=env).out)
    files = [p.read_bytes() for p in (project_dir / ".msp").rglob("*") if p.is_file()]
    assert any(b"dispatch" in f for f in files), "the logs were written"
    for secret in (SECRET_SIGN, SECRET_HDR, SECRET_URL_PATH):
        assert all(secret not in out for out in outputs), secret
        assert all(secret.encode() not in blob for blob in files), secret


def test_inline_mode_delivers_before_the_command_returns(msp_cli: Any, project_dir: Path,
                                                         server: ScriptedServer) -> None:
    configure(project_dir, {"url": server.url + "/hook"}, mode="inline")
    ok(msp_cli("start", "--json"))
    assert len(server.requests) == 1
    ok(msp_cli("update", "inline", "--json"))
    assert [r.json()["type"] for r in server.requests] == ["session_started", "progress_updated"]
    assert ok(msp_cli("status", "--json"))["queue"] == {"done": 2}


def test_inline_mode_is_bounded_by_its_timeout(msp_cli: Any, project_dir: Path, server: ScriptedServer) -> None:
    configure(project_dir, {"url": server.url + "/hook"}, mode="inline", inline_timeout_s=0.5)
    server.default = Reply(200, delay_s=1.5)
    result = msp_cli("start", "--json")
    assert result.code == 0, "the event is recorded whatever delivery does"
    assert "not delivered within" in result.err
    assert ok(msp_cli("status", "--json"))["queue"] == {"pending": 1}


def test_background_mode_starts_a_detached_drain(msp_cli: Any, project_dir: Path, server: ScriptedServer) -> None:
    configure(project_dir, {"url": server.url + "/hook"}, mode="background")
    ok(msp_cli("start", "--json"))
    ok(msp_cli("update", "in the background", "--json"))
    assert server.wait_for(2, timeout_s=30), "the background drain delivered both"
    lock = DrainLock(project_dir / ".msp" / "dispatch.lock")
    give_up = time.monotonic() + 30
    while not lock.try_acquire():
        assert time.monotonic() < give_up, "the background drain never finished"
        time.sleep(0.05)
    lock.release()
    assert ok(msp_cli("status", "--json"))["queue"] == {"done": 2}
    assert sorted(r.json()["type"] for r in server.requests) == ["progress_updated", "session_started"]


def test_one_drain_at_a_time(msp_cli: Any, project_dir: Path, server: ScriptedServer) -> None:
    configure(project_dir, {"url": server.url + "/hook"})
    ok(msp_cli("start", "--json"))
    lock = DrainLock(project_dir / ".msp" / "dispatch.lock")
    assert lock.try_acquire()
    try:
        busy = msp_cli("dispatch", "--timeout", "0.5", "--json")
        assert busy.code != 0 and busy.json()["error"]["code"] == "DISPATCH_BUSY"
        background = msp_cli("dispatch", "--background", "--json")
        assert background.code == 0 and background.json()["stopped"] == "another drain is running"
        from msp._config import open_project
        from msp._dispatch.kick import start_background

        project = open_project(project_dir)
        assert project is not None
        assert start_background(project) is False, "no second drain is started"
    finally:
        lock.release()
    assert not server.requests
    assert ok(msp_cli("dispatch", "--json"))["done"] == 1


HOT_PATH = """
import sys
from typer.testing import CliRunner
from msp._cli.main import app
runner = CliRunner()
for args in (["start"], ["update", "hot path", "10"]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
print(sorted(m for m in ("httpx", "msp._dispatch", "msp._dispatch.drain", "msp._executors.http", "rich.progress")
             if m in sys.modules))
"""


@pytest.mark.parametrize(("with_webhook", "expected"), [(False, []), (True, ["msp._dispatch"])])
def test_recording_stays_light_on_the_hot_path(project_dir: Path, with_webhook: bool, expected: list[str]) -> None:
    if with_webhook:
        configure(project_dir, {"url": "http://127.0.0.1:9/never"})
    done = subprocess.run([sys.executable, "-c", HOT_PATH], cwd=project_dir, capture_output=True, text=True,
                          env={**os.environ, "MSP_DIR": str(project_dir / ".msp")}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(expected)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_progress_bar_on_a_terminal(project_dir: Path, server: ScriptedServer) -> None:
    import pty

    configure(project_dir, {"url": server.url + "/hook"})
    env = {**os.environ, "MSP_DIR": str(project_dir / ".msp"), "COLUMNS": "100"}
    msp_bin = str(Path(sys.executable).with_name("msp"))
    for args in (["start"], ["update", "one"], ["update", "two"]):
        subprocess.run([msp_bin, *args], env=env, check=True, capture_output=True, timeout=60)
    main, child = pty.openpty()
    proc = subprocess.Popen([msp_bin, "dispatch"], stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 0
    text = out.decode("utf-8", "replace")
    assert "dispatch" in text and "/3" in text, text[-400:]
    assert "Delivered 3" in text and len(server.requests) == 3
    # piped (not a terminal): no bar, just the summary
    piped = subprocess.run([msp_bin, "dispatch"], env=env, capture_output=True, text=True, timeout=60)
    assert piped.stdout.startswith("Delivered 0") and "\x1b[" not in piped.stdout
