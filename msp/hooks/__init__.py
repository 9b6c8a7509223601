"""The plugin contract: hook specifications, the ``hookimpl`` marker and the plugin host."""

import pluggy

PROJECT = "msp"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "hookimpl", "hookspec"]
