"""Hook specifications: one hook per moment of a session.

Every hook is called once per enabled integration, alone, with keyword arguments. An
implementation may accept any subset of the arguments listed (pluggy passes only the ones it
names; arguments with defaults are never passed). Recording hooks return an action, a list of
actions, or ``None`` for nothing to do; they must not do I/O, read a clock they were not given,
or hold secrets. Anything else returned is a contained error attributed to the integration.

Arguments common to the recording hooks:

``session``
    :class:`msp.Session` as it stands *after* the event, including the new item.
``event``
    :class:`msp.Event`: the stored event (id, type, time, source, raw data).
``config``
    ``dict``: the integration's own validated ``[integrations.<name>]`` section, without the
    host's keys (``enabled``, ``hold``, ``use``, limits).
"""

from __future__ import annotations

from typing import Any

from msp.hooks import hookspec

# --- start-up --------------------------------------------------------------------------------


@hookspec
def msp_initialize(config: dict[str, Any]) -> Any:
    """Called once when the host loads the integration in a process, before any other hook.

    :param config: the integration's validated config section.
    :return: ``None`` to carry on; ``False`` to disable the integration for this process (the
        host shows a warning naming it). Raising has the same effect and records the error.
    """


# --- session lifecycle ----------------------------------------------------------------------


@hookspec
def msp_session_start(session: Any, event: Any, config: dict[str, Any]) -> Any:
    """A session started (``msp start``).

    :param session: the new session (status ``active``, no items yet).
    :return: actions, a list of them, or ``None``.
    """


@hookspec
def msp_update(session: Any, update: Any, event: Any, config: dict[str, Any]) -> Any:
    """Progress was recorded (``msp update``).

    :param update: :class:`msp.Update`: text, optional progress 0-100, tags.
    :return: actions, a list of them, or ``None``.
    """


@hookspec
def msp_decision(session: Any, decision: Any, event: Any, config: dict[str, Any]) -> Any:
    """A decision was recorded (``msp decide``).

    :param decision: :class:`msp.Decision`: text, rationale, alternatives, impact, category.
    :return: actions, a list of them, or ``None``.
    """


@hookspec
def msp_entity(session: Any, entity: Any, event: Any, config: dict[str, Any]) -> Any:
    """An entity was recorded (``msp entity``).

    :param entity: :class:`msp.Entity`: name, type, path, description.
    :return: actions, a list of them, or ``None``.
    """


@hookspec
def msp_blocker(session: Any, blocker: Any, resolved: bool, event: Any, config: dict[str, Any]) -> Any:
    """A blocker was raised (``msp block``) or resolved (``msp resolve``).

    :param blocker: :class:`msp.Blocker`; when resolved, ``solution`` and ``resolved_at`` are set.
    :param resolved: ``False`` when raised, ``True`` when resolved.
    :return: actions, a list of them, or ``None``.
    """


@hookspec
def msp_goal_changed(session: Any, previous: Any, event: Any, config: dict[str, Any]) -> Any:
    """The active session's goal changed (``msp goal TEXT``).

    :param session: the session as it stands, ``session.goal`` holding the new goal.
    :param previous: ``str`` or ``None``: the goal it replaced (``None`` when it had none).
    :return: actions, a list of them, or ``None``.
    """


@hookspec
def msp_item_retracted(session: Any, item: Any, kind: str, event: Any, config: dict[str, Any]) -> Any:
    """A decision, entity or blocker was taken back (``msp retract``): a wrong detection or a
    mistyped item. Nothing is deleted; the item stays in its session, marked retracted.

    :param session: the session the item belongs to (it may be closed), as it stands after
        the retraction.
    :param item: :class:`msp.Decision`, :class:`msp.Entity` or :class:`msp.Blocker`, with
        ``retracted_at`` set and ``retraction`` the reason given (or ``None``).
    :param kind: ``"decision"``, ``"entity"`` or ``"blocker"``.
    :return: actions undoing what the integration made of the item (mark a node, strike a
        line), a list of them, or ``None``.
    """


@hookspec
def msp_session_close(session: Any, event: Any, config: dict[str, Any]) -> Any:
    """The session was closed (``msp end``, or ``msp recover --close``).

    :param session: the closed session with every update, decision, entity and blocker.
    :return: actions, a list of them, or ``None``.
    """


# --- export ----------------------------------------------------------------------------------


@hookspec
def msp_export(sessions: list[Any], config: dict[str, Any]) -> Any:
    """Render sessions in the integration's own format (``msp export --integration NAME``).

    :param sessions: the sessions to export, oldest first.
    :return: a ``str`` (the rendered document) or ``None`` when the integration has no export.
    """



# --- contributions: executors, commands, set-up, checks ------------------------------------


@hookspec
def msp_register_executors() -> Any:
    """Contribute executors for new action kinds (or the built-in ones: the core registers
    http, graphql, file and powershell through this same hook).

    Called once per process when a drain, ``msp schema actions`` or the outbox needs the table
    of action kinds; never on the recording hot path.

    :return: a :class:`msp.executors.ExecutorKind`, a list of them, or ``None``. Each pairs an
        action model (a subclass of :class:`msp.Action` with a unique ``kind`` literal) with a
        factory that builds the executor. The factory is called only when an action of that
        kind is delivered, so import heavy drivers inside it, not at module level.
    """


@hookspec
def msp_register_commands(cli: Any) -> None:
    """Add subcommands to ``msp`` (as ``llm`` does).

    Called only when the invoked command is not one of msp's own (and for ``msp --help``), so
    core commands never import a plugin for this. Every installed integration is asked, enabled
    in config or not; one that fails to import or raises is a warning naming it.

    :param cli: the ``typer.Typer`` application; add commands with ``@cli.command()`` or a
        group with ``cli.add_typer(group, name=...)``. Command bodies should import what they
        use lazily.
    :return: ``None``.
    """


@hookspec
def msp_setup(config: dict[str, Any]) -> Any:
    """One-off set-up for the integration (``msp integrations setup NAME``): indexes,
    constraints, folders.

    Pure like the recording hooks: return the actions that perform it; the host queues them
    through the outbox and delivers them at once with the executors' credentials.

    :param config: the integration's validated config section.
    :return: actions, a list of them, or ``None`` when nothing needs setting up.
    """


@hookspec
def msp_doctor(config: dict[str, Any], online: bool, project_root: Any) -> Any:
    """Checks for ``msp integrations doctor [--online]``.

    Pure: return :class:`msp.Finding` items (severity ``ok``, ``info``, ``warning`` or
    ``problem``; a message; a fix) for what can be seen locally (config, folders, credential
    names set), and, when ``online`` is true, probe actions (for example a GraphQL ``viewer``
    query or a Cypher ``RETURN 1``) that change nothing visible. The host runs each probe
    through its executor with credentials and reports it as a finding. ``msp integrations
    doctor`` exits non-zero when any finding is a ``problem`` or a probe fails.

    :param online: whether the user asked for ``--online``.
    :param project_root: ``pathlib.Path`` of the project, for settings relative to it.
    :return: findings and probe actions, a list of them, or ``None``.
    """


from msp._model.events import HOOKS_BY_EVENT  # noqa: E402  (re-exported for the host)

__all__ = ["HOOKS_BY_EVENT"]
