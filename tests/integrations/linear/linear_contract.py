"""Linear's public GraphQL schema (the shared fixture) and the checks every request must pass.

``check_request`` is what a real Linear would do before running anything: parse the document,
validate it against the schema, and coerce the variables to the operation's variable types.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import graphql
from graphql.execution.values import get_variable_values
from shared_fixtures import shared_file


@cache
def linear_schema() -> graphql.GraphQLSchema:
    """Built once per test process (the SDL is 1.2 MB; building takes a second or two)."""
    return graphql.build_schema(shared_file("linear", "schema.graphql").read_text(encoding="utf-8"))


def check_request(document: str, variables: dict[str, Any] | None, operation_name: str | None = None,
                  schema: graphql.GraphQLSchema | None = None) -> list[str]:
    """Every problem Linear's server would report before executing; empty when the request is good."""
    schema = schema or linear_schema()
    try:
        ast = graphql.parse(document)
    except graphql.GraphQLError as exc:
        return [f"syntax: {exc.message}"]
    problems = [f"validation: {e.message}" for e in graphql.validate(schema, ast)]
    if problems:
        return problems
    operations = [d for d in ast.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if len(chosen) != 1:
        return [f"operation {operation_name!r}: found {len(chosen)} matching operation(s)"]
    coerced = get_variable_values(schema, chosen[0].variable_definitions or [], variables or {})
    if isinstance(coerced, list):
        return [f"variables: {e.message}" for e in coerced]
    return []
