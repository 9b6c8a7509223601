"""The application layer: what the front-ends (the CLI in ``msp._cli``, the MCP server in
``msp._mcp``) share, so neither imports the other.

- :mod:`msp._app.context`: :class:`~msp._app.context.Context` opens the project, its store,
  the session manager and the plugin host on first use; :data:`~msp._app.context.OPTIONS`
  holds process-wide switches (``--debug``).
- :mod:`msp._app.recording`: what follows a recorded moment (warnings, the log line, the
  dispatch kick) and the text that reports it.
- :mod:`msp._app.inputs`: parsing of user-typed values both front-ends accept (dates).
- :mod:`msp._app.queue`: the outbox's counts by status.
- :mod:`msp._app.screen`: the one escaping of text bound for a terminal, and JSON safe to print.
- :mod:`msp._app.health`: an empty answer from a damaged store is reported as damage.
- :mod:`msp._app.recall`: where the project stopped and stands, and what a session did
  (``msp start``, ``msp status``, ``msp end``, ``msp context``'s project).

Everything here imports lazily, like the CLI it serves: ``msp update`` pays only for what it uses.
The command that starts the MCP server is added to the CLI by ``msp._main``, the entry point
above both front-ends.
"""
