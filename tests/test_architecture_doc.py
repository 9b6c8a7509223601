"""docs/architecture.md names every module of the core, so the page cannot drift from the tree."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"


def _named(doc: str, module: Path) -> bool:
    rel = module.relative_to(REPO).as_posix()
    if rel in doc:
        return True
    # A row may name several modules of one folder: `msp/_dispatch/run.py`, `kick.py`, `lock.py`.
    folder, name = rel.rsplit("/", 1)
    return any(f"`{name}`" in line and f"`{folder}/" in line for line in doc.splitlines())


def test_every_core_module_has_its_line() -> None:
    doc = DOC.read_text(encoding="utf-8")
    modules = [p for p in sorted((REPO / "msp").rglob("*.py"))
               if p.name not in ("__init__.py", "__main__.py") and "/_powershell/" not in p.as_posix()
               and "/testing/" not in p.as_posix()]
    missing = [m.relative_to(REPO).as_posix() for m in modules if not _named(doc, m)]
    assert not missing, f"docs/architecture.md does not name: {missing}"
    # Packages described as a whole: the bridge and the author kit.
    assert "`msp/_powershell/`" in doc and "`msp/testing/`" in doc


def test_the_page_draws_the_path_as_mermaid() -> None:
    doc = DOC.read_text(encoding="utf-8")
    (diagram,) = re.findall(r"```mermaid\n(.*?)```", doc, re.S)
    for step in ("msp/_app", "msp/_session/manager.py", "msp/_plugins/host.py", "msp/_store",
                 "msp/_dispatch/drain.py", "msp/_dispatch/registry.py"):
        assert step in diagram, step
