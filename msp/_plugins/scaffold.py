"""``msp integrations new NAME``: a package skeleton an author can install and test at once."""

from __future__ import annotations

import re
from pathlib import Path

from msp.errors import InvalidInput

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

_PYPROJECT = '''\
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "msp-{dist}"
version = "0.1.0"
description = "msp integration: {name}"
requires-python = ">=3.11"
dependencies = ["msp-core"]

[project.entry-points."msp.integrations"]
{name} = "msp_{name}"

[tool.hatch.build.targets.wheel]
packages = ["msp_{name}"]
'''

_MODULE = '''\
"""msp integration `{name}`: posts each progress update to `base_url` + /updates.

Hooks are pure: they return actions (data); msp's dispatcher delivers them, with retries.
"""

from __future__ import annotations

from typing import Any

from msp import HttpRequest, hookimpl

name = "{name}"

#: JSON Schema of the [integrations.{name}] section. Secrets are named, never written:
#: token_env = "MY_TOOL_TOKEN" (an environment variable) or token_keyring = "service/user".
config_schema: dict[str, Any] = {{
    "type": "object",
    "properties": {{
        "base_url": {{"type": "string", "format": "uri"}},
        "auth_scheme": {{"enum": ["none", "bearer"]}},
        "token_env": {{"type": "string"}},
        "token_keyring": {{"type": "string"}},
    }},
    "required": ["base_url"],
    "additionalProperties": False,
}}


@hookimpl
def msp_update(session: Any, update: Any, config: dict[str, Any]) -> Any:
    body = {{"session": session.id, "project": session.project, "text": update.text, "progress": update.progress}}
    return HttpRequest(method="POST", path="/updates", json=body)


@hookimpl
def msp_session_close(session: Any, config: dict[str, Any]) -> Any:
    body = {{"session": session.id, "summary": session.summary, "progress": session.progress}}
    return HttpRequest(method="POST", path="/sessions", json=body)
'''

_TEST = '''\
"""Runs the scripted session of msp's test kit through the integration."""

from __future__ import annotations

from typing import Any

import msp_{name}
from msp.testing import assert_valid_actions

CONFIG = {{"base_url": "https://example.invalid/api"}}


def test_every_update_is_posted(msp_run_session: Any) -> None:
    run = msp_run_session(msp_{name}, CONFIG, name="{name}")
    assert not run.warnings and not run.broken
    updates = run.actions["msp_update"]
    assert [a.json_body["text"] for a in updates] == ["Mapped the charge flow", "Worker retries with backoff"]
    assert_valid_actions(run.all_actions)


def test_the_close_carries_the_summary(msp_run_session: Any) -> None:
    run = msp_run_session(msp_{name}, CONFIG, name="{name}")
    (close,) = run.actions["msp_session_close"]
    assert close.json_body["summary"] == "Retry worker behind a flag"


def test_a_bad_config_is_reported(msp_run_session: Any) -> None:
    run = msp_run_session(msp_{name}, {{"base_url": 3}}, name="{name}")
    assert run.broken and "base_url" in run.broken[0]
'''

_README = '''\
# msp-{dist}

An [msp](https://pypi.org/project/msp/) integration. Install it next to msp:

    pip install -e .

Enable it in `.msp/config.toml`:

    [integrations.{name}]
    base_url = "https://my-tool.example/api"
    auth_scheme = "bearer"
    token_env = "MY_TOOL_TOKEN"

Test it with msp's own fixtures (the `msp_run_session` fixture comes with msp):

    pytest tests
'''


def scaffold(name: str, directory: Path | None = None) -> Path:
    if not _NAME.match(name):
        raise InvalidInput(
            f"{name!r} is not a valid integration name",
            "use 2-40 lowercase letters, digits and underscores, starting with a letter",
        )
    target = (directory or Path.cwd() / f"msp-{name.replace('_', '-')}").resolve()
    if target.exists() and any(target.iterdir()):
        raise InvalidInput(f"{target} already exists and is not empty", "choose another --dir")
    package = target / f"msp_{name}"
    (target / "tests").mkdir(parents=True, exist_ok=True)
    package.mkdir(parents=True, exist_ok=True)
    values = {"name": name, "dist": name.replace("_", "-")}
    (target / "pyproject.toml").write_text(_PYPROJECT.format(**values), encoding="utf-8")
    (package / "__init__.py").write_text(_MODULE.format(**values), encoding="utf-8")
    (target / "tests" / f"test_{name}.py").write_text(_TEST.format(**values), encoding="utf-8")
    (target / "README.md").write_text(_README.format(**values), encoding="utf-8")
    return target
