"""CLI commands for the plugins part of msp, registered on the main app at import."""

from __future__ import annotations
