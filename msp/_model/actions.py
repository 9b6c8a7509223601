"""Actions: what integrations return and executors deliver. Plain, serialisable data.

An integration builds an action without ``integration`` or ``idempotency_key``; the host
stamps both when it plans the action, deriving the key from (event, integration, position) so
the same event planned twice yields the same keys and the outbox stores each action once.

The set of kinds is open: every model here subclasses :class:`Action` with a ``kind`` literal,
and plugins add kinds by registering a model with its executor (``msp_register_executors``).
Code that parses or describes actions takes the table of kinds it knows (``kinds``); without
one it knows the built-in models. Parsing looks the model up by ``kind`` and validates only
that model, so no schema of the whole union is built unless ``msp schema actions`` asks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator


class Action(BaseModel):
    """Base class of every action model. A subclass declares ``kind: Literal["name"] = "name"``
    and the data its executor needs; instances are frozen and reject unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    if TYPE_CHECKING:  # each concrete model declares it as a one-value Literal
        kind: str

    integration: str = Field("", description="Set by the host: the integration that planned it.")
    idempotency_key: str = Field("", description="Set by the host: stable across re-planning.")


class CypherQuery(Action):
    """A parameterised Cypher statement for the integration's graph."""

    kind: Literal["cypher"] = "cypher"
    statement: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    database: str | None = Field(None, description="Database (Neo4j) or graph (FalkorDB); default from config.")


class AlreadyApplied(BaseModel):
    """A refusal that proves an earlier attempt of the same action landed.

    A create with a client-chosen id that is refused because the id exists, or a request
    refused as a repeat of an idempotency key the service has already applied: when such an
    answer comes back (typically after the first answer was lost), the action is done, with the
    service's answer kept as evidence in its result. Every given field must match: ``status``
    (one of these HTTP statuses), ``code`` (a GraphQL error's ``extensions.code``) and
    ``message`` (text the GraphQL error message, or the HTTP body, contains; case-insensitive).
    Integrations declare these as data on their actions (e.g. as dicts), so the core names no
    service.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    status: list[int] = Field(default_factory=list, description="HTTP statuses it comes with; empty: any.")
    code: str | None = Field(None, min_length=1, max_length=100, description="GraphQL extensions.code.")
    message: str | None = Field(None, min_length=3, max_length=200,
                                description="Text the error message (or HTTP body) contains, any case.")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("message must not be blank")
        return value

    def model_post_init(self, _context: Any) -> None:
        if not (self.status or self.code or self.message):
            raise ValueError("an already_applied refusal needs a status, a code or a message to match")


_ALREADY_APPLIED_HELP = (
    "Refusals that prove an earlier attempt landed (a duplicate client-chosen id): recorded as done, "
    "with the answer as evidence."
)


class GraphQLRequest(Action):
    """A GraphQL operation POSTed to the integration's endpoint. Values go in ``variables``."""

    kind: Literal["graphql"] = "graphql"
    document: str = Field(min_length=1)
    variables: dict[str, Any] = Field(default_factory=dict)
    operation_name: str | None = None
    already_applied: list[AlreadyApplied] = Field(default_factory=list, max_length=20,
                                                  description=_ALREADY_APPLIED_HELP)


class HttpRequest(Action):
    """A JSON request to the integration's base URL (or another URL-valued config key)."""

    kind: Literal["http"] = "http"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str = Field("", description="Relative to the URL named by url_from; never a full URL.")
    url_from: str = Field(
        "base_url",
        description="Config key holding the URL: a plain value, or a secret named by <key>_env / <key>_keyring.",
    )
    json_body: Any = Field(None, alias="json", description="Serialised as the JSON body.")
    headers: dict[str, str] = Field(default_factory=dict, description="Non-secret headers only.")
    expected_status: list[int] = Field(default_factory=list, description="Empty means any 2xx.")
    already_applied: list[AlreadyApplied] = Field(default_factory=list, max_length=20,
                                                  description=_ALREADY_APPLIED_HELP)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if "://" in value or value.startswith("//"):
            raise ValueError("path must be relative to the configured URL, not a full URL")
        return value


