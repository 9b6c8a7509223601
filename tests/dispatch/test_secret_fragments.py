"""Secrets: a server echoing a credential, whole or in pieces, never gets it stored or shown;
credential headers never enter config's plain ``headers``; ``secret_headers`` read the
environment and the keyring alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from msp._logging import FRAGMENT, mask_secrets
from msp.testing import Reply, ScriptedServer

TOKEN = "tok-live-7Hq2Zp9Lw4Xc8Vb3Nm6K"
HEADER_SECRET = "hdr-keyring-Q5w8E2r7T4y9"


def leaks(text: str | bytes, secret: str = TOKEN) -> list[str]:
    """Every run of FRAGMENT characters of ``secret`` found in ``text``."""
    blob = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return [secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1) if secret[i : i + FRAGMENT] in blob]


def echo_bodies() -> list[str]:
    """What a careless server answers: the token whole, cut to its first 10 characters (as an
    excerpt would cut it), and a 9-character piece from its middle."""
    return [
        f'{{"error": "invalid token {TOKEN}"}}',
        f"bad credential {TOKEN[:10]}",
        f"rejected ...{TOKEN[7:16]}... try again",
    ]


@pytest.mark.parametrize("body", echo_bodies())
def test_known_secrets_and_their_fragments_are_masked(body: str) -> None:
    masked = mask_secrets(body, {TOKEN})
    assert leaks(masked) == [] and "***" in masked
    assert mask_secrets("nothing secret here, 12345678", {TOKEN}) == "nothing secret here, 12345678"


def test_a_secret_url_is_masked_whole_not_its_scheme_and_host() -> None:
    url = "https://hooks.example.com/services/T000/B000/abcdefgh"
    assert mask_secrets(f"posting to {url} failed", {url}) == "posting to *** failed"
    assert mask_secrets("see https://hooks.example.com/docs", {url}) == "see https://hooks.example.com/docs"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Reply(200, json={"ok": True})) as srv:
        yield srv


def configure(project_dir: Path, webhook: dict[str, Any]) -> None:
    doc = {
        "store": {"synchronous": "normal"},
        "logging": {"level": "debug"},
        "dispatch": {"mode": "manual", "backoff_base_s": 0.01, "backoff_cap_s": 0.05, "timeout_s": 2.0,
                     "linger_s": 1.0, "max_attempts": 3},
        "integrations": {"webhook": webhook},
    }
    (project_dir / ".msp" / "config.toml").write_text(tomlkit.dumps(doc))


def test_an_echoed_token_is_nowhere_in_store_wal_logs_or_output(msp_cli: Any, project_dir: Path,
                                                                server: ScriptedServer) -> None:
    configure(project_dir, {"url": server.url + "/hook", "auth_scheme": "bearer", "token_env": "ECHO_TOKEN"})
    env = {"ECHO_TOKEN": TOKEN}
    bodies = echo_bodies()
    # Each of three actions: two 500s echoing (retried), then a 400 echoing (dead).
    server.script(*[Reply(500, body=b) for b in bodies], *[Reply(400, body=b) for b in bodies])
    outputs = [msp_cli("start", "--json", env=env).out,
               msp_cli("update", "one", "--json", env=env).out,
               msp_cli("update", "two", "--json", env=env).out]
    for _ in range(4):
        outputs.append(msp_cli("dispatch", "--wait", "--json", env=env).out)
    assert server.requests and all(r.header("Authorization") == f"Bearer {TOKEN}" for r in server.requests)
    listing = msp_cli("queue", "--all", "--json", env=env)
    outputs += [listing.out, msp_cli("queue", "--all", env=env).out, listing.err]
    actions = json.loads(listing.out)["actions"]
    assert {a["status"] for a in actions} <= {"done", "dead", "pending"} and any(a["status"] == "dead" for a in actions)
    for action in actions:
        for args in (("queue", "show", str(action["id"]), "--json"), ("queue", "show", str(action["id"]))):
            shown = msp_cli(*args, env=env)
            outputs += [shown.out, shown.err]
    assert any("***" in out for out in outputs), "the echoed bodies were stored, masked"
    files = {p: p.read_bytes() for p in (project_dir / ".msp").rglob("*") if p.is_file()}
    assert any(p.name.endswith("-wal") for p in files) or any(p.suffix == ".db" for p in files)
    assert any(b"dispatch" in blob for blob in files.values()), "the logs were written"
    for out in outputs:
        assert leaks(out) == [], out
    for path, blob in files.items():
        assert leaks(blob) == [], path


# --- credential headers in config -----------------------------------------------------------


@pytest.mark.parametrize("header", ["Authorization", "proxy-authorization", "Cookie", "X-Api-Key",
                                    "X-Service-Token", "X-Client-Secret"])
def test_a_credential_in_plain_headers_is_a_config_error_naming_secret_headers(header: str) -> None:
    import msp_webhook

    from msp._plugins.host import build_host

    host = build_host({"webhook": {"url": "https://example.com/h", "headers": {header: f"Bearer {TOKEN}"}}},
                      extra={"webhook": msp_webhook})
    (broken,) = host.broken
    assert "secret_headers" in broken.error and header in broken.error
    assert leaks(broken.error) == [] and "webhook" not in host.integrations


def test_plain_headers_of_any_integration_are_checked_by_the_host() -> None:
    """An integration without a schema for ``headers`` is held to the same rule."""
    import types

    from msp._plugins.host import build_host

    plugin = types.SimpleNamespace(name="bare")
    host = build_host({"bare": {"headers": {"Authorization": TOKEN}}}, extra={"bare": plugin})
    (broken,) = host.broken
    assert "secret_headers" in broken.error and leaks(broken.error) == []
    fine = build_host({"bare": {"headers": {"X-Team": "platform", "Idempotency-Key": "k"}}}, extra={"bare": plugin})
    assert not fine.broken


# --- secret_headers from the environment and the keyring --------------------------------------


class _MemoryKeyring:
    """A keyring backend holding entries in memory (the tests' stand-in for the OS keyring)."""

    def __init__(self, entries: dict[tuple[str, str], str]) -> None:
        import keyring.backend

        class Backend(keyring.backend.KeyringBackend):
            priority = 1  # type: ignore[assignment]

            def get_password(self, service: str, username: str) -> str | None:
                return entries.get((service, username))

            def set_password(self, service: str, username: str, password: str) -> None:
                entries[(service, username)] = password

            def delete_password(self, service: str, username: str) -> None:
                entries.pop((service, username), None)

        self.backend = Backend()


@pytest.fixture
def memory_keyring() -> Iterator[dict[tuple[str, str], str]]:
    import keyring

    entries: dict[tuple[str, str], str] = {}
    before = keyring.get_keyring()
    keyring.set_keyring(_MemoryKeyring(entries).backend)
    try:
        yield entries
    finally:
        keyring.set_keyring(before)


def test_secret_headers_read_env_and_keyring_alike(outbox: Any, server: ScriptedServer,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   memory_keyring: dict[tuple[str, str], str]) -> None:
    from msp._dispatch.drain import IntegrationInfo

    monkeypatch.setenv("HDR_FROM_ENV", "env-value-0a9b8c7d")
    memory_keyring[("hooks", "api")] = HEADER_SECRET
    (a,) = outbox.add()
    config = {"base_url": server.url, "secret_headers": {
        "X-Api-Key": {"keyring": "hooks/api"}, "X-Env-Key": {"env": "HDR_FROM_ENV"}, "X-Old-Style": "HDR_FROM_ENV",
    }}
    outbox.drain({}, integrations={"hook": IntegrationInfo("hook", config, {})})
    assert outbox.row(a)["status"] == "done"
    req = server.requests[0]
    assert req.header("X-Api-Key") == HEADER_SECRET
    assert req.header("X-Env-Key") == req.header("X-Old-Style") == "env-value-0a9b8c7d"
    assert HEADER_SECRET.encode() not in outbox.path.read_bytes()


def test_a_missing_keyring_entry_waits_naming_it(outbox: Any, server: ScriptedServer,
                                                 memory_keyring: dict[tuple[str, str], str]) -> None:
    from msp._dispatch.drain import IntegrationInfo

    (a,) = outbox.add()
    config = {"base_url": server.url, "secret_headers": {"X-Api-Key": {"keyring": "hooks/absent"}}}
    outbox.drain({}, integrations={"hook": IntegrationInfo("hook", config, {})}, wait=False)
    row = outbox.row(a)
    assert row["status"] == "pending" and "keyring entry hooks/absent" in row["last_error"]
    assert not server.requests
