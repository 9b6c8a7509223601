"""Actions: what integrations return and executors deliver. Plain, serialisable data.

An integration builds an action without ``integration`` or ``idempotency_key``; the host
stamps both when it plans the action, deriving the key from (event, integration, position) so
the same event planned twice yields the same keys and the outbox stores each action once.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    integration: str = Field("", description="Set by the host: the integration that planned it.")
    idempotency_key: str = Field("", description="Set by the host: stable across re-planning.")


class CypherQuery(_Action):
    """A parameterised Cypher statement for the integration's graph."""

    kind: Literal["cypher"] = "cypher"
    statement: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    database: str | None = Field(None, description="Database (Neo4j) or graph (FalkorDB); default from config.")


class GraphQLRequest(_Action):
    """A GraphQL operation POSTed to the integration's endpoint. Values go in ``variables``."""

    kind: Literal["graphql"] = "graphql"
    document: str = Field(min_length=1)
    variables: dict[str, Any] = Field(default_factory=dict)
    operation_name: str | None = None


class HttpRequest(_Action):
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

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if "://" in value or value.startswith("//"):
            raise ValueError("path must be relative to the configured URL, not a full URL")
        return value


class FileWrite(_Action):
    """Write a file inside the integration's root folder, atomically."""

    kind: Literal["file"] = "file"
    path: str = Field(min_length=1, description="Relative to the integration's root; never outside it.")
    root_from: str = Field("root", description="Config key holding the root folder (e.g. vault).")
    content: str
    mode: Literal["create", "replace", "append", "section"] = "replace"
    section: str | None = Field(
        None, description="For mode=section: the id of the managed block to replace inside the file."
    )


class PowerShellCall(_Action):
    """A function of a PowerShell integration module, run by the bridge at dispatch."""

    kind: Literal["powershell"] = "powershell"
    function: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z][A-Za-z0-9]*$")
    arguments: dict[str, Any] = Field(default_factory=dict)


Action = Annotated[
    CypherQuery | GraphQLRequest | HttpRequest | FileWrite | PowerShellCall,
    Field(discriminator="kind"),
]
ACTION_TYPES: tuple[type[_Action], ...] = (CypherQuery, GraphQLRequest, HttpRequest, FileWrite, PowerShellCall)
_adapter: TypeAdapter[Any] | None = None


def action_adapter() -> TypeAdapter[Any]:
    global _adapter
    if _adapter is None:
        _adapter = TypeAdapter(Action)
    return _adapter


def action_from_dict(data: dict[str, Any]) -> Any:
    """Rebuild an action from its stored form."""
    return action_adapter().validate_python(data)


def action_to_dict(action: _Action) -> dict[str, Any]:
    return action.model_dump(mode="json", by_alias=True)


def actions_json_schema() -> dict[str, Any]:
    """The JSON Schema of every action kind, as ``msp schema actions`` prints it."""
    schema = action_adapter().json_schema(by_alias=True)
    schema["title"] = "msp action"
    return schema


def idempotency_key(event_id: str, integration: str, position: int | str) -> str:
    digest = hashlib.sha256(f"{event_id}\x1f{integration}\x1f{position}".encode()).hexdigest()
    return digest[:32]


def stamp(action: _Action, integration: str, key: str) -> Any:
    return action.model_copy(update={"integration": integration, "idempotency_key": key})