class FileWrite(Action):
    """Write a file inside the integration's root folder, atomically."""

    kind: Literal["file"] = "file"
    path: str = Field(min_length=1, description="Relative to the integration's root; never outside it.")
    root_from: str = Field("root", description="Config key holding the root folder (e.g. vault).")
    content: str
    mode: Literal["create", "replace", "append", "section", "section_append"] = "replace"
    section: str | None = Field(
        None, description="For mode=section: the id of the managed block to replace inside the file; for "
        "mode=section_append: the block to add content at the end of (unless it already holds it).",
    )


class PowerShellCall(Action):
    """A function of a PowerShell integration module, run by the bridge at dispatch."""

    kind: Literal["powershell"] = "powershell"
    function: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z][A-Za-z0-9]*$")
    arguments: dict[str, Any] = Field(default_factory=dict)


#: The models msp itself defines, by kind. Their executors register through the core plugin
#: (``msp._executors.builtin``); ``cypher``'s through the neo4j integration.
BUILTIN_ACTIONS: dict[str, type[Action]] = {
    "cypher": CypherQuery,
    "graphql": GraphQLRequest,
    "http": HttpRequest,
    "file": FileWrite,
    "powershell": PowerShellCall,
}
ACTION_TYPES: tuple[type[Action], ...] = tuple(BUILTIN_ACTIONS.values())

KindTable = Mapping[str, type[Action]]


class UnknownActionKind(ValueError):
    """An action of a kind no installed plugin registers."""

    def __init__(self, kind: object) -> None:
        super().__init__(f"action kind {kind!r} is not known: no installed plugin registers it")
        self.kind = kind


def kind_of(model: type[Action]) -> str:
    """The ``kind`` literal a model declares; TypeError when it declares none."""
    field = model.model_fields.get("kind") if isinstance(model, type) and issubclass(model, Action) else None
    if field is None or not isinstance(field.default, str) or not field.default:
        raise TypeError(
            f"{getattr(model, '__name__', model)!r} is not an action model: subclass msp.Action and declare "
            'kind: Literal["name"] = "name"'
        )
    return field.default


def action_from_dict(data: Mapping[str, Any], kinds: KindTable | None = None) -> Any:
    """Rebuild an action from its stored form (or a hook's dict) by its ``kind``.

    Raises :class:`UnknownActionKind` for a kind not in ``kinds`` (default: the built-ins) and
    pydantic's ``ValidationError`` for data its model rejects.
    """
    table = BUILTIN_ACTIONS if kinds is None else kinds
    kind = data.get("kind")
    model = table.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise UnknownActionKind(kind)
    return model.model_validate(dict(data))


def action_to_dict(action: Action) -> dict[str, Any]:
    return action.model_dump(mode="json", by_alias=True)


def action_adapter(kinds: KindTable | None = None) -> TypeAdapter[Any]:
    """A TypeAdapter of the discriminated union of ``kinds`` (built only when asked for)."""
    models = tuple((BUILTIN_ACTIONS if kinds is None else kinds).values())
    if not models:
        raise ValueError("no action kinds are registered")
    if len(models) == 1:
        return TypeAdapter(models[0])
    union: Any = Union[models]  # noqa: UP007  (a union built at run time from the table)
    return TypeAdapter(Annotated[union, Field(discriminator="kind")])


def actions_json_schema(kinds: KindTable | None = None) -> dict[str, Any]:
    """The JSON Schema of every action kind, as ``msp schema actions`` prints it."""
    schema = action_adapter(kinds).json_schema(by_alias=True)
    schema["title"] = "msp action"
    return schema


def idempotency_key(event_id: str, integration: str, position: int | str) -> str:
    digest = hashlib.sha256(f"{event_id}\x1f{integration}\x1f{position}".encode()).hexdigest()
    return digest[:32]


def stamp(action: Action, integration: str, key: str) -> Any:
    return action.model_copy(update={"integration": integration, "idempotency_key": key})
