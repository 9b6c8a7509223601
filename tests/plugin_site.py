"""Install plugin modules for a test the way pip does: a module plus a ``.dist-info`` folder
with ``entry_points.txt`` on a path entry, so discovery runs through importlib.metadata for real."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path


def install(site: Path, plugins: dict[str, str]) -> Path:
    """``plugins`` maps an integration name to its module source. Returns the site folder."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in plugins.items():
        module = f"msp_testplugin_{name}"
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site / f"msp_testplugin_{name}-0.1.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: msp-testplugin-{name}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[msp.integrations]\n{name} = {module}\n")
    return site


def activate(site: Path) -> None:
    if str(site) not in sys.path:
        sys.path.insert(0, str(site))
